"""The ensemble: several detectors on the same series, each with its own threshold; a point's
score is the highest of theirs (each is 1.0 at its own threshold), so a spike, a point off its
seasonal baseline and a lasting shift are each caught by the member made for it. The band is
the forecast member's; the explanation lists what each member that fired saw."""

from __future__ import annotations

import numpy as np

from .base import Contribution, Detector, Scores, Series
from .registry import DETECTORS, register

MEMBERS = ("seasonal", "forecast", "levelshift")


@register
class Ensemble(Detector):
    name = "ensemble"
    label = "Ensemble"
    description = ("Seasonal baseline, forecast residual and level shift together: an anomaly "
                   "for any of them, explained by those that fired.")

    def _members(self) -> list[Detector]:
        return [DETECTORS[name](self.sensitivity) for name in self.params.get("members",
                                                                              MEMBERS)]

    def _fit(self, history: Series) -> None:
        members = [member.fit(history) for member in self._members()]
        self.trained = {"members": [{k: v for k, v in m.state().items() if k != "rolling"}
                                    for m in members]}
        self.rolling = {"members": [m.rolling for m in members]}

    def _restored(self) -> list[Detector]:
        return [DETECTORS[state["detector"]]().load({**state, "rolling": rolling})
                for state, rolling in zip(self.trained["members"], self.rolling["members"],
                                          strict=True)]

    def _score(self, points: Series) -> Scores:
        members = self._restored()
        results = [m.score(points) for m in members]
        self.rolling = {"members": [m.rolling for m in members]}
        scores = np.vstack([r.score for r in results])
        with np.errstate(all="ignore"):
            best = np.nanmax(np.where(np.isfinite(scores), scores, -np.inf), axis=0)
        best = np.where(np.isfinite(best), best, np.nan)
        anomaly = np.any(np.vstack([r.anomaly for r in results]), axis=0)
        band = results[self._band_member(members)]
        reasons: dict[int, list[Contribution]] = {}
        for i in np.flatnonzero(anomaly):
            fired = [(r.score[i], r.reasons.get(int(i), [])) for r in results if r.anomaly[i]]
            total = sum(s for s, _ in fired) or 1.0
            merged = [Contribution(c.feature, c.weight * s / total, c.text)
                      for s, found in sorted(fired, key=lambda f: -f[0]) for c in found]
            reasons[int(i)] = merged
        return Scores(points.times, points.values, best, band.expected, band.lower, band.upper,
                      anomaly, reasons)

    @staticmethod
    def _band_member(members: list[Detector]) -> int:
        names = [m.name for m in members]
        return names.index("forecast") if "forecast" in names else 0

    def importance(self) -> list[Contribution]:
        members = self._restored()
        share = 1.0 / len(members)
        return [Contribution(c.feature, c.weight * share, c.text)
                for m in members for c in m.importance()]

    def forecast(self, times: np.ndarray):
        members = self._restored()
        return members[self._band_member(members)].forecast(times)

    def simulate(self, times: np.ndarray, paths: int, rng: np.random.Generator):
        members = self._restored()
        return members[self._band_member(members)].simulate(times, paths, rng)
