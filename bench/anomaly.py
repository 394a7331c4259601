"""Anomaly detectors against labelled series: the Numenta Anomaly Benchmark's score (standard
profile, ``ml/nab.py``) of every detector on the labelled CSVs of a folder, and with
``--scale`` what models cost.

    .venv/bin/python bench/anomaly.py [--data ../shared/data/nab] [--detector NAME ...]
                                      [--sensitivity medium] [--jobs 1] [--scale]
                                      [--scale-only] [--scale-models 1000]

Each detector runs over each series as the models do (``ml.detectors.walk_forward``: trained
on what was seen so far, first after a day of data and then every night on the last 30 days,
scoring what comes next — no look-ahead); each anomaly it finds is one alarm, at its first
point. Nothing is tuned on the labels: every detector decides its alarms from its training
data at the given sensitivity. ``zscore`` and ``iforest_plain`` are the references (a rolling
z-score over the last day, |z| > 3; scikit-learn's IsolationForest on the value with its
defaults).

``--scale`` (no labels needed) also times, on generated 5-minute series with a daily rhythm:
training 1,000 models of the default detector on 30 days each, and scoring one new point for
each of them (the trained state loaded as the worker does, from its stored bytes), in this one
process.

Bounded: the NAB folder takes a few minutes per detector on one core; ``--scale`` about as much
as its 1,000 trainings. Last line: ``{"<detector>": score, ..., "default_alarms": n}`` (and with
``--scale``, ``"train_1000_s"`` and ``"score_1000_s"``).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from ml import nab  # noqa: E402
from ml.detectors import DEFAULT, DETECTORS, Series, create, episodes, walk_forward  # noqa: E402

REFERENCES = ("zscore", "iforest_plain")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_csv(path: Path) -> tuple[list[str], Series]:
    frame = pd.read_csv(path, dtype={"timestamp": str})
    stamps = frame["timestamp"].tolist()
    moments = pd.to_datetime(frame["timestamp"], utc=True)
    times = (moments - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return stamps, Series(times.to_numpy(), frame["value"].to_numpy(dtype=float))


def alarms_of(detector: str, sensitivity: str, series: Series) -> list[int]:
    scores, _ = walk_forward(lambda: create(detector, sensitivity), series)
    return [e.start for e in episodes(scores)]


def run_file(job: tuple[str, str, str, list]) -> tuple[str, str, dict]:
    detector, sensitivity, path, windows = job
    stamps, series = read_csv(Path(path))
    started = time.perf_counter()
    alarms = alarms_of(detector, sensitivity, series)
    limits = nab.window_indices(stamps, [(a[:19], b[:19]) for a, b in windows])
    result = nab.score_file(len(stamps), alarms, limits)
    return detector, path, {"result": result, "alarms": len(alarms),
                            "seconds": time.perf_counter() - started}


def benchmark(data: Path, detectors: list[str], sensitivity: str, jobs: int) -> dict:
    labels = json.loads((data / "labels.json").read_text())
    work = [(d, sensitivity, str(data / name), windows) for d in detectors
            for name, windows in sorted(labels.items())]
    results: dict[str, list] = {d: [] for d in detectors}
    alarms: dict[str, int] = dict.fromkeys(detectors, 0)
    if jobs > 1:
        pool = ProcessPoolExecutor(jobs)
        done = pool.map(run_file, work)
    else:
        pool, done = None, map(run_file, work)
    for detector, path, out in done:  # logged as each file is done
        r = out["result"]
        results[detector].append(r)
        alarms[detector] += out["alarms"]
        log(f"{detector:14} {Path(path).parent.name[:14]:14} {Path(path).stem[:40]:40} "
            f"tp {r.true_positives} fp {r.false_positives:3} missed {r.missed} "
            f"raw {r.raw:7.3f}  {out['seconds']:.1f} s")
    if pool is not None:
        pool.shutdown()
    figures = {d: round(nab.normalised(results[d]), 1) for d in detectors}
    for d in detectors:
        log(f"{d}: {figures[d]} ({alarms[d]} alarms)")
    figures["default_alarms"] = alarms.get(DEFAULT, 0)
    return figures


# -- cost -----------------------------------------------------------------------------------------
def generated(n_series: int, days: int, step: int = 300, seed: int = 7):
    """Daily-rhythm series with noise and a few spikes, one per model."""
    rng = np.random.default_rng(seed)
    times = np.arange(1_700_000_000 // step * step - days * 86400, 1_700_000_000 // step * step,
                      step, dtype=np.int64)
    phase = 2 * np.pi * (times % 86400) / 86400
    for i in range(n_series):
        level = 50 + 10 * (i % 7)
        values = level + 20 * np.sin(phase + i) + rng.normal(0, 2 + i % 3, len(times))
        values[rng.integers(0, len(times), 3)] += 40
        yield Series(times, values)


def scale(n: int = 1000, days: int = 30) -> dict:
    log(f"training {n} models of {DEFAULT!r} on {days} days of 5-minute points …")
    states = []
    started = time.perf_counter()
    for series in generated(n, days):
        detector = create(DEFAULT).fit(series)
        states.append(pickle.dumps(detector.state(), protocol=pickle.HIGHEST_PROTOCOL))
    train_s = time.perf_counter() - started
    log(f"  {train_s:.1f} s ({train_s / n * 1000:.0f} ms a model)")
    from ml.detectors import restore

    point_time = np.array([1_700_000_000 // 300 * 300], dtype=np.int64)
    started = time.perf_counter()
    for i, blob in enumerate(states):
        detector = restore(pickle.loads(blob))  # noqa: S301 - our own bytes, just made
        detector.score(Series(point_time, np.array([55.0 + i % 13])))
        pickle.dumps(detector.rolling, protocol=pickle.HIGHEST_PROTOCOL)
    score_s = time.perf_counter() - started
    log(f"scoring one new point for {n} models: {score_s:.2f} s")
    return {"train_1000_s": round(train_s * 1000 / n, 1),
            "score_1000_s": round(score_s * 1000 / n, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(BASE_DIR.parent / "shared" / "data" / "nab"))
    parser.add_argument("--detector", action="append", choices=sorted(DETECTORS))
    parser.add_argument("--sensitivity", default="medium", choices=("low", "medium", "high"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--scale", action="store_true")
    parser.add_argument("--scale-models", type=int, default=1000,
                        help="models to time (figures are given per 1,000)")
    parser.add_argument("--scale-only", action="store_true", help="skip the NAB score")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    detectors = args.detector or [*sorted(d for d in DETECTORS if d not in REFERENCES),
                                  *REFERENCES]
    figures = {} if args.scale_only else benchmark(Path(args.data), detectors,
                                                   args.sensitivity, args.jobs)
    if args.scale or args.scale_only:
        figures.update(scale(args.scale_models))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
