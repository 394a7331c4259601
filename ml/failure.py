"""The probability that an alert rule fires within the next hours, from a forecast's
distribution: many possible futures of the series are drawn (``Detector.simulate``), the rule
is applied to each the way the evaluator applies it — its reducer over a sliding window, its
condition against its threshold, held for ``for`` — and the share of futures in which it fires
is the probability. Plain numpy, no Django.

The futures are at the model's step, so a rule's window shorter than one step is one step, and
a sum over a window sums the model's buckets: an estimate, said so where it is shown."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PATHS = 2000


@dataclass(frozen=True)
class Rule:
    reducer: str  # last, avg, min, max, sum, p95
    window_minutes: int
    condition: str  # gt, gte, lt, lte, eq, ne
    threshold: float
    for_seconds: int = 0


def reduce_windows(paths: np.ndarray, reducer: str, size: int) -> np.ndarray:
    """The reducer over the window ending at each step (the window is cut at the start)."""
    if size <= 1 or reducer == "last":
        return paths
    padded = np.concatenate([np.repeat(paths[:, :1], size - 1, axis=1), paths], axis=1)
    view = sliding_window_view(padded, size, axis=1)
    if reducer == "avg":
        return view.mean(axis=2)
    if reducer == "min":
        return view.min(axis=2)
    if reducer == "max":
        return view.max(axis=2)
    if reducer == "sum":
        return view.sum(axis=2)
    if reducer == "p95":  # nearest rank, like the evaluator
        rank = max(1, math.ceil(0.95 * size)) - 1
        return np.sort(view, axis=2)[:, :, rank]
    raise ValueError(f"unknown reducer {reducer!r}")


def holds(values: np.ndarray, condition: str, threshold: float) -> np.ndarray:
    return {"gt": values > threshold, "gte": values >= threshold, "lt": values < threshold,
            "lte": values <= threshold, "eq": values == threshold,
            "ne": values != threshold}[condition]


def fired(paths: np.ndarray, rule: Rule, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Per path: whether the rule fires, and the index of the step where it first does."""
    size = max(1, round(rule.window_minutes * 60 / step))
    true = holds(reduce_windows(paths, rule.reducer, size), rule.condition, rule.threshold)
    needed = math.ceil(rule.for_seconds / step) + 1  # still true `for` seconds after it began
    if needed > 1:
        run = np.zeros(true.shape[0], dtype=int)
        held = np.zeros_like(true)
        for j in range(true.shape[1]):
            run = np.where(true[:, j], run + 1, 0)
            held[:, j] = run >= needed
        true = held
    fires = true.any(axis=1)
    first = np.where(fires, true.argmax(axis=1), -1)
    return fires, first


def probability(paths: np.ndarray, rule: Rule, step: int) -> dict:
    """The share of ``paths`` (futures x steps) in which ``rule`` fires, and when."""
    fires, first = fired(paths, rule, step)
    share = float(fires.mean()) if len(fires) else 0.0
    when = first[fires]
    return {"probability": share,
            "median_steps_to_fire": float(np.median(when)) if len(when) else None}


def fan(paths: np.ndarray) -> dict[str, np.ndarray]:
    """The futures' median and 5th / 95th percentiles at each step, for drawing."""
    low, mid, high = np.percentile(paths, [5, 50, 95], axis=0)
    return {"p05": low, "p50": mid, "p95": high}


def combined(probabilities: list[float]) -> float:
    """That at least one of several groups fires, taking them as independent."""
    keep = 1.0
    for p in probabilities:
        keep *= 1.0 - p
    return 1.0 - keep
