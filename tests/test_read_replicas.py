"""Read replicas (``events.query.replicas``) on a real streaming replica: answers are computed on
it, a range that reaches now moves to the primary while the replica lags and comes back when it
has caught up, and a stopped replica costs nothing but the move to the primary. The primary and
the replica are started by ``tests/replica_servers.py`` from the ``pgserver`` wheel's binaries
(the embedded server's), so the test runs the same on CI's servers and on a bare machine."""

import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import child_env
from tests.replica_servers import start_pair

pytestmark = pytest.mark.slow
BASE_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture
def pair():
    found = start_pair(Path(tempfile.mkdtemp(prefix="replica")))  # short: socket paths
    yield found
    found.stop()


def test_reads_move_to_the_replica_and_back_when_it_lags_or_stops(pair):
    env = child_env(DATABASE_URL=pair.primary_url, DATABASE_REPLICA_URLS=pair.replica_url,
                    REPLICA_MAX_LAG_S="1", REPLICA_PAIR=json.dumps(
                        {k: str(v) for k, v in dataclasses.asdict(pair).items()}))
    done = subprocess.run([sys.executable, str(BASE_DIR / "tests" / "replica_probe.py")],
                          cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    replica = out["replica"]
    assert replica.endswith("/analytics") and "rsock" in replica

    # Healthy: both ranges read on the replica, the same answers the data gives.
    assert out["past"] == {"read_from": [replica], "values": [10.0]}
    assert out["now"] == {"read_from": [replica], "values": [30.0]}

    # Replay paused past REPLICA_MAX_LAG_S: the primary answers every range (the new minutes,
    # 50, are there); /readyz's state shows the lag. Caught up: the replica, with them.
    lagging = out["lagging"]
    assert lagging["lag_s"] > 1
    assert lagging["now"] == {"read_from": ["primary"], "values": [30.0, 50.0]}
    assert lagging["past"] == {"read_from": ["primary"], "values": [10.0]}
    assert [(s["name"], s["up"]) for s in lagging["status"]] == [(replica, True)]
    assert lagging["status"][0]["lag_s"] > 1
    assert out["caught_up"] == {"read_from": [replica], "values": [30.0, 50.0]}

    # A person erased: until the replica has replayed the erasure, the primary answers.
    assert out["erasure_ahead"] == {"lag_s": 0.0, "read_from": ["primary"], "values": [10.0]}
    assert out["erasure_replayed"] == {"read_from": [replica], "values": [10.0]}

    # Cut off mid-computation: computed again on the primary (not in recovery), no error.
    assert out["cut_mid_query"] == {"read_from": ["primary"], "in_recovery": False}

    # Stopped: the primary answers both, the same values; the state says it is down.
    assert out["stopped"]["now"]["read_from"] == ["primary"]
    assert out["stopped"]["past"] == {"read_from": ["primary"], "values": [10.0]}
    assert [(s["name"], s["up"]) for s in out["stopped"]["status"]] == [(replica, False)]
    assert out["stopped"]["status"][0]["error"]
    # Started again: back on the replica once its down time is over.
    assert out["restarted"] == {"read_from": [replica], "values": [10.0]}
