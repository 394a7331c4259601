"""Level shifts and change points: the median of the last few points against the median of the
hours before them, on the series less its seasonal profile. Medians ignore a lone spike; a step
that lasts a few points moves the short median and not the long one.

The short window is about an hour (at least 4 points: a transient of one or two points, like
a daily rise that comes a little early, does not move its median), the long one about 12 hours
(at least 24 points); the noise is the spread of the same difference over the training data.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import tail
from .base import Contribution, Detector, Scores, Series, fmt, robust_scale, sigma_text
from .registry import register
from .season import Season, _profile, fit_season


def windows(step: int) -> tuple[int, int]:
    short = int(min(12, max(4, round(3600 / step))))
    long = int(min(288, max(24, round(12 * 3600 / step))))
    return short, long


def _nanmedian_windows(values: np.ndarray, size: int) -> np.ndarray:
    """Median of each window of ``size`` ending at each position (NaN before there is one)."""
    out = np.full(len(values), np.nan)
    if len(values) >= size:
        view = sliding_window_view(values, size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window is NaN
            out[size - 1:] = np.nanmedian(view, axis=1)
    return out


def shift(deseasoned: np.ndarray, short: int, long: int) -> tuple[np.ndarray, np.ndarray]:
    """For each point: the short window's median less the median of the long window before it,
    and that long median."""
    recent = _nanmedian_windows(deseasoned, short)
    before = np.full(len(deseasoned), np.nan)
    base = _nanmedian_windows(deseasoned, long)
    before[short:] = base[:-short] if short else base
    return recent - before, before


def relative(season: Season, times: np.ndarray, step: int, short: int) -> np.ndarray:
    """The spread of the slots the short window spans, relative to the typical one: a noisier
    hour needs a larger step. Averaged over the window (as its median is), so that one slot's
    spread, estimated from a few values, does not make a quiet slot's noise a shift."""
    typical = float(np.median(season.scale)) or 1.0
    spans = np.mean([season.spread(times - k * step) for k in range(short)], axis=0)
    return np.clip(spans / typical, 0.5, 4.0)


def cross_residuals(times: np.ndarray, values: np.ndarray, season: Season) -> np.ndarray:
    """The series less a seasonal profile learned on the other cycles (even against odd): the
    noise the shift sees on new data. In sample, each slot's median has taken in part of the
    noise it is subtracted from, and the spread of the shift would come out too small."""
    plain = values - season.expected(times)
    if not season.period:
        return plain
    out = np.full(len(values), np.nan)
    even = (times // season.period) % 2 == 0
    for train in (even, ~even):
        known = train & np.isfinite(values)
        if known.sum() < 10 or train.all():
            return plain
        median, _ = _profile(times[known], values[known], season.period, season.slot,
                             pool_min=3, spread=False)
        test = ~train
        out[test] = values[test] - median[(times[test] % season.period) // season.slot]
    return out


@register
class LevelShift(Detector):
    name = "levelshift"
    label = "Level shift"
    description = ("Median of the last hour against the 12 h before, on the deseasoned "
                   "series: steps and change points.")

    def _fit(self, history: Series) -> None:
        season = fit_season(history.times, history.values, history.step,
                            self.params.get("period"))
        short, long = windows(history.step)
        deseasoned = history.values - season.expected(history.times)
        moved, _ = shift(cross_residuals(history.times, history.values, season), short, long)
        moved = moved / relative(season, history.times, history.step, short)
        finite = moved[np.isfinite(moved)]
        sigma = max(robust_scale(finite) if len(finite) else 0.0, float(np.min(season.scale)),
                    1e-9)
        z = np.abs(moved) / sigma
        self.trained = {"season": season.as_dict(), "short": short, "long": long,
                        "step": history.step,
                        "sigma": sigma, "threshold": tail.threshold(z, self.sensitivity)}
        self.rolling = {"buffer": deseasoned[-(short + long):].tolist()}

    @property
    def season(self) -> Season:
        return Season.from_dict(self.trained["season"])

    def _score(self, points: Series) -> Scores:
        t = self.trained
        season, sigma, limit = self.season, t["sigma"], t["threshold"]
        short, long = t["short"], t["long"]
        profile = season.expected(points.times)
        deseasoned = points.values - profile
        buffer = np.asarray(self.rolling["buffer"], dtype=np.float64)
        joined = np.concatenate([buffer, deseasoned])
        moved, before = shift(joined, short, long)
        moved, before = moved[len(buffer):], before[len(buffer):]
        self.rolling = {"buffer": joined[-(short + long):].tolist()}
        rel = relative(season, points.times, t["step"], short)
        z = moved / (sigma * rel)
        score = np.abs(z) / limit
        anomaly = np.nan_to_num(score) >= 1.0
        expected = profile + np.where(np.isfinite(before), before, 0.0)
        width = limit * sigma * rel
        reasons = {}
        for i in np.flatnonzero(anomaly):
            reasons[int(i)] = [Contribution("level", 1.0, (
                f"level shifted {'up' if z[i] > 0 else 'down'} from {fmt(expected[i])} to "
                f"{fmt(expected[i] + moved[i])} ({sigma_text(z[i], 'the hours before')})"))]
        return Scores(points.times, points.values, score, expected, expected - width,
                      expected + width, anomaly, reasons)

    def importance(self) -> list[Contribution]:
        return [Contribution("level", 1.0, "a lasting change of level")]
