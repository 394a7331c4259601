"""Anomaly detectors: plain numpy / pandas / scikit-learn classes behind one interface
(``base.Detector``: ``fit``, ``score``, ``importance``, ``forecast``, a storable state) and a
registry. No Django here: the app's services feed them series from ``events.query`` and store
what they return.

    from ml.detectors import create, Series
    detector = create("ensemble", "medium").fit(Series(times, values))
    scores = detector.score(Series(new_times, new_values))
"""

from . import baseline, ensemble, forecast, isolation, levelshift, reference  # noqa: F401
from .base import SENSITIVITIES, Contribution, Detector, NotEnoughData, Scores, Series
from .registry import DETECTORS, create, listed, restore
from .walk import Episode, episodes, walk_forward

DEFAULT = "ensemble"

__all__ = ["DEFAULT", "DETECTORS", "SENSITIVITIES", "Contribution", "Detector", "Episode",
           "NotEnoughData", "Scores", "Series", "create", "episodes", "listed", "restore",
           "walk_forward"]
