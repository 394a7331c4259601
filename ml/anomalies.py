"""From scored buckets to stored anomalies: an anomaly opens at the first anomalous bucket of a
series, takes in the following ones while they come within the quiet gap
(``detectors.walk.quiet_seconds``: the same grouping the benchmark counts alarms by), and closes
once the series has stayed normal that long. Its peak, band, values and explanation follow the
highest-scoring bucket; for a grouped model, ``groups`` says which tag values carried it.

These are writes of the scoring and training services, inside their transactions; what changed
is announced to the project's pages after the commit."""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
from celery import current_app
from django.db import transaction

from events import live

from .detectors import Scores
from .detectors.walk import quiet_seconds
from .models import Anomaly, ModelSeries, Severity

logger = logging.getLogger(__name__)
MAX_POINTS = 500
MAX_REASONS = 6
RELATE_TASK = "ml.relate_anomaly"
MAX_RELATED = 20  # anomalies of one save whose related series are looked for


def severity(peak: float) -> str:
    """How far past the band's edge the peak went (1.0 is the edge)."""
    if peak >= 3:
        return Severity.HIGH
    if peak >= 1.5:
        return Severity.MEDIUM
    return Severity.LOW


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


def _number(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _point(scores: Scores, i: int) -> list:
    return [int(scores.times[i]) * 1000, *(_number(getattr(scores, f)[i]) for f in
                                           ("values", "expected", "lower", "upper", "score"))]


class Tracker:
    """Follows the anomalies of the series of one model through newly scored buckets."""

    def __init__(self, model, step: int, *, backfill: bool = False):
        self.model = model
        self.step = step
        self.quiet = timedelta(seconds=quiet_seconds(step))
        self.backfill = backfill
        self.touched: dict[int, Anomaly] = {}
        self.scores: dict[int, tuple[ModelSeries, Scores]] = {}
        self.open: dict[int, Anomaly] = {}
        for anomaly in (Anomaly.objects.filter(model=model, ended_at__isnull=True)
                        .order_by("started_at")):
            self.open[anomaly.series_id] = anomaly

    def take(self, series: ModelSeries, scores: Scores) -> None:
        """Buckets of ``series`` just scored, in time order."""
        self.scores[series.pk] = (series, scores)
        current = self.open.get(series.pk)
        for i in range(len(scores)):
            at = _moment(scores.times[i])
            if scores.anomaly[i]:
                if current is not None and at - current.last_seen_at > self.quiet:
                    self._close(current)
                    current = None
                if current is None:
                    current = self._new(series, scores, i)
                else:
                    self._extend(current, scores, i)
            elif current is not None:
                if at + timedelta(seconds=self.step) - current.last_seen_at > self.quiet:
                    self._close(current)
                    current = None
                else:
                    self._append(current, scores, i)
        if current is None:
            self.open.pop(series.pk, None)
        else:
            self.open[series.pk] = current

    def _new(self, series: ModelSeries, scores: Scores, i: int) -> Anomaly:
        at = _moment(scores.times[i])
        anomaly = Anomaly(project_id=self.model.project_id, model=self.model, series=series,
                          tags=series.tags, started_at=at, peak_at=at,
                          last_seen_at=at + timedelta(seconds=self.step),
                          peak_score=-1.0, backfill=self.backfill)
        self._peak(anomaly, scores, i)
        anomaly.points = [_point(scores, i)]
        self.touched[id(anomaly)] = anomaly
        return anomaly

    def _append(self, anomaly: Anomaly, scores: Scores, i: int) -> None:
        if len(anomaly.points) < MAX_POINTS:
            anomaly.points = [*anomaly.points, _point(scores, i)]
            self.touched[id(anomaly)] = anomaly

    def _extend(self, anomaly: Anomaly, scores: Scores, i: int) -> None:
        anomaly.last_seen_at = _moment(scores.times[i]) + timedelta(seconds=self.step)
        self._append(anomaly, scores, i)
        self._peak(anomaly, scores, i)
        self.touched[id(anomaly)] = anomaly

    def _peak(self, anomaly: Anomaly, scores: Scores, i: int) -> None:
        score = float(np.nan_to_num(scores.score[i]))
        if score <= anomaly.peak_score:
            return
        anomaly.peak_score = score
        anomaly.peak_at = _moment(scores.times[i])
        anomaly.severity = severity(score)
        anomaly.value = _number(scores.values[i])
        anomaly.expected = _number(scores.expected[i])
        anomaly.lower = _number(scores.lower[i])
        anomaly.upper = _number(scores.upper[i])
        anomaly.explanation = [c.as_dict() for c in scores.reasons.get(i, [])[:MAX_REASONS]]

    def _close(self, anomaly: Anomaly) -> None:
        anomaly.ended_at = anomaly.last_seen_at
        self.touched[id(anomaly)] = anomaly

    def save(self) -> list[Anomaly]:
        """Store what changed (the caller's transaction) and announce it after the commit."""
        changed = list(self.touched.values())
        self._groups(changed)
        fresh = [a for a in changed if a.pk is None or a.ended_at is not None]
        for anomaly in changed:
            anomaly.save()
        if changed:
            project_id = self.model.project_id
            message = {"type": "live.anomalies", "model": self.model.pk,
                       "anomalies": [compact(a) for a in changed[-20:]]}
            transaction.on_commit(lambda: live.publish_sync(project_id, message))
            ids = [a.pk for a in sorted(fresh, key=lambda a: -a.peak_score)[:MAX_RELATED]]
            transaction.on_commit(lambda: _relate(ids))
        return changed

    def _groups(self, changed: list[Anomaly]) -> None:
        """For a grouped model, the tag values that carried each anomaly: every series' highest
        score over the anomaly's span, shared out by tag value."""
        if len(self.scores) < 2:
            return
        for anomaly in changed:
            start = anomaly.started_at.timestamp()
            end = anomaly.last_seen_at.timestamp()
            weights: dict[tuple[str, str], float] = defaultdict(float)
            for series, scores in self.scores.values():
                window = scores.score[(scores.times >= start) & (scores.times < end)]
                window = window[np.isfinite(window)]
                peak = float(window.max()) if len(window) else 0.0
                for tag, value in (series.tags or {}).items():
                    weights[(tag, str(value))] += max(0.0, peak)
            total = sum(weights.values())
            if total <= 0:
                continue
            ranked = sorted(weights.items(), key=lambda item: -item[1])[:10]
            anomaly.groups = [{"tag": tag, "value": value, "weight": round(w / total, 4)}
                              for (tag, value), w in ranked]


def _relate(ids: list[int]) -> None:
    """Ask a worker what moved with new and just closed anomalies (by task name)."""
    for pk in ids:
        try:
            current_app.send_task(RELATE_TASK, args=[pk], expires=3600)
        except Exception:
            logger.warning("could not ask what moved with anomaly %s", pk, exc_info=True)


def compact(anomaly: Anomaly) -> dict:
    """What the pages get live: JSON-safe."""
    return {"id": anomaly.pk, "model": anomaly.model_id, "series": anomaly.series_id,
            "tags": anomaly.tags, "started_at": anomaly.started_at.isoformat(),
            "ended_at": anomaly.ended_at.isoformat() if anomaly.ended_at else None,
            "peak_score": round(anomaly.peak_score, 3), "severity": anomaly.severity,
            "summary": anomaly.explanation[0]["text"] if anomaly.explanation else ""}
