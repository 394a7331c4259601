"""Forecast residuals: the series less its seasonal profile is followed by exponential smoothing
(a Holt-Winters with the season learned robustly and held for the day), and each point is
judged by how far it lands from the one-step forecast.

The level learns from clipped errors (at 3 sigma), so one wild point does not drag the forecast
along, while a lasting change is followed within a few dozen points. The smoothing constant is
the one with the smallest median one-step error over the training data. The forecast and its
widening spread give the failure probabilities (``forecast``).
"""

from __future__ import annotations

import math

import numpy as np

from . import tail
from .base import Contribution, Detector, Scores, Series, fmt, robust_scale, sigma_text
from .registry import register
from .season import Season, fit_season

ALPHAS = (0.02, 0.05, 0.1, 0.2, 0.4, 0.7)
CLIP = 3.0
RESIDUALS = 512


def smooth(deseasoned: np.ndarray, alpha: float, level: float, sigma: float,
           rel: np.ndarray) -> tuple[np.ndarray, float]:
    """One-step errors of simple exponential smoothing with clipped updates, and the last
    level. NaN (no data) leaves the level as it is."""
    errors = np.full(len(deseasoned), np.nan)
    for i, value in enumerate(deseasoned.tolist()):
        if value != value:  # NaN
            continue
        error = value - level
        errors[i] = error
        limit = CLIP * sigma * rel[i]
        level += alpha * (limit if error > limit else -limit if error < -limit else error)
    return errors, level


@register
class ForecastResidual(Detector):
    name = "forecast"
    label = "Forecast residual"
    description = ("Seasonal profile plus exponentially smoothed level; a point is judged by "
                   "its distance from the one-step forecast.")

    def _fit(self, history: Series) -> None:
        season = fit_season(history.times, history.values, history.step,
                            self.params.get("period"))
        rel = self._relative(season, history.times)
        deseasoned = history.values - season.expected(history.times)
        finite = deseasoned[np.isfinite(deseasoned)]
        sigma0 = max(robust_scale(np.diff(finite)) / math.sqrt(2),
                     float(np.min(season.scale)), 1e-9)
        start = float(np.median(finite[: max(10, len(finite) // 20)]))
        best = None
        for alpha in ALPHAS:
            errors, level = smooth(deseasoned, alpha, start, sigma0, rel)
            loss = float(np.nanmedian(np.abs(errors / rel)))
            if best is None or loss < best[0]:
                best = (loss, alpha, errors, level)
        _, alpha, errors, level = best
        normal = errors / rel
        finite_errors = normal[np.isfinite(normal)]
        sigma = max(robust_scale(finite_errors), float(np.min(season.scale)), 1e-9)
        z = np.abs(normal) / sigma
        standard = np.sort(finite_errors / sigma)
        self.trained = {"season": season.as_dict(), "alpha": alpha, "sigma": sigma,
                        "threshold": tail.threshold(z, self.sensitivity),
                        "step": history.step,
                        # the errors' own distribution (as quantiles), for simulated futures
                        "errors": standard[np.linspace(0, len(standard) - 1, RESIDUALS)
                                           .astype(int)] if len(standard) else np.zeros(1)}
        self.rolling = {"level": level}

    @property
    def season(self) -> Season:
        return Season.from_dict(self.trained["season"])

    @staticmethod
    def _relative(season: Season, times: np.ndarray) -> np.ndarray:
        """Each slot's spread relative to the typical one (0.5 to 2): noisier hours get a wider
        band."""
        typical = float(np.median(season.scale)) or 1.0
        return np.clip(season.spread(times) / typical, 0.5, 2.0)

    def _score(self, points: Series) -> Scores:
        t = self.trained
        season, sigma, limit = self.season, t["sigma"], t["threshold"]
        rel = self._relative(season, points.times)
        profile = season.expected(points.times)
        level = self.rolling["level"]
        # The forecast of each point is the level before it: run the smoother, then shift.
        errors, last = smooth(points.values - profile, t["alpha"], level, sigma, rel)
        levels = points.values - profile - errors  # the level each point was compared with
        levels = np.where(np.isfinite(levels), levels, np.nan)
        levels = _forward_fill(levels, level)
        self.rolling = {"level": last}
        expected = profile + levels
        width = limit * sigma * rel
        z = errors / (sigma * rel)
        score = np.abs(z) / limit
        anomaly = np.nan_to_num(score) >= 1.0
        reasons = {int(i): [Contribution("forecast", 1.0, f"{sigma_text(z[i], 'the forecast')} "
                                         f"(forecast {fmt(expected[i])})")]
                   for i in np.flatnonzero(anomaly)}
        return Scores(points.times, points.values, score, expected, expected - width,
                      expected + width, anomaly, reasons)

    def importance(self) -> list[Contribution]:
        return [Contribution("forecast", 1.0, "distance from the one-step forecast")]

    def forecast(self, times: np.ndarray):
        t = self.trained
        season = self.season
        steps = np.maximum(1, (times - times[0]) / t["step"] + 1)
        spread = t["sigma"] * self._relative(season, times) * np.sqrt(
            1 + (steps - 1) * t["alpha"] ** 2)
        return season.expected(times) + self.rolling["level"], spread

    def simulate(self, times: np.ndarray, paths: int,
                 rng: np.random.Generator) -> np.ndarray:
        """Futures as the model sees them: each step's error drawn from the training errors
        (heavy tails included), and the level carrying ``alpha`` of each error forward."""
        t = self.trained
        season = self.season
        scale = t["sigma"] * self._relative(season, times)
        errors = np.asarray(t["errors"])[rng.integers(0, len(t["errors"]),
                                                      (paths, len(times)))] * scale[None, :]
        carried = t["alpha"] * np.cumsum(errors, axis=1)
        level = self.rolling["level"] + np.hstack([np.zeros((paths, 1)), carried[:, :-1]])
        return season.expected(times)[None, :] + level + errors


def _forward_fill(values: np.ndarray, first: float) -> np.ndarray:
    out = values.copy()
    previous = first
    for i, value in enumerate(out):
        if np.isnan(value):
            out[i] = previous
        else:
            previous = value
    return out
