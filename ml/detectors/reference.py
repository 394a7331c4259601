"""Two simple detectors the benchmark measures the others against, with their textbook
settings: a rolling z-score (the last day's mean and standard deviation, |z| > 3) and a plain
IsolationForest on the value alone (scikit-learn's defaults, its own ``predict``). Not offered
for models."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

from .base import DAY, Contribution, Detector, Scores, Series, fmt, sigma_text
from .registry import register

Z_LIMIT = 3.0


@register
class RollingZScore(Detector):
    name = "zscore"
    label = "Rolling z-score"
    listed = False
    MIN_POINTS = 10

    def _fit(self, history: Series) -> None:
        size = max(10, DAY // history.step)
        self.trained = {"size": int(size)}
        self.rolling = {"previous": history.values[-size:].tolist()}

    def _score(self, points: Series) -> Scores:
        size = self.trained["size"]
        joined = np.concatenate([np.asarray(self.rolling["previous"], dtype=float),
                                 points.values])
        start = len(joined) - len(points)
        mean = np.full(len(points), np.nan)
        std = np.full(len(points), np.nan)
        for i in range(len(points)):
            window = joined[max(0, start + i - size):start + i]
            window = window[np.isfinite(window)]
            if len(window) >= 2:
                mean[i], std[i] = window.mean(), window.std()
        self.rolling = {"previous": joined[-size:].tolist()}
        with np.errstate(all="ignore"):
            z = (points.values - mean) / np.where(std > 0, std, np.nan)
        score = np.abs(z) / Z_LIMIT
        anomaly = np.nan_to_num(score) >= 1.0
        reasons = {int(i): [Contribution("zscore", 1.0, sigma_text(z[i], "the last day's mean"))]
                   for i in np.flatnonzero(anomaly)}
        return Scores(points.times, points.values, score, mean, mean - Z_LIMIT * std,
                      mean + Z_LIMIT * std, anomaly, reasons)


@register
class PlainIsolationForest(Detector):
    name = "iforest_plain"
    label = "Plain IsolationForest"
    listed = False

    def _fit(self, history: Series) -> None:
        values = history.values[np.isfinite(history.values)].reshape(-1, 1)
        forest = IsolationForest(random_state=0).fit(values)
        self.trained = {"forest": forest, "median": float(np.median(values))}

    def _score(self, points: Series) -> Scores:
        forest = self.trained["forest"]
        finite = np.isfinite(points.values)
        values = np.where(finite, points.values, self.trained["median"]).reshape(-1, 1)
        decision = forest.decision_function(values)  # < 0: an outlier by its own offset
        anomaly = (decision < 0) & finite
        score = np.where(finite, 1.0 - decision, np.nan)
        middle = np.full(len(points), self.trained["median"])
        reasons = {int(i): [Contribution("value", 1.0, f"value {fmt(points.values[i])} is "
                                                       f"isolated quickly")]
                   for i in np.flatnonzero(anomaly)}
        return Scores(points.times, points.values, score, middle, middle, middle, anomaly,
                      reasons)
