"""IsolationForest over engineered features (``features.compute``), explained by occlusion: a
feature's contribution to an anomaly is how much less anomalous the point becomes when that
feature alone is put back at its training median. A model's importance is the same, averaged
over the most anomalous training points."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

from . import features, tail
from .base import Contribution, Detector, Scores, Series, robust_scale
from .registry import register
from .season import Season, fit_season

TREES = 100
SAMPLES = 256
TOP_REASONS = 3


@register
class IsolationForestDetector(Detector):
    name = "iforest"
    label = "IsolationForest"
    description = ("IsolationForest over value, changes, rolling statistics, hour, weekday, "
                   "the seasonal residual and the other series of the metric.")
    MIN_POINTS = 96

    def _fit(self, history: Series) -> None:
        step = history.step
        season = fit_season(history.times, history.values, step, self.params.get("period"))
        found = features.compute(history.times, history.values, step=step, season=season,
                                 previous=np.zeros(0), others=history.others,
                                 other_names=history.other_names)
        rows = np.isfinite(history.values)
        matrix = found.matrix[rows]
        centers = np.nanmedian(matrix, axis=0)
        centers = np.where(np.isfinite(centers), centers, 0.0)
        matrix = np.where(np.isfinite(matrix), matrix, centers)
        scales = np.array([robust_scale(col) or (np.std(col) or 1.0) for col in matrix.T])
        forest = IsolationForest(n_estimators=TREES, max_samples=min(SAMPLES, len(matrix)),
                                 random_state=0).fit(matrix)
        raw = -forest.score_samples(matrix)
        middle, spread = float(np.median(raw)), max(robust_scale(raw), 1e-6)
        z = (raw - middle) / spread
        seasonal_z = np.abs(found.matrix[rows, found.names.index("seasonal")])
        self.trained = {
            "season": season.as_dict(), "step": step, "names": found.names,
            "centers": centers, "scales": scales, "forest": forest, "middle": middle,
            "spread": spread, "threshold": tail.threshold(z, self.sensitivity),
            "band": tail.threshold(seasonal_z, self.sensitivity),
            "others": list(history.other_names[:features.MAX_OTHERS]),
        }
        top = np.argsort(raw)[-min(50, max(1, len(raw) // 100)):]
        self.trained["importance"] = self._occlusion(matrix[top]).mean(axis=0)
        self.rolling = {"previous": history.values[-features.hour_window(step):].tolist()}

    @property
    def season(self) -> Season:
        return Season.from_dict(self.trained["season"])

    def _raw(self, matrix: np.ndarray) -> np.ndarray:
        return -self.trained["forest"].score_samples(matrix)

    def _occlusion(self, matrix: np.ndarray) -> np.ndarray:
        """Per row and feature, the share of the row's anomaly that the feature carries."""
        n, k = matrix.shape
        base = self._raw(matrix)
        variants = np.repeat(matrix, k, axis=0)
        for j in range(k):
            variants[j::k, j] = self.trained["centers"][j]
        drops = np.maximum(0.0, base[:, None] - self._raw(variants).reshape(n, k))
        totals = drops.sum(axis=1, keepdims=True)
        fallback = np.abs(matrix - self.trained["centers"]) / self.trained["scales"]
        fallback = fallback / np.maximum(fallback.sum(axis=1, keepdims=True), 1e-12)
        return np.where(totals > 0, drops / np.maximum(totals, 1e-12), fallback)

    def _matrix(self, points: Series) -> np.ndarray:
        t = self.trained
        others, names = _aligned_others(points, t["others"])
        found = features.compute(points.times, points.values, step=t["step"],
                                 season=self.season,
                                 previous=np.asarray(self.rolling["previous"], dtype=float),
                                 others=others, other_names=names)
        matrix = found.matrix
        if found.names != t["names"]:  # the group's siblings changed: keep the trained ones
            matrix = np.column_stack([found.matrix[:, found.names.index(n)]
                                      if n in found.names else np.full(len(points), np.nan)
                                      for n in t["names"]])
        return np.where(np.isfinite(matrix), matrix, t["centers"])

    def _score(self, points: Series) -> Scores:
        t = self.trained
        season = self.season
        matrix = self._matrix(points)
        hour = features.hour_window(t["step"])
        previous = np.concatenate([np.asarray(self.rolling["previous"]), points.values])
        self.rolling = {"previous": previous[-hour:].tolist()}
        z = (self._raw(matrix) - t["middle"]) / t["spread"]
        score = np.where(np.isfinite(points.values), np.maximum(z, 0) / t["threshold"], np.nan)
        anomaly = np.nan_to_num(score) >= 1.0
        expected = season.expected(points.times)
        width = t["band"] * season.spread(points.times)
        reasons = {}
        flagged = np.flatnonzero(anomaly)
        if len(flagged):
            shares = self._occlusion(matrix[flagged])
            for row, i in zip(shares, flagged, strict=True):
                reasons[int(i)] = self._reasons(row, matrix[i], season)
        return Scores(points.times, points.values, score, expected, expected - width,
                      expected + width, anomaly, reasons)

    def _reasons(self, shares: np.ndarray, row: np.ndarray, season: Season) -> list:
        t = self.trained
        order = np.argsort(shares)[::-1][:TOP_REASONS]
        return [Contribution(t["names"][j], float(shares[j]), features.describe(
            t["names"][j], float(row[j]), float(t["centers"][j]), float(t["scales"][j]),
            step=t["step"], season=season)) for j in order if shares[j] > 0.05]

    def importance(self) -> list[Contribution]:
        t = self.trained
        shares = np.asarray(t["importance"], dtype=float)
        total = shares.sum() or 1.0
        order = np.argsort(shares)[::-1]
        return [Contribution(t["names"][j], float(shares[j] / total), t["names"][j])
                for j in order if shares[j] > 0]


def _aligned_others(points: Series, trained: list[str]):
    """The sibling columns in the order the model was trained with."""
    if points.others is None or not trained:
        return None, ()
    index = {name: j for j, name in enumerate(points.other_names)}
    columns = [points.others[:, index[n]] if n in index else np.full(len(points), np.nan)
               for n in trained]
    return np.column_stack(columns), tuple(trained)
