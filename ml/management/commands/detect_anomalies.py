"""``manage.py detect_anomalies --csv FILE [--detector NAME] [--sensitivity S]``: a detector run
over a CSV of ``timestamp,value`` rows as the models run (``detectors.walk_forward``: trained
on what was seen so far, then every night, scoring what comes next — no look-ahead). Prints one
JSON object per alarm (the first point of each anomaly): ``{"timestamp"`` (as written in the
CSV), ``"score"``, ``"explanation"}``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from ml.detectors import DEFAULT, SENSITIVITIES, Series, create, episodes, listed, walk_forward


def read_csv(path: Path) -> tuple[list[str], Series]:
    """The rows' timestamps as written, and the series (epoch seconds, values)."""
    frame = pd.read_csv(path, dtype={"timestamp": str})
    if list(frame.columns[:2]) != ["timestamp", "value"]:
        raise ValueError("the CSV needs a header: timestamp,value")
    moments = pd.to_datetime(frame["timestamp"], utc=True, format="mixed")
    times = (moments - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return frame["timestamp"].tolist(), Series(times.to_numpy(),
                                               frame["value"].to_numpy(dtype=float))


class Command(BaseCommand):
    help = __doc__.split("\n\n")[0]

    def add_arguments(self, parser):
        parser.add_argument("--csv", required=True, help="timestamp,value rows, with a header")
        parser.add_argument("--detector", default=DEFAULT,
                            choices=sorted(cls.name for cls in listed()))
        parser.add_argument("--sensitivity", default="medium", choices=SENSITIVITIES)

    def handle(self, *args, **options):
        try:
            stamps, series = read_csv(Path(options["csv"]))
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"cannot read {options['csv']}: {exc}") from None
        scores, _ = walk_forward(lambda: create(options["detector"], options["sensitivity"]),
                                 series)
        for found in episodes(scores):
            i = found.start
            score = float(np.nan_to_num(scores.score[i]))
            self.stdout.write(json.dumps({
                "timestamp": stamps[i], "score": round(score, 4),
                "explanation": [c.as_dict() for c in scores.reasons.get(i, [])]}))
