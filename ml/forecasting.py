"""Predicted failure: the probability that an alert rule (its query, reducer, window, condition,
threshold and ``for``) fires within the next hours.

The futures come from the anomaly model of the rule's query when there is a ready one (its
detector's own forecast distribution, each series from where its last scored bucket left it);
otherwise a forecast-residual detector is fitted on the last week of the query, read through
``events.query``, for this answer only. Each group's probability comes from ``ml.failure``;
the rule's is that any group fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from django.utils import timezone

from projects.models import Project

from . import failure, storage
from .detectors import NotEnoughData, create, restore
from .models import Status
from .selectors import model_for_query
from .series import fetch, label, whole_buckets_end

FIT_DAYS = 7
FIT_STEP = 300
MAX_GROUPS = 20


def failure_probability(project: Project, *, query: str, reducer: str, window_minutes: int,
                        condition: str, threshold: float, for_seconds: int = 0,
                        hours: int = 24, now: datetime | None = None) -> dict:
    """``{"probability", "hours", "source", "step", "groups": [{tags, label, probability,
    median_hours_to_fire, forecast: [[ms, p05, p50, p95]]}]}``."""
    now = now or timezone.now()
    rule = failure.Rule(reducer, window_minutes, condition, float(threshold), for_seconds)
    rng = np.random.default_rng(12345)  # the same answer for the same state
    model = model_for_query(project, query)
    futures = _from_model(model, now, hours, rng) if model is not None else []
    source = {"kind": "model", "model": model.pk, "name": model.name} if futures else None
    if not futures:
        futures = _fitted(project, query, now, hours, rng)
        source = {"kind": "fitted", "days": FIT_DAYS}
    groups = []
    for tags, times, paths, step in futures[:MAX_GROUPS]:
        found = failure.probability(paths, rule, step)
        drawn = failure.fan(paths)
        steps = found["median_steps_to_fire"]
        groups.append({
            "tags": tags, "label": label(tags), "probability": round(found["probability"], 4),
            "median_hours_to_fire": None if steps is None else round(steps * step / 3600, 2),
            "forecast": [[int(t) * 1000, round(float(a), 6), round(float(b), 6),
                          round(float(c), 6)]
                         for t, a, b, c in zip(times, drawn["p05"], drawn["p50"], drawn["p95"],
                                               strict=True)]})
    total = failure.combined([g["probability"] for g in groups])
    return {"probability": round(total, 4), "hours": hours, "source": source,
            "step": futures[0][3] if futures else None, "paths": failure.PATHS,
            "groups": groups}


def _times(start: datetime, hours: int, step: int) -> np.ndarray:
    first = int(start.timestamp()) // step * step
    return np.arange(first, first + hours * 3600, step, dtype=np.int64)


def _from_model(model, now: datetime, hours: int, rng) -> list:
    out = []
    step = model.step_seconds
    for row in model.series.filter(status=Status.READY).order_by("key"):
        detector = restore({**storage.trained_state(row.pk, row.version, row.state),
                            "rolling": storage.load(row.rolling)})
        start = row.scored_until or whole_buckets_end(now, step)
        times = _times(start, hours, step)
        paths = detector.simulate(times, failure.PATHS, rng)
        if paths is not None:
            out.append((row.tags, times, paths, step))
    return out


def _fitted(project: Project, query: str, now: datetime, hours: int, rng) -> list:
    out = []
    end = whole_buckets_end(now, FIT_STEP)
    for item in fetch(project, query, start=now - timedelta(days=FIT_DAYS), end=end,
                      step=FIT_STEP)[:MAX_GROUPS]:
        try:
            detector = create("forecast").fit(item.series)
        except NotEnoughData:
            continue
        times = _times(datetime.fromtimestamp(int(item.series.times[-1]) + FIT_STEP, UTC)
                       if len(item.series) else end, hours, FIT_STEP)
        out.append((item.tags, times, detector.simulate(times, failure.PATHS, rng), FIT_STEP))
    return out
