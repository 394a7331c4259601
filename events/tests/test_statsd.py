"""StatsD / DogStatsD: `manage.py statsd` as its own process, fed by the real `datadog`
DogStatsD client and the plain `statsd` package over UDP and TCP; what one flush interval
becomes (counters with sample rates, gauges with deltas, timers' statistics and samples, sets);
listeners configured in the admin, with what they received written back."""

import socket
import subprocess
import sys
import time

import pytest
import statsd as plain_statsd
from datadog.dogstatsd import DogStatsd

from conftest import child_env
from events.ingest.receivers.statsd import Aggregator, StatsdError, parse_line
from events.models import StatsdListener
from events.tests import recent
from projects.models import IngestKey
from tests.server_fixtures import BASE_DIR

pytestmark = pytest.mark.slow


def _free_udp_tcp_port() -> int:
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def _serve(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "statsd", *args], cwd=BASE_DIR,
                            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_listening(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the statsd command did not listen")


def _until(check, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    assert check()


@pytest.fixture
def project(transactional_db, make_project):
    return make_project("Fleet")


def test_dogstatsd_and_statsd_clients_over_udp_and_tcp(project):
    port = _free_udp_tcp_port()
    key = IngestKey.objects.get(project=project).key
    proc = _serve("--key", key, "--port", str(port), "--flush", "1")
    try:
        _wait_listening(port, proc)
        dog = DogStatsd(host="127.0.0.1", port=port, constant_tags=["env:test"],
                        disable_telemetry=True)
        for _ in range(5):
            dog.increment("page.views", tags=["path:/home"])
        dog.gauge("queue.size", 12)
        for value in (10, 20, 30, 40):
            dog.timing("db.query", value)
        dog.histogram("payload.bytes", 512)
        for user in ("a", "b", "a", "c"):
            dog.set("users.unique", user)
        dog.flush()
        plain = plain_statsd.StatsClient("127.0.0.1", port)
        plain.incr("jobs.done", 3)
        plain.gauge("workers", 10)
        plain.gauge("workers", -3, delta=True)
        over_tcp = plain_statsd.TCPStatsClient("127.0.0.1", port)
        over_tcp.connect()
        over_tcp.incr("tcp.hits", 4)
        over_tcp.close()
        _until(lambda: recent.total(project, "sum:tcp.hits{}") == 4)
        assert recent.total(project, "sum:page.views{path:/home,env:test}") == 5
        assert recent.total(project, "last:queue.size{env:test}") == 12
        assert recent.total(project, "sum:db.query.count{}") == 4
        assert recent.total(project, "sum:db.query.sum{}") == 100
        assert recent.total(project, "max:db.query.max{}") == 40
        assert recent.total(project, "last:db.query.p50{}") == 20
        assert recent.total(project, "last:db.query.p95{}") == 40
        assert recent.total(project, "count:db.query{}") == 4  # the samples themselves (sketches)
        assert recent.total(project, "sum:users.unique{}") == 3
        assert recent.total(project, "last:payload.bytes.max{}") == 512
        assert recent.total(project, "sum:jobs.done{}") == 3  # (sample rates: test_the_aggregator)
        _until(lambda: recent.total(project, "last:workers{}") == 7)
    finally:
        proc.terminate()
        proc.wait(30)


def test_listeners_from_the_admin_record_what_they_received(project):
    port = _free_udp_tcp_port()
    listener = StatsdListener.objects.create(
        name="agents", ingest_key=IngestKey.objects.get(project=project), port=port,
        flush_interval_s=1)
    proc = _serve()
    try:
        _wait_listening(port, proc)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"deploys:1|c\nbroken line\nlatency:5|ms|@0.5", ("127.0.0.1", port))

        def recorded():
            listener.refresh_from_db()
            return listener.received_total == 2
        _until(recorded)
        assert listener.rejected_total == 1
        assert listener.last_error.startswith("expected name:value|type")
        assert listener.last_received_at is not None
        assert recent.total(project, "sum:deploys{}") == 1
        assert recent.total(project, "sum:latency.count{}") == 2  # 1 sample at rate 0.5
    finally:
        proc.terminate()
        proc.wait(30)


def test_the_aggregator():
    agg = Aggregator()
    agg.feed("hits:1|c|@0.1\nhits:2|c\ng:5|g\ng:+3|g\ng:-1|g\nt:1:2:3:4|ms|#a:b\ns:x|s\ns:x|s")
    points = {(p["name"], tuple(p["tags"].items())): p["value"] for p in agg.flush(100.0)}
    assert points[("hits", ())] == 12.0
    assert points[("g", ())] == 7.0
    assert points[("t.count", (("a", "b"),))] == 4.0
    assert points[("t.p50", (("a", "b"),))] == 2.0
    assert points[("t.p99", (("a", "b"),))] == 4.0
    assert points[("s", ())] == 1.0
    agg.feed("g:+1|g")
    assert [p["value"] for p in agg.flush(110.0) if p["name"] == "g"] == [8.0]
    assert agg.flush(120.0) == []  # nothing new: nothing to write


def test_a_line_that_comes_again_counts_again_in_its_place():
    """Lines are parsed once while they keep coming; each one still counts, in order."""
    agg = Aggregator()
    packet = "hits:1|c\n" * 500 + "g:1|g\ng:2|g\ng:1|g\ng:+1|g\ng:+1|g\n x:1|q\n x:1|q\n\n"
    for _ in range(3):
        agg.feed(packet)
    assert (agg.received, agg.rejected, agg.last_error) == (3 * 505, 6, "unknown type 'q'")
    points = {p["name"]: p["value"] for p in agg.flush(100.0)}
    assert points == {"hits": 1500.0, "g": 3.0}  # the last set (1), then its two deltas
    long_line = "t:" + ":".join(["3"] * 200) + "|ms"  # kept parsed only while short
    agg.feed(f"{long_line}\n{long_line}")
    assert long_line not in agg._parsed and "hits:1|c" in agg._parsed
    assert agg.flush(105.0)[0] == {"name": "t.count", "value": 400.0, "tags": {},
                                   "timestamp": 105.0}
    agg.feed("t:3|ms\nt:3|ms\nt:1|ms")
    assert {p["name"]: p["value"] for p in agg.flush(110.0) if p["name"] != "t"} == {
        "t.count": 3.0, "t.sum": 7.0, "t.min": 1.0, "t.max": 3.0, "t.p50": 3.0, "t.p75": 3.0,
        "t.p90": 3.0, "t.p95": 3.0, "t.p99": 3.0}


@pytest.mark.parametrize(("line", "message"), [
    ("novalue|c", "expected name:value|type"),
    ("x:1|q", "unknown type 'q'"),
    ("x:1|c|@2", "sample rate 2 outside (0, 1]"),
])
def test_bad_lines(line, message):
    with pytest.raises(StatsdError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("|", r"\|")):
        parse_line(line)
