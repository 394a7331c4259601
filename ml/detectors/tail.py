"""Alarm thresholds from the training data itself: peaks over threshold.

A detector scores its own training data; the largest 2 % of those scores are fitted with a
generalised Pareto distribution (method of moments), and the threshold is the score that this
tail says is exceeded with probability ``RISK[sensitivity]`` per point — the idea of SPOT
(Siffer et al., KDD 2017). So a noisy, heavy-tailed series gets a higher threshold than a quiet
one without anyone choosing it; ``FLOOR`` keeps a near-constant history from alarming on dust.
Nothing here looks at labels.
"""

from __future__ import annotations

import math

import numpy as np

# Expected share of ordinary points over the threshold: at one point a minute, medium means
# about one ordinary point a week over it.
RISK = {"low": 1e-5, "medium": 1e-4, "high": 1e-3}
# The least threshold, in sigma-like units of the raw score.
FLOOR = {"low": 5.0, "medium": 4.0, "high": 3.0}
TAIL_QUANTILE = 0.98
MAX_SHAPE = 0.3  # a tail heavier than this is mostly past incidents, not the ordinary noise


def threshold(scores: np.ndarray, sensitivity: str, *, floor: float | None = None) -> float:
    """The alarm threshold for raw ``scores`` (larger is more anomalous) at ``sensitivity``."""
    least = FLOOR[sensitivity] if floor is None else floor
    finite = scores[np.isfinite(scores)]
    if len(finite) < 50:
        return least
    start = float(np.quantile(finite, TAIL_QUANTILE))
    excess = finite[finite > start] - start
    if len(excess) < 5:  # the top 2 % are one value: it is common, only more is rare
        return max(least, 1.05 * float(finite.max()))
    mean, var = float(excess.mean()), float(excess.var())
    if mean <= 0:
        return max(least, start)
    if var <= (0.01 * mean) ** 2:
        # The tail is one value repeated (a spike of the same height every few hours): it is
        # what the series does, not something rare — only more than it is anomalous.
        return max(least, start + 1.05 * mean)
    shape = min(MAX_SHAPE, max(-0.5, 0.5 * (1 - mean * mean / var)))
    scale = 0.5 * mean * (mean * mean / var + 1) if shape < MAX_SHAPE else mean * (1 - shape)
    ratio = RISK[sensitivity] * len(finite) / len(excess)
    if abs(shape) < 1e-6:
        level = start - scale * math.log(ratio)
    else:
        level = start + scale / shape * (ratio ** -shape - 1)
    return max(least, float(level))
