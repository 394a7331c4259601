"""The machine's limits beside us: how many rows a second PostgreSQL itself takes by COPY into
tables shaped like ours, and (when Debian's ``influxdb`` is installed) how many points a second
InfluxDB takes over its line protocol — the yardsticks of the ingestion targets, measured in the
same run so that a noisy machine moves both sides alike.

    .venv/bin/python bench/limits.py [--seconds 15] [--processes 2] [--no-influx]
    .venv/bin/python -m analytics_site.embedded exec -- .venv/bin/python bench/limits.py

PostgreSQL: ``DATABASE_URL`` (the second form starts the embedded server). In a scratch schema
``bench_limits`` (dropped at the end) it creates ``points`` and ``events`` with the columns and
indexes of ``events_metricpoint`` and ``events_event`` (one partition's shape). Then, for
``--seconds`` each, ``--processes`` sender processes (and 1 for points, to show the scaling)
each COPY batches — 5,000 points or 1,000 events, text format, built before the clock starts —
one committed transaction per batch, as a request of ours commits. The points are 250 series
with their own timestamps; the events carry the properties, page, browser and campaign fields
the product reports use. (The write path also stores rollup deltas; these are not counted here:
this is the bare table's limit.)

InfluxDB: if ``influxd`` is on PATH (``apt-get install influxdb``) and ``--no-influx`` is not
given, it starts one on a free loopback port in a temporary folder (WAL fsync on, as ours
commits), creates a database and, from ``--processes`` senders, POSTs ``/write`` with 5,000
lines a request (the same 250 series) for ``--seconds``, then counts what it kept.

Last line: {"points_copy_per_s", "points_copy_1_process_per_s", "events_copy_per_s",
"influx_points_per_s" (null without influxd), "processes", "seconds"}. Loopback only; bounded by
``--seconds`` per phase plus start and clean-up (under a minute).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from ingest import psycopg_url  # noqa: E402  (bench/ingest.py)

SCHEMA = "bench_limits"
POINTS_PER_BATCH = 5000
EVENTS_PER_BATCH = 1000
SERIES = 250
BATCHES = 60  # distinct batches per sender, cycled (with moved timestamps) while the clock runs
START = datetime(2026, 1, 5, tzinfo=UTC)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- PostgreSQL ------------------------------------------------------------------------------
def create_tables(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        for table, like in (("points", "events_metricpoint"), ("events", "events_event")):
            conn.execute(f"CREATE TABLE {SCHEMA}.{table} "
                         f"(LIKE public.{like} INCLUDING DEFAULTS INCLUDING INDEXES)")


def drop_tables(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def points_batches(sender: int, rng: random.Random) -> list[bytes]:
    """COPY text of BATCHES batches; every point of a sender has its own timestamp."""
    found = []
    base = START + timedelta(hours=sender)
    for batch in range(BATCHES):
        lines = []
        for n in range(POINTS_PER_BATCH):
            moment = base + timedelta(microseconds=batch * POINTS_PER_BATCH + n)
            lines.append(f"{1 + n % SERIES}\t{moment.isoformat()}\t{rng.random() * 100:.3f}\n")
        found.append("".join(lines).encode())
    return found


PAGES = ("/", "/pricing", "/docs", "/blog/launch", "/signup", "/about")
BROWSERS = ("Chrome", "Firefox", "Safari", "Edge")
EVENT_COLUMNS = ("project_id, uuid, event, distinct_id, person_id, session_id, timestamp, "
                 "received_at, properties, page_url, path, referrer, referrer_domain, browser, "
                 "os, device_type, ip_hash, country, channel, utm_source, utm_medium, "
                 "utm_campaign, is_bot")


def events_batches(sender: int, rng: random.Random) -> list[bytes]:
    found = []
    base = START + timedelta(hours=sender)
    for batch in range(BATCHES):
        lines = []
        for n in range(EVENTS_PER_BATCH):
            moment = (base + timedelta(milliseconds=batch * EVENTS_PER_BATCH + n)).isoformat()
            user = f"user-{rng.randrange(200_000)}"
            path = rng.choice(PAGES)
            event = "page_view" if rng.random() < 0.8 else "signup"
            properties = json.dumps({"plan": rng.choice(("free", "pro")), "n": n})
            lines.append("\t".join((
                "1", str(uuid.uuid4()), event, user, user, f"s-{user}-{batch}", moment, moment,
                properties, f"https://example.com{path}", path, "https://news.example.org/a",
                "news.example.org", rng.choice(BROWSERS), "Linux", "desktop",
                f"{rng.getrandbits(64):016x}", "DE", "referral", "newsletter", "email",
                "launch", "f")) + "\n")
        found.append("".join(lines).encode())
    return found


def _copy_sender(url: str, table: str, columns: str, kind: str, sender: int, seconds: float,
                 start_at: float, queue) -> None:
    rng = random.Random(sender)
    batches = points_batches(sender, rng) if kind == "points" else events_batches(sender, rng)
    per_batch = POINTS_PER_BATCH if kind == "points" else EVENTS_PER_BATCH
    statement = f"COPY {SCHEMA}.{table} ({columns}) FROM STDIN"
    rows = 0
    with psycopg.connect(url) as conn:
        while time.time() < start_at:
            time.sleep(0.005)
        stop = start_at + seconds
        n = 0
        while time.time() < stop:
            with conn.cursor() as cursor, cursor.copy(statement) as copy:
                copy.write(batches[n % BATCHES])
            conn.commit()
            rows += per_batch
            n += 1
        took = time.time() - start_at
    queue.put((rows, took))


def copy_rate(url: str, kind: str, processes: int, seconds: float) -> float:
    table, columns = (("points", 'series_id, "timestamp", value') if kind == "points"
                      else ("events", EVENT_COLUMNS))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {SCHEMA}.{table}")
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start_at = time.time() + 8  # time for every sender to build its batches first
    senders = [context.Process(target=_copy_sender,
                               args=(url, table, columns, kind, n, seconds, start_at, queue))
               for n in range(processes)]
    for sender in senders:
        sender.start()
    results = [queue.get(timeout=seconds + 120) for _ in senders]
    for sender in senders:
        sender.join()
    rows = sum(r for r, _ in results)
    took = max(t for _, t in results)
    with psycopg.connect(url) as conn:
        stored = conn.execute(f"SELECT count(*) FROM {SCHEMA}.{table}").fetchone()[0]  # noqa: S608
    if stored != rows:
        raise SystemExit(f"{kind}: {rows} rows copied but {stored} stored")
    return rows / took


# -- InfluxDB --------------------------------------------------------------------------------
INFLUX_CONFIG = """
reporting-disabled = true
bind-address = "127.0.0.1:{admin}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
"""


def influx_lines(sender: int) -> list[bytes]:
    rng = random.Random(sender)
    found = []
    base_ns = int((START + timedelta(hours=sender)).timestamp() * 1e9)
    for batch in range(BATCHES):
        lines = []
        for n in range(POINTS_PER_BATCH):
            series = n % SERIES
            lines.append(f"m{series % 5},host=h{series // 5} value={rng.random() * 100:.3f} "
                         f"{base_ns + (batch * POINTS_PER_BATCH + n) * 1000}\n")
        found.append("".join(lines).encode())
    return found


def _influx_sender(base_url: str, sender: int, seconds: float, start_at: float, queue) -> None:
    batches = influx_lines(sender)
    points = 0
    with httpx.Client(base_url=base_url, timeout=60) as client:
        while time.time() < start_at:
            time.sleep(0.005)
        stop = start_at + seconds
        n = 0
        while time.time() < stop:
            answer = client.post("/write", params={"db": "bench"}, content=batches[n % BATCHES])
            if answer.status_code != 204:
                raise SystemExit(f"influxdb answered {answer.status_code}: {answer.text[:300]}")
            points += POINTS_PER_BATCH
            n += 1
        took = time.time() - start_at
    queue.put((points, took, n))


class Influx:
    """``influxd`` (on PATH) on free loopback ports with its data in ``root``, a database
    ``bench`` made; ``stop()`` ends it. Also used by bench/peers.py."""

    def __init__(self, root: Path):
        self.root = root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        config = self.root / "influxdb.conf"
        config.write_text(INFLUX_CONFIG.format(root=self.root, port=self.port,
                                               admin=_free_port()))
        self.proc = subprocess.Popen([shutil.which("influxd") or "influxd", "-config",
                                      str(config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/ping", timeout=1).status_code == 204:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("influxd did not start")
            time.sleep(0.2)
        httpx.post(f"{self.url}/query", data={"q": "CREATE DATABASE bench"},
                   timeout=10).raise_for_status()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def influx_rate(processes: int, seconds: float) -> float | None:
    if shutil.which("influxd") is None:
        log("influxd is not installed (apt-get install influxdb): no InfluxDB figure")
        return None
    with tempfile.TemporaryDirectory(prefix="bench-influx-") as root:
        influx = Influx(Path(root))
        try:
            influx.start()
            base_url = influx.url
            context = multiprocessing.get_context("spawn")
            queue = context.Queue()
            start_at = time.time() + 5
            senders = [context.Process(target=_influx_sender,
                                       args=(base_url, n, seconds, start_at, queue))
                       for n in range(processes)]
            for sender in senders:
                sender.start()
            results = [queue.get(timeout=seconds + 120) for _ in senders]
            for sender in senders:
                sender.join()
            sent = sum(r[0] for r in results)
            took = max(r[1] for r in results)
            # Batches repeat (same series and timestamps) once a sender has sent BATCHES of them:
            # InfluxDB keeps one point per series and time, so only the distinct ones count.
            distinct = sum(min(r[2], BATCHES) for r in results) * POINTS_PER_BATCH
            answer = httpx.get(f"{base_url}/query", params={
                "db": "bench", "q": "SELECT count(value) FROM /m[0-9]/"}, timeout=60).json()
            kept = sum(s["values"][0][1] for s in answer["results"][0].get("series", []))
            if kept != distinct:
                raise SystemExit(f"influxdb: {distinct} distinct points sent, {kept} kept")
            return sent / took
        finally:
            influx.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--no-influx", action="store_true")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL is not set (or run it under "
                         "`python -m analytics_site.embedded exec --`)")
    url = psycopg_url(url)
    create_tables(url)
    try:
        log(f"PostgreSQL COPY, {POINTS_PER_BATCH:,} points a batch, 1 process …")
        points_1 = copy_rate(url, "points", 1, args.seconds)
        log(f"  {points_1:,.0f} rows/s")
        log(f"PostgreSQL COPY, {POINTS_PER_BATCH:,} points a batch, {args.processes} processes …")
        points = copy_rate(url, "points", args.processes, args.seconds)
        log(f"  {points:,.0f} rows/s")
        log(f"PostgreSQL COPY, {EVENTS_PER_BATCH:,} events a batch, {args.processes} processes …")
        events = copy_rate(url, "events", args.processes, args.seconds)
        log(f"  {events:,.0f} rows/s")
    finally:
        drop_tables(url)
    influx = None if args.no_influx else influx_rate(args.processes, args.seconds)
    if influx is not None:
        log(f"InfluxDB line protocol, {POINTS_PER_BATCH:,} lines a request, "
            f"{args.processes} senders: {influx:,.0f} points/s")
    print(json.dumps({"points_copy_per_s": round(points), "points_copy_1_process_per_s":
                      round(points_1), "events_copy_per_s": round(events),
                      "influx_points_per_s": None if influx is None else round(influx),
                      "processes": args.processes, "seconds": args.seconds}))


if __name__ == "__main__":
    main()
