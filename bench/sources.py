"""Receivers benchmark: points per second each compatible receiver accepts and stores on this
machine, driven by the real client libraries, and the fraction of StatsD packets lost.

    .venv/bin/python bench/sources.py [--seconds 15] [--external]

It starts its own stack (``python -m analytics_site.launcher``: embedded PostgreSQL and Redis in a
temporary DATA_DIR, web, worker, beat; ``--external`` uses DATABASE_URL / REDIS_URL), creates a
project with its rate limit off, then for ``--seconds`` each (loopback only):

- **statsd**: ``manage.py statsd --key … --flush 2`` on a free port; two sender processes with
  the ``datadog`` DogStatsD client (client-side buffering: many metrics per UDP packet) send
  ``bench.hits:1|c`` at ``--statsd-rate`` metrics/s in all (100,000 by default; 0 = as fast as
  they can). Accepted = the stored total of ``bench.hits`` after the last flush; loss = 1 -
  accepted / sent; the figure is accepted per second, beside the StatsD server process's CPU
  time per metric sent. The senders start once the server accepts connections on its port
  (datagrams sent before it bound were counted as lost).
- **otlp**: two processes post OTLP/HTTP protobuf exports of a gauge with 2,000 attribute sets
  (2,000 data points each), made by ``opentelemetry-sdk`` and encoded by its exporter's encoder
  before the clock starts (eight of them, in turn), over four keep-alive connections each: the
  figure is the receiver's, not the SDK's (which, collecting and encoding in Python, took most
  of the machine itself).
- **influx**: two processes with ``influxdb-client`` (v2 API, synchronous writes) sending
  batches of 5,000 lines.
- **remote_write**: two processes posting snappy ``WriteRequest``s of 2,000 series (built with
  ``events.ingest.receivers.prometheus``'s message definitions before the clock starts, eight in
  turn) with ``httpx``, four connections each.

For the HTTP receivers the figure is the points stored (counted in PostgreSQL) per second of the
phase. Last line: {"statsd_per_s", "statsd_loss_pct", "statsd_cpu_us_per_metric", "otlp_per_s",
"influx_per_s", "remote_write_per_s"}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

from ingest import CpuMeter, Stack, psycopg_url  # noqa: E402  (bench/ingest.py)

SENDERS = 2
CONNECTIONS = 4  # per sender of pre-encoded bodies (OTLP, remote write): 8 requests in flight
PHASES = ("statsd", "otlp", "influx", "remote_write")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Until the StatsD server accepts TCP on ``port`` (it binds UDP first): datagrams sent
    before then reach no socket and were counted as lost (the kernel's ``Udp: NoPorts``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the StatsD server exited ({proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the StatsD server did not listen on {port} in {timeout_s:.0f} s")


def stored(database_url: str, name: str) -> tuple[int, float]:
    with psycopg.connect(psycopg_url(database_url)) as conn:
        row = conn.execute("""SELECT count(*), coalesce(sum(p.value), 0)
                              FROM events_metricpoint p JOIN events_metricseries s
                                ON s.id = p.series_id WHERE s.name = %s""", [name]).fetchone()
    return row


# -- senders (each in a process of its own) -------------------------------------------------------
def _statsd_sender(port: int, per_s: float, seconds: float, worker: int, out) -> None:
    from datadog.dogstatsd import DogStatsd

    client = DogStatsd(host="127.0.0.1", port=port, disable_buffering=False,
                       disable_telemetry=True, max_buffer_len=0)
    sent, started = 0, time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        if per_s and sent > elapsed * per_s:  # paced: per_s metrics a second
            time.sleep(0.001)
            continue
        for _ in range(100):
            client.increment("bench.hits")
        sent += 100
    client.flush()
    out.put(sent)


def _otlp_bodies(worker: int, count: int) -> list[bytes]:
    """``count`` export requests of the gauge ``bench.otlp`` over 2,000 attribute sets, made
    by ``opentelemetry-sdk`` and encoded by its OTLP exporter's encoder."""
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
    from opentelemetry.metrics import Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    tick = {"n": 0}

    def observe(_options):
        tick["n"] += 1
        return [Observation(float(tick["n"]), {"series": f"w{worker}-{i}"}) for i in range(2000)]

    provider.get_meter("bench").create_observable_gauge("bench.otlp", callbacks=[observe])
    bodies = [encode_metrics(reader.get_metrics_data()).SerializeToString()
              for _ in range(count)]
    provider.shutdown()
    return bodies


