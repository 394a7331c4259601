"""The series maths of the query functions (``spec.FUNCTIONS``): pure functions of one series'
values (``None`` for an empty bucket) and its bucket starts — no database, no Django.

The engine runs the inner expression first (through the executor, on the table the planner chose
for it), over the range moved back by ``lookback`` buckets for the windowed functions, so their
first bucket is computed from a full window; it trims those buckets off afterwards. Null rules:
windows (moving_avg, rolling) use the non-null values they hold and are null when they hold none
(``count`` is 0 then); derivative, rate and increase are null when either neighbour is; cumsum skips
nulls and is null where its input is; abs, log, clamp keep nulls; fill fills them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Values = list[float | None]


def lookback(name: str, params: Sequence) -> int:
    """How many buckets before the range the function reads to fill its first bucket."""
    if name in ("moving_avg", "rolling"):
        return params[0] - 1
    if name in ("derivative", "rate", "increase"):
        return 1
    return 0


def transform(name: str, params: Sequence, values: Values, times: list[datetime]) -> Values:
    """``name(values, *params)`` bucket by bucket (every function but timeshift, top, bottom,
    which move or pick whole series and are the engine's)."""
    if name == "moving_avg":
        return window(values, params[0], "avg")
    if name == "rolling":
        return window(values, params[0], params[1])
    if name == "derivative":
        return _per_second(_pairs(values, lambda a, b: b - a), times)
    if name == "increase":
        return _pairs(values, _counter_increase)
    if name == "rate":
        return _per_second(_pairs(values, _counter_increase), times)
    if name == "cumsum":
        return cumsum(values)
    if name == "abs":
        return [None if v is None else abs(v) for v in values]
    if name == "log":
        return [math.log10(v) if v is not None and v > 0 else None for v in values]
    if name == "clamp_min":
        return [None if v is None else max(v, params[0]) for v in values]
    if name == "clamp_max":
        return [None if v is None else min(v, params[0]) for v in values]
    if name == "fill":
        return fill(values, params[0])
    raise ValueError(f"not a bucket-wise function: {name}")


def _array(values: Values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _values(array: np.ndarray) -> Values:
    return [None if math.isnan(v) else float(v) for v in array.tolist()]


def window(values: Values, n: int, agg: str) -> Values:
    """``agg`` over each bucket and the ``n - 1`` before it (fewer at the start of ``values``)."""
    if not values:
        return []
    padded = np.concatenate([np.full(n - 1, np.nan), _array(values)])
    windows = sliding_window_view(padded, n)
    present = ~np.isnan(windows)
    counts = present.sum(axis=1)
    if agg == "count":
        return [float(c) for c in counts.tolist()]
    if agg in ("sum", "avg"):
        sums = np.where(present, windows, 0.0).sum(axis=1)
        out = sums if agg == "sum" else sums / np.maximum(counts, 1)
    elif agg == "min":
        out = np.where(present, windows, np.inf).min(axis=1)
    elif agg == "max":
        out = np.where(present, windows, -np.inf).max(axis=1)
    elif agg == "median":
        with warnings.catch_warnings():  # an all-null window: nan, made null below
            warnings.simplefilter("ignore", RuntimeWarning)
            out = np.nanmedian(windows, axis=1)
    else:
        raise ValueError(f"not a window aggregation: {agg}")
    return _values(np.where(counts > 0, out, np.nan))


def _pairs(values: Values, how) -> Values:
    """``how(previous, value)`` per bucket; null at the first and where either is null."""
    return [None] + [None if a is None or b is None else how(a, b)
                     for a, b in pairwise(values)]


def _counter_increase(before: float, after: float) -> float:
    # A drop means the counter restarted from 0 (Prometheus): it grew by its new value.
    return after - before if after >= before else after


def _per_second(changes: Values, times: list[datetime]) -> Values:
    out: Values = [None]
    for i in range(1, len(changes)):
        change = changes[i]
        out.append(None if change is None else
                   change / (times[i] - times[i - 1]).total_seconds())
    return out


def cumsum(values: Values) -> Values:
    total = 0.0
    out: Values = []
    for v in values:
        if v is None:
            out.append(None)
        else:
            total += v
            out.append(total)
    return out


def fill(values: Values, how: str | float) -> Values:
    """Missing buckets: ``zero``, a number, ``previous`` (the last value before; none before the
    first), ``linear`` (on the line between the values either side, by bucket; none outside)."""
    if how == "previous":
        out: Values = []
        last = None
        for v in values:
            last = v if v is not None else last
            out.append(last)
        return out
    if how == "linear":
        known = [i for i, v in enumerate(values) if v is not None]
        out = list(values)
        for left, right in pairwise(known):
            a, b = values[left], values[right]
            for i in range(left + 1, right):
                out[i] = a + (b - a) * (i - left) / (right - left)
        return out
    value = 0.0 if how == "zero" else float(how)
    return [value if v is None else v for v in values]


def rank_value(values: Values, agg: str) -> float | None:
    """What ranks a series for top / bottom: ``agg`` of its non-null values over the range."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if agg == "avg":
        return math.fsum(present) / len(present)
    if agg == "sum":
        return math.fsum(present)
    if agg == "max":
        return max(present)
    if agg == "min":
        return min(present)
    return present[-1]
