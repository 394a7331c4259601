"""The Numenta Anomaly Benchmark's score, standard profile, written from its published rules
(Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms — the Numenta Anomaly
Benchmark", 2015, and the scorer of NAB's repository):

- the first 15 % of each series is probationary: alarms there are ignored;
- inside an anomaly window only the first alarm counts, ``A_tp · sigma(y)`` with
  ``sigma(y) = 2 / (1 + e^(5y)) - 1`` and ``y`` from -1 at the window's first point to 0 at its
  last (``-(last - i + 1) / length``);
- an alarm outside every window counts ``A_fp · sigma(y)``, ``y`` its distance after the closest
  preceding window in window lengths (``|i - last| / (length - 1)``); ``-A_fp`` when no window
  precedes it, and ``sigma = -1`` past 3 window lengths;
- each window without a counted alarm counts ``-A_fn``;
- the total over all series is normalised: no alarms scores 0, every window caught at its first
  point scores 100.

Standard profile: ``A_tp = 1``, ``A_fp = 0.11``, ``A_fn = 1``. Plain Python: the benchmark and
its tests use it; nothing here knows about detectors."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

A_TP, A_FP, A_FN = 1.0, 0.11, 1.0
PROBATION = 0.15


def sigma(y: float) -> float:
    """NAB's scaled sigmoid."""
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


@dataclass
class FileScore:
    raw: float = 0.0
    perfect: float = 0.0
    null: float = 0.0
    true_positives: int = 0
    false_positives: int = 0
    missed: int = 0
    counted: list = field(default_factory=list)  # (index, score) of every counted alarm


def window_indices(times: list, windows: list[tuple]) -> list[tuple[int, int]]:
    """First and last index of each window (times and window ends compare as given: ISO text
    of one format, or datetimes)."""
    found = []
    for start, end in windows:
        inside = [i for i, t in enumerate(times) if start <= t <= end]
        if inside:
            found.append((inside[0], inside[-1]))
    return found


def score_file(length: int, alarms: list[int], windows: list[tuple[int, int]]) -> FileScore:
    """One series of ``length`` points, the indices of its alarms and its windows (first and
    last index each, in order)."""
    result = FileScore()
    cutoff = math.floor(PROBATION * length)
    result.null = -A_FN * len(windows)
    result.perfect = A_TP * sigma(-1.0) * len(windows)
    caught = set()
    for i in sorted(set(alarms)):
        if i < cutoff or i >= length:
            continue
        inside = next((w for w, (a, b) in enumerate(windows) if a <= i <= b), None)
        if inside is not None:
            if inside in caught:
                continue  # only the first alarm of a window counts
            a, b = windows[inside]
            y = -(b - i + 1) / (b - a + 1)
            score = A_TP * sigma(y)
            caught.add(inside)
            result.true_positives += 1
        else:
            before = [(a, b) for a, b in windows if b < i]
            if before:
                a, b = before[-1]
                y = abs(i - b) / max(1, b - a)
                score = A_FP * sigma(y)
            else:
                score = -A_FP
            result.false_positives += 1
        result.raw += score
        result.counted.append((i, score))
    result.missed = len(windows) - len(caught)
    result.raw -= A_FN * result.missed
    return result


def normalised(files: list[FileScore]) -> float:
    """100 x (raw - null) / (perfect - null) over all the files together."""
    raw = sum(f.raw for f in files)
    null = sum(f.null for f in files)
    perfect = sum(f.perfect for f in files)
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)
