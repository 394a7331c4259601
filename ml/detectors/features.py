"""Engineered features of each point, computed causally (from the point and the ones before it
only): the value, its one-step and one-hour changes, the mean and spread of the last hour, its
distance from the seasonal median, the hour and weekday, and for a grouped query the other
series of the same metric and the distance from their median. Each feature also has a sentence,
for explanations."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .base import DAY, fmt, sigma_text
from .season import Season

MAX_OTHERS = 10


def hour_window(step: int) -> int:
    return int(min(60, max(2, round(3600 / step))))


@dataclass
class Features:
    names: list[str]
    matrix: np.ndarray  # (points, features), NaN where a feature has no value


def _rolling(values: np.ndarray, size: int, how) -> np.ndarray:
    out = np.full(len(values), np.nan)
    if len(values) >= size:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window is NaN
            out[size - 1:] = how(sliding_window_view(values, size), axis=1)
    return out


def compute(times: np.ndarray, values: np.ndarray, *, step: int, season: Season,
            previous: np.ndarray, others: np.ndarray | None = None,
            other_names: tuple[str, ...] = ()) -> Features:
    """Features of ``values``; ``previous`` are the values just before them (the rolling
    buffer, at least an hour of points when there is one)."""
    h = hour_window(step)
    joined = np.concatenate([previous, values])
    tail = len(previous)
    lagged = np.concatenate([np.full(h, np.nan), joined])
    columns = {
        "value": values,
        "delta": (joined - np.concatenate([[np.nan], joined[:-1]]))[tail:],
        "change_1h": (joined - lagged[:len(joined)])[tail:],
        "mean_1h": _rolling(joined, h, np.nanmean)[tail:],
        "std_1h": _rolling(joined, h, np.nanstd)[tail:],
        "seasonal": (values - season.expected(times)) / season.spread(times),
        "hour": (times % DAY) / 3600.0,
        "weekday": ((times // DAY + 3) % 7).astype(np.float64),
    }
    if others is not None and len(other_names):
        kept = others[:, :MAX_OTHERS]
        for j, name in enumerate(other_names[:MAX_OTHERS]):
            columns[f"other:{name}"] = kept[:, j]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            columns["vs_others"] = values - np.nanmedian(others, axis=1)
    names = list(columns)
    return Features(names, np.column_stack([columns[n] for n in names]))


def describe(name: str, value: float, center: float, scale: float, *, step: int,
             season: Season) -> str:
    """A sentence about one feature's value against its training median ``center``."""
    z = (value - center) / scale if scale > 0 else 0.0
    minutes = hour_window(step) * step // 60
    if name == "value":
        return f"value {fmt(value)}, {sigma_text(z, 'its usual level')}"
    if name == "delta":
        return f"moved {fmt(value)} in one step ({abs(z):.1f} \u03c3 of usual steps)"
    if name == "change_1h":
        return f"changed {fmt(value)} over {minutes} min ({abs(z):.1f} \u03c3 of usual changes)"
    if name == "mean_1h":
        return f"mean of the last {minutes} min {fmt(value)}, {sigma_text(z, 'usual')}"
    if name == "std_1h":
        ratio = value / center if center > 0 else float("inf")
        times = f"{ratio:.1f}\u00d7" if np.isfinite(ratio) else "far above"
        return f"variability over the last {minutes} min {times} usual"
    if name == "seasonal":
        return sigma_text(value, season.what)
    if name == "hour":
        return "unusual for this time of day"
    if name == "weekday":
        return "unusual for this day of the week"
    if name == "vs_others":
        return f"{sigma_text(z, 'the other series of the metric')}"
    if name.startswith("other:"):
        return f"with {name[6:]} at {fmt(value)} ({sigma_text(z, 'its usual level')})"
    return f"{name} {fmt(value)}"
