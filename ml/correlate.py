"""Correlation of series at their best lag: plain numpy, no Django.

For every pair of columns of a (time x series) matrix, the Pearson or Spearman coefficient at
each lag from -K to K steps (a lag L pairs column i at t with column j at t + L: j follows i by
L steps), keeping the lag with the largest |r|. Missing buckets (NaN) are left out pair by pair;
a pair needs ``MIN_POINTS`` buckets in common. Spearman ranks each series over its own points
and correlates the ranks. ``changes=True`` correlates bucket-to-bucket differences, so two
series that merely share a daily rhythm or a trend are not called related.

Each lag is six matrix products over the masked data, so a 25 x 25 heat-map over 1,000 buckets
and ±60 lags is a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_POINTS = 10
METHODS = ("pearson", "spearman")


@dataclass
class Matrix:
    coefficient: np.ndarray  # (k, k) at the best lag; NaN where it cannot be computed
    lag: np.ndarray  # (k, k) steps
    points: np.ndarray  # (k, k) buckets in common at that lag


def ranks(column: np.ndarray) -> np.ndarray:
    """Average ranks of the finite values (ties share), NaN stays NaN."""
    out = np.full(len(column), np.nan)
    finite = np.flatnonzero(np.isfinite(column))
    if not len(finite):
        return out
    values = column[finite]
    # Each distinct value's rank is the mean of the ranks its run of equal values spans.
    unique, first, counts = np.unique(np.sort(values), return_index=True, return_counts=True)
    mean_rank = first + (counts + 1) / 2.0
    out[finite] = mean_rank[np.searchsorted(unique, values)]
    return out


def prepare(matrix: np.ndarray, method: str, changes: bool) -> np.ndarray:
    data = np.asarray(matrix, dtype=np.float64)
    if changes:
        data = np.vstack([np.full((1, data.shape[1]), np.nan), np.diff(data, axis=0)])
    if method == "spearman":
        data = np.column_stack([ranks(data[:, j]) for j in range(data.shape[1])]) \
            if data.shape[1] else data
    elif method != "pearson":
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    return data


def _at_lag(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise Pearson r of the columns of ``a`` against those of ``b`` (same rows), with
    NaN rows left out pair by pair; and the counts."""
    ma, mb = np.isfinite(a).astype(float), np.isfinite(b).astype(float)
    a0, b0 = np.nan_to_num(a), np.nan_to_num(b)
    n = ma.T @ mb
    sa, sb = a0.T @ mb, ma.T @ b0
    sab = a0.T @ b0
    saa, sbb = (a0 * a0).T @ mb, ma.T @ (b0 * b0)
    with np.errstate(all="ignore"):
        cov = n * sab - sa * sb
        var = (n * saa - sa * sa) * (n * sbb - sb * sb)
        r = cov / np.sqrt(var)
    r = np.where((n >= MIN_POINTS) & (var > 1e-12 * np.maximum(1.0, n ** 4)), r, np.nan)
    return np.clip(r, -1.0, 1.0), n


def best_lag(rows: np.ndarray, columns: np.ndarray, max_lag: int) -> Matrix:
    """Every column of ``rows`` against every column of ``columns`` (prepared, same times)."""
    k_rows, k_cols = rows.shape[1], columns.shape[1]
    best = np.full((k_rows, k_cols), np.nan)
    lags = np.zeros((k_rows, k_cols), dtype=int)
    counts = np.zeros((k_rows, k_cols), dtype=int)
    length = rows.shape[0]
    for lag in range(-max_lag, max_lag + 1):
        if abs(lag) >= length - MIN_POINTS:
            continue
        if lag >= 0:
            a, b = rows[:length - lag], columns[lag:]
        else:
            a, b = rows[-lag:], columns[:length + lag]
        r, n = _at_lag(a, b)
        better = np.isfinite(r) & (~np.isfinite(best) | (np.abs(r) > np.abs(best) + 1e-12))
        best = np.where(better, r, best)
        lags = np.where(better, lag, lags)
        counts = np.where(better, n.astype(int), counts)
    return Matrix(best, lags, counts)


def correlate(matrix: np.ndarray, *, method: str = "pearson", max_lag: int = 0,
              changes: bool = False) -> Matrix:
    """The heat-map: every series against every other, at its best lag."""
    data = prepare(matrix, method, changes)
    found = best_lag(data, data, max_lag)
    np.fill_diagonal(found.coefficient, 1.0)
    np.fill_diagonal(found.lag, 0)
    return found


def related_to(target: np.ndarray, candidates: np.ndarray, *, method: str = "pearson",
               max_lag: int = 0, changes: bool = False) -> Matrix:
    """One series against many: (1, k) matrices."""
    data = prepare(np.column_stack([target, candidates]), method, changes)
    return best_lag(data[:, :1], data[:, 1:], max_lag)


def shift_sigma(values: np.ndarray, inside: np.ndarray) -> float:
    """How far the mean of ``values`` over ``inside`` moved from the mean before it, in
    standard deviations of the before (0 when it cannot tell)."""
    if not inside.any():
        return 0.0
    first = int(np.flatnonzero(inside)[0])
    before = values[:first]
    before = before[np.isfinite(before)]
    during = values[inside]
    during = during[np.isfinite(during)]
    if len(before) < 5 or not len(during):
        return 0.0
    spread = float(np.std(before))
    if spread <= 1e-12:
        spread = max(1e-12, 1e-3 * (abs(float(np.mean(before))) or 1.0))
    return float((np.mean(during) - np.mean(before)) / spread)
