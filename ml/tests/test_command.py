"""``manage.py detect_anomalies`` over a CSV: one JSON line per alarm, its timestamp as
written, found where the spike was put, none on the clean part."""

import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command


def test_the_command_prints_the_injected_spike_with_its_explanation(tmp_path):
    times = np.arange(1_760_000_000, 1_760_000_000 + 5 * 86400, 300)
    rng = np.random.default_rng(1)
    values = 50 + 20 * np.sin(2 * np.pi * (times % 86400) / 86400) + rng.normal(0, 1, len(times))
    spike = len(times) - 100
    values[spike] += 30
    path = tmp_path / "series.csv"
    stamps = [f"2025-10-{9 + int(t - times[0]) // 86400:02d} {(t % 86400) // 3600:02d}:"
              f"{(t % 3600) // 60:02d}:00" for t in times]
    path.write_text("timestamp,value\n" + "".join(
        f"{s},{v:.3f}\n" for s, v in zip(stamps, values, strict=True)))
    out = io.StringIO()
    call_command("detect_anomalies", "--csv", str(path), "--detector", "seasonal", stdout=out)
    alarms = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [a["timestamp"] for a in alarms] == [stamps[spike]]
    assert alarms[0]["score"] >= 1
    assert "\u03c3 above" in alarms[0]["explanation"][0]["text"]


def test_a_file_that_is_not_a_series_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("when,what\n1,2\n")
    with pytest.raises(CommandError, match="timestamp,value"):
        call_command("detect_anomalies", "--csv", str(path))
