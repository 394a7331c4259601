"""A mergeable distribution sketch (DDSketch, Masson et al., VLDB 2019) for metric rollups.

A value falls in a logarithmic bucket whose bounds differ by a factor ``GAMMA``; every value in a
bucket is represented by one number within ``ALPHA`` (1 %) of it. A sketch is the count per
bucket, so two sketches merge by adding counts, and a quantile of the merged sketch is within 1 %
relative error of the same quantile of all the values — over any range of rollup buckets.

Bucket keys are plain integers, ordered like the values they stand for, so PostgreSQL can merge
and rank sketches stored as two parallel arrays (``sketch_keys int[]``, ``sketch_counts
bigint[]``) with ``unnest`` and ``sum``:

- ``0`` holds zero (and magnitudes below ``MIN_MAGNITUDE``);
- ``OFFSET + i`` a positive value with ``ceil(log_GAMMA(v)) = i``;
- ``-(OFFSET + i)`` a negative value with ``ceil(log_GAMMA(-v)) = i``.

Quantiles use the rank of PostgreSQL's ``percentile_disc`` (see ``quantile``), clamped to the
exact min and max kept beside the sketch.
"""

from __future__ import annotations

import bisect
import itertools
import math
import sys
from collections.abc import Iterable, Sequence

import numpy as np

ALPHA = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
MIN_MAGNITUDE = 1e-300
OFFSET = 40_000  # |ceil(log_GAMMA(v))| < 35 500 for every finite double above MIN_MAGNITUDE


def key_of(value: float) -> int:
    if value > MIN_MAGNITUDE:
        return OFFSET + math.ceil(math.log(value) / _LOG_GAMMA)
    if value < -MIN_MAGNITUDE:
        return -(OFFSET + math.ceil(math.log(-value) / _LOG_GAMMA))
    return 0


def keys_of(values: np.ndarray) -> np.ndarray:
    """``key_of`` of each value of a float64 array, as int64 — the same keys: numpy's log may
    differ from the C library's in the last bit on some CPUs, so the values whose log lies
    within a hair of a bucket bound are keyed by ``key_of`` itself."""
    magnitudes = np.abs(values)
    keyed = magnitudes > MIN_MAGNITUDE
    with np.errstate(invalid="ignore", divide="ignore"):
        exponents = np.log(np.where(keyed, magnitudes, 1.0)) / _LOG_GAMMA
    keys = np.where(keyed, OFFSET + np.ceil(exponents), 0).astype(np.int64)
    keys[values < 0] *= -1
    for at in np.flatnonzero(keyed & (np.abs(exponents - np.rint(exponents)) < 1e-9)).tolist():
        keys[at] = key_of(float(values[at]))
    return keys


def value_of(key: int) -> float:
    """The representative of a bucket: within ALPHA of every value that falls in it."""
    if key == 0:
        return 0.0
    try:
        magnitude = min(2 / (GAMMA + 1) * GAMMA ** (abs(key) - OFFSET), sys.float_info.max)
    except OverflowError:  # the top bucket of the doubles
        magnitude = sys.float_info.max
    return magnitude if key > 0 else -magnitude


def add(counts: dict[int, int], values: Iterable[float]) -> None:
    for value in values:
        key = key_of(value)
        counts[key] = counts.get(key, 0) + 1


def merge(into: dict[int, int], keys: Sequence[int], counts: Sequence[int]) -> None:
    for key, count in zip(keys, counts, strict=True):
        into[key] = into.get(key, 0) + count


def quantile(counts: dict[int, int], q: float, *, low: float | None = None,
             high: float | None = None) -> float | None:
    """The ``q`` quantile (0 ≤ q ≤ 1) of the values counted, or None if there are none.

    The same rank as PostgreSQL's ``percentile_disc`` (the inverted CDF): the value at 1-based
    position ``ceil(q * n)`` (at least 1) in sorted order; so a quantile from the rollups and one
    from raw rows name the same sample, and differ by the sketch's accuracy only."""
    total = sum(counts.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    running = 0
    for key in sorted(counts):
        running += counts[key]
        if running >= rank:
            estimate = value_of(key)
            break
    if low is not None:
        estimate = max(estimate, low)
    if high is not None:
        estimate = min(estimate, high)
    return estimate


def quantile_sorted(keys: Sequence[int], counts: Sequence[int], q: float, *,
                    low: float | None = None, high: float | None = None) -> float | None:
    """``quantile`` of one sketch given as sorted parallel arrays (as stored), without a dict."""
    running = list(itertools.accumulate(counts))
    if not running or running[-1] == 0:
        return None
    rank = max(1, math.ceil(q * running[-1]))
    estimate = value_of(keys[bisect.bisect_left(running, rank)])
    if low is not None:
        estimate = max(estimate, low)
    if high is not None:
        estimate = min(estimate, high)
    return estimate
