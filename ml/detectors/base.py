"""What every detector shares: the series it reads, the scores it gives, its base class.

A detector is trained on a history (``fit``) into a state that can be stored, then scores new
points as they arrive (``score``) without going over the history again: what a new point needs
from the past — baselines, the last few values, a smoothed level — is in the state, and
``score`` moves the small rolling part of it forward. Scoring is causal: a point's score depends
on the state and the points before it only, so scoring a day at once or minute by minute gives
the same answers (the tests hold every detector to it).

Scores are in units of the detector's own alarm threshold: 1.0 is the edge of the band at the
model's sensitivity, an anomaly is a point at 1.0 or more. The threshold is derived from the
training data (``tail.threshold``), never from labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

SENSITIVITIES = ("low", "medium", "high")
DAY = 86400
WEEK = 7 * DAY


@dataclass
class Series:
    """A regular series as the query engine gives it: ``times`` in epoch seconds (ascending),
    ``values`` with NaN where a bucket had no data, and for a grouped query the other series
    of the same metric at the same times (``others``, one column per name in ``other_names``)."""

    times: np.ndarray
    values: np.ndarray
    others: np.ndarray | None = None
    other_names: tuple[str, ...] = ()

    def __post_init__(self):
        self.times = np.asarray(self.times, dtype=np.int64)
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.others is not None:
            self.others = np.asarray(self.others, dtype=np.float64).reshape(len(self.times), -1)
            if not self.others.shape[1]:
                self.others, self.other_names = None, ()

    def __len__(self) -> int:
        return len(self.times)

    def slice(self, start: int, stop: int) -> Series:
        return Series(self.times[start:stop], self.values[start:stop],
                      None if self.others is None else self.others[start:stop],
                      self.other_names)

    def masked(self, keep: np.ndarray) -> Series:
        """The same times with the values outside ``keep`` blanked (excluded windows)."""
        values = np.where(keep, self.values, np.nan)
        return Series(self.times, values, self.others, self.other_names)

    @property
    def step(self) -> int:
        """The usual spacing of the points, in seconds."""
        if len(self.times) < 2:
            return 60
        return max(1, int(np.median(np.diff(self.times))))


@dataclass
class Contribution:
    """One reason a point is anomalous: a feature, its share of the anomaly (0..1) and a
    sentence for people."""

    feature: str
    weight: float
    text: str

    def as_dict(self) -> dict:
        return {"feature": self.feature, "weight": round(float(self.weight), 4),
                "text": self.text}


@dataclass
class Scores:
    """Per point: the score (1.0 = the band's edge), the expected value and the band, whether
    it is an anomaly; and for each anomalous point (by index) what drove it."""

    times: np.ndarray
    values: np.ndarray
    score: np.ndarray
    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    anomaly: np.ndarray
    reasons: dict[int, list[Contribution]] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Scores:
        nothing = np.zeros(0)
        return cls(np.zeros(0, dtype=np.int64), nothing, nothing, nothing, nothing, nothing,
                   np.zeros(0, dtype=bool))

    @classmethod
    def blank(cls, series: Series) -> Scores:
        """No judgement for any point (a detector that is not trained yet)."""
        n = len(series)
        nan = np.full(n, np.nan)
        return cls(series.times, series.values, nan, nan.copy(), nan.copy(), nan.copy(),
                   np.zeros(n, dtype=bool))

    def __len__(self) -> int:
        return len(self.times)


class NotEnoughData(ValueError):
    """The history is too short (or too empty) to learn anything from."""


class Detector:
    """The interface: ``fit(history)``, ``score(points)``, ``importance()`` and the state.

    Subclasses set ``name`` and ``label``, implement ``_fit`` (fill ``self.trained`` and
    ``self.rolling``) and ``_score``; ``trained`` is fixed until the next fit, ``rolling``
    (small) moves with every scored point."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    listed: ClassVar[bool] = True  # offered for models (the benchmark's baselines are not)
    MIN_POINTS: ClassVar[int] = 48

    def __init__(self, sensitivity: str = "medium", **params: Any):
        if sensitivity not in SENSITIVITIES:
            raise ValueError(f"sensitivity must be one of {', '.join(SENSITIVITIES)}")
        self.sensitivity = sensitivity
        self.params = params
        self.trained: dict[str, Any] | None = None
        self.rolling: dict[str, Any] = {}

    @property
    def is_fitted(self) -> bool:
        return self.trained is not None

    def fit(self, history: Series) -> Detector:
        usable = int(np.isfinite(history.values).sum())
        if usable < self.MIN_POINTS:
            raise NotEnoughData(f"{usable} points with data; at least {self.MIN_POINTS} are "
                                f"needed to train.")
        self.trained, self.rolling = {}, {}
        self._fit(history)
        return self

    def score(self, points: Series) -> Scores:
        if not len(points):
            return Scores.empty()
        if self.trained is None:
            return Scores.blank(points)
        return self._score(points)

    def importance(self) -> list[Contribution]:
        """What this model's anomalies are made of, over its training data (per model)."""
        return []

    def forecast(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The expected value and its standard deviation at future ``times`` (None when the
        detector does not forecast)."""
        return None

    def simulate(self, times: np.ndarray, paths: int,
                 rng: np.random.Generator) -> np.ndarray | None:
        """``paths`` possible futures at ``times`` (paths x times), drawn from the forecast's
        distribution: here independent normal errors around ``forecast``; a detector that
        knows how its errors carry over (a smoothed level) draws them its own way."""
        found = self.forecast(times)
        if found is None:
            return None
        mean, spread = found
        return mean[None, :] + rng.standard_normal((paths, len(times))) * spread[None, :]

    # -- state ----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"detector": self.name, "sensitivity": self.sensitivity,
                "params": self.params, "trained": self.trained, "rolling": self.rolling}

    def load(self, state: dict[str, Any]) -> Detector:
        self.sensitivity = state["sensitivity"]
        self.params = state["params"]
        self.trained = state["trained"]
        self.rolling = state["rolling"]
        return self

    # -- for subclasses -------------------------------------------------------------------------
    def _fit(self, history: Series) -> None:
        raise NotImplementedError

    def _score(self, points: Series) -> Scores:
        raise NotImplementedError


def robust_scale(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation (sigma for normal data), NaN-free input."""
    if not len(values):
        return 0.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def scale_floor(values: np.ndarray) -> float:
    """The smallest sigma a detector may divide by on this data: a perfectly flat or stepped
    history has no spread, and a change of a millionth must not be infinitely anomalous."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 1e-9
    spread = float(np.percentile(finite, 95) - np.percentile(finite, 5))
    extent = float(finite.max() - finite.min())
    level = float(np.median(np.abs(finite)))
    return max(1e-3 * spread, 1e-4 * extent, 1e-4 * level, 1e-9)


def sigma_text(z: float, what: str) -> str:
    direction = "above" if z >= 0 else "below"
    return f"{abs(z):.1f} \u03c3 {direction} {what}"


def fmt(value: float) -> str:
    if not np.isfinite(value):
        return "no data"
    magnitude = abs(value)
    if magnitude >= 1e5 or (0 < magnitude < 1e-3):
        return f"{value:.3g}"
    return f"{value:.4g}" if magnitude < 100 else f"{value:,.0f}"