def _post_bodies(url: str, headers: dict, bodies: list[bytes], points_per_body: int,
                 ok: int, seconds: float) -> tuple[int, float, float]:
    """Post ``bodies`` in turn for ``seconds`` over CONNECTIONS keep-alive connections: points
    stored, and when the posting began and ended (epoch seconds)."""
    import threading

    import httpx

    sent = [0] * CONNECTIONS
    started = time.time()

    def connection(number: int) -> None:
        turn = number
        with httpx.Client(timeout=60, headers=headers) as client:
            while time.time() < started + seconds:
                response = client.post(url, content=bodies[turn % len(bodies)])
                turn += 1
                if response.status_code == ok:
                    sent[number] += points_per_body

    threads = [threading.Thread(target=connection, args=(n,)) for n in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(sent), started, time.time()


def _otlp_sender(url: str, key: str, seconds: float, worker: int, out) -> None:
    bodies = _otlp_bodies(worker, 8)
    out.put(_post_bodies(f"{url}/v1/metrics", {"x-api-key": key,
                                                "content-type": "application/x-protobuf"},
                         bodies, 2000, 200, seconds))


def _influx_sender(url: str, key: str, seconds: float, worker: int, out) -> None:
    from influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import SYNCHRONOUS

    sent, batch_no, deadline = 0, 0, time.monotonic() + seconds
    with InfluxDBClient(url=url, token=key, org="bench", timeout=60_000) as client:
        write = client.write_api(write_options=SYNCHRONOUS)
        while time.monotonic() < deadline:
            now_ns = time.time_ns()
            lines = [f"bench,host=w{worker}-{i % 500} influx={batch_no} {now_ns + i}"
                     for i in range(5000)]
            write.write(bucket="bench", record=lines)
            sent += len(lines)
            batch_no += 1
    out.put(sent)


def _remote_write_sender(url: str, key: str, seconds: float, worker: int, out) -> None:
    import cramjam

    from events.ingest.receivers import prometheus

    bodies = []
    for turn in range(8):
        request = prometheus.WriteRequest()
        now_ms = int(time.time() * 1000) + turn
        for i in range(2000):
            series = request.timeseries.add()
            series.labels.add(name="__name__", value="bench_remote_write")
            series.labels.add(name="series", value=f"w{worker}-{i}")
            series.samples.add(value=float(i), timestamp=now_ms)
        bodies.append(bytes(cramjam.snappy.compress_raw(request.SerializeToString())))
    out.put(_post_bodies(f"{url}/api/v1/prom/write", {"Authorization": f"Bearer {key}"},
                         bodies, 2000, 204, seconds))


def run_senders(target, args_of, seconds: float) -> tuple[int, float]:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_of(w), seconds, w, out))
             for w in range(SENDERS)]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    took = time.perf_counter() - started
    for proc in procs:
        proc.join(30)
    if isinstance(results[0], tuple):  # (sent, began, ended): the window they all posted in
        return sum(r[0] for r in results), max(r[2] for r in results) - min(r[1] for r in results)
    return sum(results), took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--statsd-rate", type=int, default=100_000,
                        help="metrics per second the StatsD senders send (0: as fast as they can)")
    parser.add_argument("--external", action="store_true")
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"comma-separated, of {','.join(PHASES)}")
    args = parser.parse_args()
    phases = [p for p in args.phases.split(",") if p]
    if unknown := set(phases) - set(PHASES):
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    figures = {}
    with tempfile.TemporaryDirectory(prefix="bench-sources-") as tmp:
        stack = Stack(Path(tmp) / "data", args.external)
        statsd_proc = None
        try:
            log(f"starting the stack ({'external' if args.external else 'embedded'} servers) …")
            log(f"  ready in {stack.start():.1f} s at {stack.base_url}")
            created = stack.create_project()
            key, url = created["ingest_key"], stack.base_url
            database_url = stack.database_url()
            env = stack.child_env()

            if "statsd" in phases:
                port = _free_port()
                statsd_proc = subprocess.Popen(
                    [sys.executable, "manage.py", "statsd", "--key", key, "--port", str(port),
                     "--flush", "2"], cwd=BENCH_DIR.parent, env=env)
                _wait_listening(port, statsd_proc)
                _, hits_before = stored(database_url, "bench.hits")  # --external: earlier runs'
                server = psutil.Process(statsd_proc.pid)
                cpu_before = sum(server.cpu_times()[:2])
                log(f"statsd: {SENDERS} DogStatsD senders, {args.statsd_rate:,} metrics/s in "
                    "all …")
                sent, took = run_senders(_statsd_sender,
                                         lambda w: (port, args.statsd_rate / SENDERS),
                                         args.seconds)
                time.sleep(5)  # the last flushes
                server_cpu_s = sum(server.cpu_times()[:2]) - cpu_before
                accepted = stored(database_url, "bench.hits")[1] - hits_before
                loss = max(0.0, 1 - accepted / sent) * 100 if sent else 0.0
                figures["statsd_per_s"] = round(accepted / args.seconds)  # the senders' window
                figures["statsd_loss_pct"] = round(loss, 3)
                figures["statsd_cpu_us_per_metric"] = round(server_cpu_s * 1e6 / sent, 2) \
                    if sent else None
                log(f"  sent {sent:,} in {took:.1f} s, stored {int(accepted):,}: "
                    f"{figures['statsd_per_s']:,}/s, loss {loss:.3f} %, the server's CPU "
                    f"{figures['statsd_cpu_us_per_metric']} µs a metric")

            meter = CpuMeter(stack)
            for label, target, name in (
                    ("otlp", _otlp_sender, "bench.otlp"),
                    ("influx", _influx_sender, "bench.influx"),
                    ("remote_write", _remote_write_sender, "bench_remote_write")):
                if label not in phases:
                    continue
                log(f"{label}: {SENDERS} senders …")
                before, _ = stored(database_url, name)
                meter.start()
                metered = time.perf_counter()
                sent, took = run_senders(target, lambda w: (url, key), args.seconds)
                cpu, metered = meter.stop(), time.perf_counter() - metered
                count, _ = stored(database_url, name)
                figures[f"{label}_per_s"] = round((count - before) / took)
                # the web processes' CPU per stored point (µs): what the receiver costs
                figures[f"{label}_web_us_per_point"] = round(
                    cpu.get("web", 0.0) / 100 * metered / max(count - before, 1) * 1e6, 1)
                log(f"  sent {sent:,}, stored {count - before:,} in {took:.1f} s: "
                    f"{figures[f'{label}_per_s']:,} points/s; CPU % of a core: "
                    + ", ".join(f"{k} {v:.0f}" for k, v in cpu.items()))
        finally:
            if statsd_proc is not None:
                statsd_proc.terminate()
                statsd_proc.wait(30)
            stack.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
