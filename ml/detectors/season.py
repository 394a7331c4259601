"""The seasonal profile a series follows, if any: the robust median and spread of each slot of
the day or the week, learned from the training window.

Which season (none, daily, weekly) is decided on the data: a profile learned from half of the
cycles must explain the other half (and the other way round) clearly better than a flat line —
out of sample, so that a profile of 2,016 weekly slots cannot win by memorising noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import DAY, WEEK, robust_scale, scale_floor

MIN_GAIN = 0.3  # share of the mean absolute deviation a season must explain, out of sample
WEEKLY_MARGIN = 0.05  # weekly over daily: more slots, so it must explain clearly more
MIN_POOL = 10  # values per slot's median (neighbouring slots are pooled)
SPREAD_POOL = 60  # values per slot's spread
NAMES = {0: "", DAY: "hour-of-day", WEEK: "hour-of-week"}


@dataclass
class Season:
    period: int  # seconds; 0 for none
    slot: int  # seconds per slot
    median: np.ndarray  # per slot
    scale: np.ndarray  # robust sigma per slot, floored
    gain: float = 0.0

    @property
    def name(self) -> str:
        return NAMES.get(self.period, f"{self.period // 3600} h")

    @property
    def what(self) -> str:
        """How explanations name the baseline: "the hour-of-week median"."""
        return f"the {self.name} median" if self.period else "the median"

    def index(self, times: np.ndarray) -> np.ndarray:
        if not self.period:
            return np.zeros(len(times), dtype=np.int64)
        return (times % self.period) // self.slot

    def expected(self, times: np.ndarray) -> np.ndarray:
        return self.median[self.index(times)]

    def spread(self, times: np.ndarray) -> np.ndarray:
        return self.scale[self.index(times)]

    def as_dict(self) -> dict:
        return {"period": self.period, "slot": self.slot, "median": self.median,
                "scale": self.scale, "gain": self.gain}

    @classmethod
    def from_dict(cls, data: dict) -> Season:
        return cls(**data)


def slot_seconds(period: int, step: int) -> int:
    """Slots of 5 minutes for a day, of 30 for a week, never finer than the data."""
    wanted = 300 if period == DAY else 1800
    size = max(step, wanted)
    while period % size:
        size += 1
    return size


def _profile(times, values, period, slot, pool_min=MIN_POOL,
             spread: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Median and robust sigma per slot, pooling neighbouring slots until each has ``pool_min``
    values (slots without data take the overall median)."""
    slots = period // slot if period else 1
    index = (times % period) // slot if period else np.zeros(len(times), dtype=np.int64)
    counts = np.bincount(index, minlength=slots)
    width = 0
    while width < slots // 2 and np.min(_pooled_counts(counts, width)) < pool_min:
        width += 1
    # One row per slot, its values padded with NaN; a pool is the rows of its neighbours.
    order = np.argsort(index, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    rows = np.full((slots, max(1, int(counts.max()))), np.nan)
    column = np.arange(len(index)) - starts[index[order]]
    rows[index[order], column] = values[order]
    median = _row_medians(_pool(rows, width))
    median = np.where(np.isfinite(median), median, float(np.median(values)))
    if not spread:
        return median, np.zeros(slots)
    # A spread needs more values than a median to be steady: the residuals of more
    # neighbouring slots are pooled for it.
    while width < slots // 2 and np.min(_pooled_counts(counts, width)) < SPREAD_POOL:
        width += 1
    scale = 1.4826 * _row_medians(np.abs(_pool(rows - median[:, None], width)))
    return median, np.nan_to_num(scale)


def _pool(rows: np.ndarray, width: int) -> np.ndarray:
    """Each slot's row joined with the rows of its ``width`` neighbours on either side."""
    return np.concatenate([np.roll(rows, -d, axis=0) for d in range(-width, width + 1)],
                          axis=1)


def _row_medians(rows: np.ndarray) -> np.ndarray:
    """The median of each row's finite values (NaN for a row without any)."""
    ordered = np.sort(rows, axis=1)  # NaN last
    n = np.isfinite(ordered).sum(axis=1)
    last = ordered.shape[1] - 1
    low = np.take_along_axis(ordered, (np.maximum(n - 1, 0) // 2)[:, None], axis=1)[:, 0]
    high = np.take_along_axis(ordered, np.minimum(n // 2, last)[:, None], axis=1)[:, 0]
    return np.where(n > 0, (low + high) / 2, np.nan)


def _pooled_counts(counts: np.ndarray, width: int) -> np.ndarray:
    total = counts.copy()
    for d in range(1, width + 1):
        total = total + np.roll(counts, d) + np.roll(counts, -d)
    return total


def _gain(times, values, period, slot) -> float:
    """Out-of-sample share of the mean absolute deviation that a profile explains: learned on
    the even cycles and tried on the odd ones, and the other way round."""
    cycle = times // period
    even = cycle % 2 == 0
    if even.sum() < 10 or (~even).sum() < 10:
        return 0.0
    errors = []
    for train in (even, ~even):
        median, _ = _profile(times[train], values[train], period, slot, pool_min=3,
                             spread=False)
        test = ~train
        idx = (times[test] % period) // slot
        errors.append(np.abs(values[test] - median[idx]))
    flat = np.abs(values - np.median(values)).mean()
    if flat <= 0:
        return 0.0
    return float(1 - np.concatenate(errors).mean() / flat)


def fit_season(times: np.ndarray, values: np.ndarray, step: int,
               period: int | None = None) -> Season:
    """The season of ``values`` (finite ones only): ``period`` forces one (0: none)."""
    keep = np.isfinite(values)
    times, values = times[keep], values[keep]
    span = int(times[-1] - times[0]) if len(times) else 0
    best, best_gain = 0, 0.0
    if period is None:
        for candidate, cycles in ((DAY, 2), (WEEK, 3)):
            if span < cycles * candidate or candidate < 20 * step:
                continue
            gain = _gain(times, values, candidate, slot_seconds(candidate, step))
            margin = WEEKLY_MARGIN if candidate == WEEK and best else 0.0
            if gain >= MIN_GAIN and gain > best_gain + margin:
                best, best_gain = candidate, gain
    else:
        best = period
    slot = slot_seconds(best, step) if best else 1
    median, scale = _profile(times, values, best, slot)
    floor = max(scale_floor(values), 0.1 * float(np.median(scale)) if len(scale) else 0.0)
    if best:
        # A slot's spread is noisy with few values: never below a quarter of the typical one.
        floor = max(floor, 0.25 * robust_scale(values - median[(times % best) // slot]))
    return Season(best, slot, median, np.maximum(scale, floor), best_gain)
