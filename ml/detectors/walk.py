"""Running a detector over a whole history the way a model runs: trained on what was seen so far
(first once a day of data is there, then every night on the training window), scoring what
comes next — no point is judged with anything that came after it. The CSV command, the
benchmark and a model's first backfill all go through ``walk_forward``; ``episodes`` groups the
anomalous points into anomalies (one alarm each)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .base import DAY, Detector, NotEnoughData, Scores, Series

TRAINING_DAYS = 30


def quiet_seconds(step: int) -> int:
    """How long a series must stay normal before an anomaly counts as over: 5 points, and at
    least 30 minutes."""
    return max(5 * step, 1800)


@dataclass
class Episode:
    """An anomaly: indices of its first and last anomalous point and of its peak."""

    start: int
    end: int
    peak: int


def episodes(scores: Scores, *, quiet: int | None = None) -> list[Episode]:
    found: list[Episode] = []
    flagged = np.flatnonzero(scores.anomaly)
    if not len(flagged):
        return found
    gap = quiet if quiet is not None else quiet_seconds(_step(scores.times))
    start = last = int(flagged[0])
    for i in flagged[1:].tolist():
        if scores.times[i] - scores.times[last] > gap:
            found.append(_episode(scores, start, last))
            start = i
        last = i
    found.append(_episode(scores, start, last))
    return found


def _episode(scores: Scores, start: int, end: int) -> Episode:
    window = np.nan_to_num(scores.score[start:end + 1], nan=-1.0)
    return Episode(start, end, start + int(np.argmax(window)))


def _step(times: np.ndarray) -> int:
    return max(1, int(np.median(np.diff(times)))) if len(times) > 1 else 60


def concat(parts: list[Scores]) -> Scores:
    if not parts:
        return Scores.empty()
    reasons, offset = {}, 0
    for part in parts:
        reasons.update({i + offset: r for i, r in part.reasons.items()})
        offset += len(part)

    def join(name):
        return np.concatenate([getattr(p, name) for p in parts])

    return Scores(join("times"), join("values"), join("score"), join("expected"),
                  join("lower"), join("upper"), join("anomaly"), reasons)


def fit_points(times: np.ndarray, at: int, days: int) -> int:
    """Index of the first point of the training window that ends before index ``at``."""
    return int(np.searchsorted(times, times[at] - days * DAY))


def walk_forward(make: Callable[[], Detector], series: Series, *,
                 training_days: int = TRAINING_DAYS, keep: np.ndarray | None = None,
                 min_history: int = DAY) -> tuple[Scores, Detector]:
    """Scores of every point of ``series`` (blank until the first training), and the detector
    as the last night left it and the last point moved it. ``keep`` masks out of training the
    points people said were not anomalies."""
    times = series.times
    detector = make()
    training = series if keep is None else series.masked(keep)
    if not len(times):
        return Scores.empty(), detector
    first = int(np.searchsorted(times, times[0] + min_history))
    nights = np.flatnonzero(np.diff(times // DAY)) + 1
    cuts = sorted({0, first, *nights.tolist(), len(times)})
    parts = []
    for a, b in itertools.pairwise(cuts):
        if a >= first:
            with contextlib.suppress(NotEnoughData):  # not yet: the last training goes on
                detector = make().fit(training.slice(fit_points(times, a, training_days), a))
        parts.append(detector.score(series.slice(a, b)))
    return concat(parts), detector
