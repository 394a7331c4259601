"""Scoring a model's new buckets: one query of the engine for the buckets after the watermark of
its series, each series' detector restored (the trained part from the per-process cache, the
rolling part from its row), the new buckets scored, and the watermark, the rolling part, the
anomalies and the band moved forward — in one transaction, with the rows locked so that two
workers never judge the same bucket twice. A group the query has not shown before gets a series
of its own and a training request."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import numpy as np
from django.db import transaction
from django.utils import timezone

from . import band, storage
from .anomalies import Tracker
from .detectors import Series, restore
from .models import AnomalyModel, ModelSeries, Status
from .series import fetch, group_key, whole_buckets_end
from .training import request_training

logger = logging.getLogger(__name__)


def score(model: AnomalyModel, *, now: datetime | None = None) -> int:
    """Score what is new for ``model``; the number of buckets scored."""
    now = now or timezone.now()
    step = model.step_seconds
    end = whole_buckets_end(now, step)
    marks = list(model.series.filter(status=Status.READY).values_list("scored_until", flat=True))
    if not marks:
        return 0
    start = min((m for m in marks if m is not None), default=end)
    if end <= start:
        return 0
    found = {group_key(f.tags): f for f in fetch(model.project, model.query, start=start,
                                                 end=end, step=step)}
    scored, items = 0, []
    with transaction.atomic():
        rows = {row.key: row for row in model.series.select_for_update(skip_locked=True)}
        tracker = Tracker(model, step)
        for key, fetched in found.items():
            row = rows.get(key)
            if row is None:
                if not model.series.filter(key=key).exists():  # locked elsewhere is not new
                    ModelSeries.objects.create(model=model, key=key, tags=fetched.tags)
                    request_training(model)
                continue
            if row.status != Status.READY or row.scored_until is None:
                continue
            fresh = fetched.series.times >= int(row.scored_until.timestamp())
            if not fresh.any():
                continue
            points = _only(fetched.series, fresh)
            detector = restore({**storage.trained_state(row.pk, row.version, row.state),
                                "rolling": storage.load(row.rolling)})
            scores = detector.score(points)
            tracker.take(row, scores)
            _move(row, scores, detector, step)
            items += band.points(model.pk, row.pk, row.tags, scores)
            scored += len(scores)
        tracker.save()
        AnomalyModel.objects.filter(pk=model.pk).update(last_scored_at=now)
    if items:
        project = model.project
        transaction.on_commit(lambda: band.write(project, items))
    return scored


def _only(series: Series, keep: np.ndarray) -> Series:
    return Series(series.times[keep], series.values[keep],
                  None if series.others is None else series.others[keep], series.other_names)


def _move(row: ModelSeries, scores, detector, step: int) -> None:
    row.rolling = storage.dump(detector.rolling)
    row.scored_until = datetime.fromtimestamp(int(scores.times[-1]) + step, UTC)
    finite = np.isfinite(scores.score)
    if finite.any():
        at = int(np.flatnonzero(finite)[-1])
        row.last_score = float(scores.score[at])
        row.last_value = float(scores.values[at])
        row.last_expected = _finite(scores.expected[at])
        row.last_lower = _finite(scores.lower[at])
        row.last_upper = _finite(scores.upper[at])
    row.save(update_fields=["rolling", "scored_until", "last_score", "last_value",
                            "last_expected", "last_lower", "last_upper"])


def _finite(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
