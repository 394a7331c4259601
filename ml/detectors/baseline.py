"""The robust seasonal baseline: each point against the median and spread (MAD) of its slot of
the day or week (or of the whole history when the series has no season), learned over the
training window and relearned with it."""

from __future__ import annotations

import numpy as np

from . import tail
from .base import Contribution, Detector, Scores, Series, fmt, sigma_text
from .registry import register
from .season import Season, fit_season


@register
class SeasonalBaseline(Detector):
    name = "seasonal"
    label = "Robust seasonal baseline"
    description = ("Median and MAD of each slot of the day or week (the season is detected), "
                   "over the training window.")

    def _fit(self, history: Series) -> None:
        season = fit_season(history.times, history.values, history.step,
                            self.params.get("period"))
        z = self._z(season, history.times, history.values)
        self.trained = {"season": season.as_dict(),
                        "threshold": tail.threshold(np.abs(z), self.sensitivity)}

    @property
    def season(self) -> Season:
        return Season.from_dict(self.trained["season"])

    @staticmethod
    def _z(season: Season, times: np.ndarray, values: np.ndarray) -> np.ndarray:
        return (values - season.expected(times)) / season.spread(times)

    def _score(self, points: Series) -> Scores:
        season, limit = self.season, self.trained["threshold"]
        expected = season.expected(points.times)
        spread = season.spread(points.times)
        z = (points.values - expected) / spread
        score = np.abs(z) / limit
        anomaly = np.nan_to_num(score) >= 1.0
        reasons = {}
        for i in np.flatnonzero(anomaly):
            reasons[int(i)] = [Contribution(
                f"{season.name or 'overall'} median", 1.0,
                f"{sigma_text(z[i], season.what)} (expected {fmt(expected[i])})")]
        return Scores(points.times, points.values, score, expected, expected - limit * spread,
                      expected + limit * spread, anomaly, reasons)

    def importance(self) -> list[Contribution]:
        season = self.season
        return [Contribution(f"{season.name or 'overall'} median", 1.0,
                             f"distance from {season.what}")]

    def forecast(self, times: np.ndarray):
        season = self.season
        return season.expected(times), season.spread(times)
