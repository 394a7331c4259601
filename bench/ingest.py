"""Ingestion benchmark: how many product events and metric points per second one web process
takes in and keeps, the request latency under that load, and whether anything acknowledged was
lost or stored twice.

    .venv/bin/python bench/ingest.py [--seconds 60] [--connections 8] [--processes 1]
                                     [--external] [--cold-series] [--compare-limit]
                                     [--phases events100,events,points,line]

It starts its own stack (``python -m analytics_site.launcher``: embedded PostgreSQL and Redis in
a temporary DATA_DIR, web, worker, beat) on a free loopback port, creates a project per phase with
``manage.py createproject`` and turns its ingest key's rate limit off. Then, for ``--seconds``
each, over ``--connections`` concurrent keep-alive HTTP connections:

A. ``POST /api/v1/events/batch``, 100 events per request, each with its own uuid;
B. the same, 1,000 events per request;
C. ``POST /api/v1/metrics``, 1,000 JSON points per request (5 metric names x 50 hosts), each
   point with its own timestamp (phase start + a unique number of microseconds), so that every
   point can be told apart in the database;
D. ``POST /api/v2/write?precision=ns``, 5,000 points per request in InfluxDB line protocol
   (``cpu,host=web-01 user=12.5 <ns>``: the same metric names, hosts and unique timestamps).

Before C and D one request registers the 250 series (steady state: agents mostly report series
that exist); ``--cold-series`` skips that and lets the timed phase create them under concurrency.
An item is *acknowledged* when its request got 202 with ``accepted`` equal to the batch size
(204 for line protocol). After each phase the database is read directly (psycopg): rows stored,
acknowledged items missing (``lost``) and items stored more than once (``duplicated``); then how
long the worker takes to fold the phase's pending rollup deltas, and whether the rollups count
every stored item. CPU seconds of the client, web (daphne), PostgreSQL, Redis and the rest are
sampled per phase to show what the bottleneck is.

``--phases`` runs only the phases named (A ``events100``, B ``events``, C ``points``, D ``line``);
the figures of the others are 0 or null.

``--external`` uses ``DATABASE_URL`` / ``REDIS_URL`` from the environment instead of the embedded
servers (and writes "Bench…" projects into that database); the CPU meter then counts every
``postgres`` and ``redis-server`` process of the machine. Loopback only; bounded in time (start
≤ 3 min, each of the four phases ``--seconds`` plus ≤ 30 s of draining, stop ≤ 2 min); the stack
it starts is always stopped (SIGINT) before it exits.

``--compare-limit`` then measures PostgreSQL's own COPY into tables shaped like ours in the same
database (``bench/limits.py``: 2 senders, 5,000 points or 1,000 events a committed batch) while the
stack idles, and adds the ratios (#19's targets: 0.5 for points and for events at 1,000 a request).

Last line: {"events_per_s", "events_p95_ms" (B), "events_100_per_s", "events_100_p95_ms" (A),
"events_with_rollups_per_s" (B), "events_100_with_rollups_per_s" (A): the events stored per second
of the phase plus the time the worker then took to fold the rest of their rollup deltas,
"points_per_s", "p95_ms" (C), "line_per_s", "line_p95_ms" (D), the web processes' CPU per item
"web_us_per_event" (B), "web_us_per_point" (C), "web_us_per_line_point" (D), "lost",
"duplicated"} and, with
``--compare-limit``, "points_copy_per_s", "events_copy_per_s", "points_ratio_to_copy",
"line_ratio_to_copy", "events_ratio_to_copy", "events_100_ratio_to_copy".
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import multiprocessing
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path

import httpx
import numpy as np
import orjson
import psutil
import psycopg
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 180
STOP_TIMEOUT_S = 120
PHASES = {"events100", "events", "points", "line"}
DRAIN_S = 30  # after the phase ends, in-flight requests get this long to finish
REQUEST_TIMEOUT_S = 30

EVENTS_PER_BATCH = 100  # phase A; phase B sends 1,000
POINTS_PER_BATCH = 1000  # phase C (JSON)
LINES_PER_BATCH = 5000  # phase D (line protocol)
EVENT_NAMES = ["$pageview", "$pageview", "$pageview", "click", "signup", "purchase"]
PLANS = ["free", "pro", "team", "enterprise"]
PATHS = ["/", "/pricing", "/docs", "/blog/launch", "/checkout", "/account"]
ENDPOINTS = {"events": "/api/v1/events/batch", "points": "/api/v1/metrics",  # each kind's
             "line": "/api/v2/write?precision=ns"}
METRIC_NAMES = ["cpu.user", "cpu.system", "mem.used", "http.latency_ms", "queue.depth"]
HOSTS = [f"web-{n:02d}" for n in range(1, 51)]


# -- the stack under test -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psycopg_url(url: str) -> str:
    """libpq wants postgresql:// (or a conninfo string) for the percent-encoded socket form."""
    return "postgresql://" + url.removeprefix("postgres://") if url.startswith("postgres://") \
        else url


class Stack:
    """The launcher (web, worker, beat, and in embedded mode PostgreSQL and Redis) on a free
    port, with a temporary DATA_DIR; ``manage.py`` and ``embedded`` commands in the same env."""

    def __init__(self, data_dir: Path, external: bool):
        self.data_dir = data_dir
        self.external = external
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / "launcher.log"
        drop = {"DJANGO_SETTINGS_MODULE"} | (set() if external else {"DATABASE_URL", "REDIS_URL"})
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env.update({"DATA_DIR": str(data_dir), "HOST": "127.0.0.1", "PORT": str(self.port),
                         "ADMIN_PASSWORD": "bench", "SEED_DEMO": "false",
                         "PYTHONUNBUFFERED": "1"})
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        started = time.perf_counter()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "analytics_site.launcher"],
                                     cwd=BASE_DIR, env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        with httpx.Client(timeout=2) as client:
            while True:
                try:
                    if client.get(f"{self.base_url}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if self.proc.poll() is not None:
                    self.fail(f"the launcher exited with code {self.proc.returncode}")
                if time.perf_counter() - started > READY_TIMEOUT_S:
                    self.fail(f"/readyz was not 200 within {READY_TIMEOUT_S} s")
                time.sleep(0.2)
        return time.perf_counter() - started

    def fail(self, reason: str):
        tail = self.log_path.read_text(errors="replace").splitlines()[-30:]
        raise SystemExit(f"{reason}; last launcher lines:\n" + "\n".join(tail))

    def run(self, *argv: str) -> str:
        done = subprocess.run([sys.executable, *argv], cwd=BASE_DIR, env=self.env,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done.stdout

    @staticmethod
    def last_json(output: str) -> dict:
        lines = [line for line in output.splitlines() if line.startswith("{")]
        if not lines:
            raise SystemExit(f"expected a JSON line, got:\n{output[-2000:]}")
        return json.loads(lines[-1])

    def create_project(self, name: str = "Bench") -> dict:
        project = self.last_json(self.run("manage.py", "createproject", name,
                                          "--owner", "bench"))
        key = project["ingest_key"]
        if not re.fullmatch(r"[A-Za-z0-9_-]+", key):  # it goes into a Python string below
            raise SystemExit(f"unexpected ingest key {key!r}")
        self.run("manage.py", "shell", "-c",
                 "from projects.models import IngestKey; "
                 f"IngestKey.objects.filter(key='{key}').update(rate_limit_per_s=0)")
        return project

    def child_env(self) -> dict:
        """The stack's environment with the servers' URLs (embedded ones included), for a
        process that works on the stack's database and Redis directly."""
        urls = self.last_json(self.run("-m", "analytics_site.embedded", "urls"))
        return {**self.env, **urls}

    def database_url(self) -> str:
        if self.external:
            return self.env["DATABASE_URL"]
        # While the launcher holds the embedded servers this only looks their URLs up.
        return self.last_json(self.run("-m", "analytics_site.embedded", "urls"))["DATABASE_URL"]

    def stop(self) -> float | None:
        if self.proc is None or self.proc.poll() is not None:
            return None
        stopping = time.perf_counter()
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            print(f"the launcher did not stop in {STOP_TIMEOUT_S} s; killing it", file=sys.stderr)
            self.proc.kill()
            self.proc.wait()
            if not self.external:
                subprocess.run([sys.executable, "-m", "analytics_site.embedded", "stop"],
                               cwd=BASE_DIR, env=self.env, timeout=120, check=False)
        return time.perf_counter() - stopping

    # -- processes, for the CPU meter --
    def process_groups(self) -> dict[str, list[psutil.Process]]:
        groups: dict[str, list[psutil.Process]] = {"web": [], "postgres": [], "redis": [],
                                                   "worker+beat": [], "launcher": []}
        if self.proc is None:
            return groups
        try:
            launcher = psutil.Process(self.proc.pid)
            groups["launcher"].append(launcher)
            for child in launcher.children(recursive=True):
                with _gone():
                    web = "analytics_site.serve" in child.cmdline()[:3]
                    groups["web" if web else "worker+beat"].append(child)
        except psutil.NoSuchProcess:
            pass
        if self.external:  # the machine's own servers (loopback only): every process of them
            for proc in psutil.process_iter(["name"]):
                name = {"postgres": "postgres", "redis-server": "redis"}.get(proc.info["name"])
                if name:
                    groups[name].append(proc)
            return groups
        for name, pid_file in (("postgres", self.data_dir / "pg" / "postmaster.pid"),
                               ("redis", self.data_dir / "redis" / "redis.pid")):
            try:
                root = psutil.Process(int(pid_file.read_text().split()[0]))
                groups[name] += [root, *root.children(recursive=True)]
            except (OSError, ValueError, IndexError, psutil.NoSuchProcess):
                continue
        return groups


class _gone:
    """Ignore processes that exit while being looked at."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        return kind is not None and issubclass(kind, psutil.Error)


class CpuMeter:
    """CPU seconds each group of server processes used between start() and stop(), as a % of
    one core. Processes that exit in between are missed (the pools keep theirs alive)."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.before: dict[int, float] = {}
        self.started = 0.0

    @staticmethod
    def _cpu(proc: psutil.Process) -> float:
        times = proc.cpu_times()
        return times.user + times.system

    def start(self) -> None:
        self.before = {}
        for procs in self.stack.process_groups().values():
            for proc in procs:
                with _gone():
                    self.before[proc.pid] = self._cpu(proc)
        psutil.cpu_percent(None)
        self.started = time.perf_counter()

    def stop(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self.started
        usage = {"machine": psutil.cpu_percent(None) * psutil.cpu_count()}  # % of one core
        for name, procs in self.stack.process_groups().items():
            used = 0.0
            for proc in procs:
                with _gone():
                    used += self._cpu(proc) - self.before.get(proc.pid, 0.0)
            usage[name] = 100 * used / elapsed
        return usage


# -- load generation ------------------------------------------------------------------------------
@dataclass
class Load:
    """What one phase (or one load process of it) saw."""

    requests: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    acked: list = field(default_factory=list)  # uuids (events) or sequence numbers (points)
    statuses: Counter = field(default_factory=Counter)  # everything but a full 202
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0

    def merge(self, other: Load) -> None:
        self.requests += other.requests
        self.latencies_ms += other.latencies_ms
        self.acked += other.acked
        self.statuses.update(other.statuses)
        self.elapsed_s = max(self.elapsed_s, other.elapsed_s)
        self.client_cpu_s += other.client_cpu_s


@dataclass(frozen=True)
class Job:
    kind: str  # "events", "points" (JSON) or "line" (InfluxDB line protocol)
    url: str
    ingest_key: str
    seconds: float
    connections: int
    worker: int = 0  # this load process's number, of `workers`
    workers: int = 1
    t0: datetime | None = None  # points: timestamp of sequence number 0
    batch: int = EVENTS_PER_BATCH  # items a request
    path: str | None = None  # another server's path for the same load (bench/peers.py)


def event_batch(rng: random.Random, size: int = EVENTS_PER_BATCH) -> tuple[list[str], bytes]:
    """A batch of ``size`` new events (each with its own uuid) and its JSON body."""
    ids = [str(uuid.uuid4()) for _ in range(size)]
    events = [{"uuid": event_id, **_event_fields(rng)} for event_id in ids]
    return ids, orjson.dumps({"events": events})


def _event_fields(rng: random.Random) -> dict:
    user = rng.randrange(5000)
    return {
        "event": rng.choice(EVENT_NAMES),
        "distinct_id": f"user-{user}",
        "session_id": f"s-{user}-{rng.randrange(4)}",
        "properties": {"plan": rng.choice(PLANS), "amount": round(rng.random() * 200, 2)},
        "page_url": f"https://shop.example.com{rng.choice(PATHS)}",
    }


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_UUID_DIGITS = [c for c in range(36) if c not in (8, 13, 18, 23)]


def random_uuids(n: int) -> list[str]:
    """``n`` random uuids as text (the 122 random bits of ``uuid4``, and its version and
    variant), made for a whole batch at once."""
    nibbles = np.frombuffer(os.urandom(16 * n), np.uint8).reshape(n, 16)
    digits = np.empty((n, 32), np.uint8)
    digits[:, 0::2], digits[:, 1::2] = nibbles >> 4, nibbles & 15
    digits[:, 12] = 4  # version
    digits[:, 16] = 8 | (digits[:, 16] & 3)  # variant 10xx
    text = np.full((n, 36), ord("-"), np.uint8)
    text[:, _UUID_DIGITS] = _HEX[digits]
    whole = text.tobytes().decode()
    return [whole[i:i + 36] for i in range(0, 36 * n, 36)]


class Bodies:
    """Request bodies made with little of the client's CPU during a phase, like the yardsticks'
    senders (``bench/limits.py`` replays batches it made before the clock starts), so that the
    machine's two cores go to the servers under test. Before the clock: POOL items, each
    rendered once as the JSON or line-protocol text around what every request must make new.
    Per request: the next items of the pool (from a random place, in a cycle), each given a
    new random uuid (events) or its own time (points: the run's t0 plus its sequence number in
    µs, so every point can be told apart in the database). Items of the same distribution as
    the benchmark sent before, when it made every item per request (10 to 16 µs an item here,
    up to 44 % of a core in the JSON points phase)."""

    POOL = 20_000

    def __init__(self, job: Job, rng: random.Random):
        self.job, self.rng = job, rng
        if job.kind == "events":
            self.pool = [b'",' + orjson.dumps(_event_fields(rng))[1:]
                         for _ in range(self.POOL)]
        elif job.kind == "points":
            self.pool = [orjson.dumps({"name": rng.choice(METRIC_NAMES),
                                       "tags": {"host": rng.choice(HOSTS)},
                                       "value": rng.random() * 100})[:-1] + b',"timestamp":"'
                         for _ in range(self.POOL)]
        else:
            self.pool = []
            for _ in range(self.POOL):
                measurement, _, field_name = rng.choice(METRIC_NAMES).partition(".")
                self.pool.append(f"{measurement},host={rng.choice(HOSTS)} "
                                 f"{field_name}={rng.random() * 100!r} ".encode())
        if job.t0 is not None:
            self.t0_us = (job.t0 - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)

    def _items(self, n: int) -> list[bytes]:
        start = self.rng.randrange(self.POOL)
        items = self.pool[start:start + n]
        while len(items) < n:
            items += self.pool[:n - len(items)]
        return items

    def events(self, n: int) -> tuple[list[str], bytes]:
        ids = random_uuids(n)
        body = b"},{".join([b'"uuid":"' + i.encode() + rest[:-1]
                            for i, rest in zip(ids, self._items(n), strict=True)])
        return ids, b'{"events":[{' + body + b"}]}"

    def points(self, first: int, n: int) -> tuple[list[int], bytes]:
        seqs = range(first, first + n * self.job.workers, self.job.workers)
        body = b'"},'.join([head + _iso(self.t0_us + seq) for head, seq
                            in zip(self._items(n), seqs, strict=True)])
        return list(seqs), b'{"points":[' + body + b'"}]}'

    def lines(self, first: int, n: int) -> tuple[list[int], bytes]:
        seqs = range(first, first + n * self.job.workers, self.job.workers)
        t0_ns = (self.t0_us // 1_000_000) * 1_000_000_000
        body = b"\n".join([head + b"%d" % (t0_ns + seq * 1000) for head, seq
                           in zip(self._items(n), seqs, strict=True)])
        return list(seqs), body


@functools.lru_cache(maxsize=64)
def _second_text(second: int) -> bytes:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=second)).strftime(
        "%Y-%m-%dT%H:%M:%S").encode()


def _iso(micros: int) -> bytes:
    """Epoch µs as ISO 8601 text with microseconds and +00:00 (as ``isoformat`` writes it)."""
    second, rest = divmod(micros, 1_000_000)
    return _second_text(second) + b".%06d+00:00" % rest


class Http11:
    """One keep-alive HTTP/1.1 connection to a loopback server, for the load: a POST written as
    one buffer, the answer read by its Content-Length (or chunks). httpx spent about 5 ms of
    the client's CPU a request here (a quarter of a core at 100 events a request); this, a
    tenth of it. The yardsticks' senders are as lean (``bench/limits.py``: psycopg's COPY, and
    for InfluxDB the same load as ours, through this class)."""

    def __init__(self, url: str, timeout_s: float = REQUEST_TIMEOUT_S):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.timeout_s = timeout_s
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """(status, body); OSError, asyncio.TimeoutError or ValueError (a malformed answer),
        after which the connection is closed and the next call opens another."""
        try:
            return await asyncio.wait_for(self._post(path, body, headers), self.timeout_s)
        except BaseException:
            self.close()
            raise

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{head}"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        assert self.reader is not None
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if status == 204 or status == 304 or status < 200:
            answer = b""
        elif "content-length" in fields:
            answer = await self.reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            answer = b""
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                answer += (await self.reader.readexactly(size + 2))[:-2]
            await self.reader.readuntil(b"\r\n")  # no trailers are sent here
        else:
            raise ValueError("an answer without Content-Length or chunks")
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _connection(job: Job, deadline: float, out: Load, bodies: Bodies,
                      counter: list[int]) -> None:
    client = Http11(job.url)
    try:
        await _requests(client, job, deadline, out, bodies, counter)
    finally:
        client.close()


async def _requests(client: Http11, job: Job, deadline: float, out: Load, bodies: Bodies,
                    counter: list[int]) -> None:
    path = job.path or ENDPOINTS[job.kind]
    headers = {"X-API-Key": job.ingest_key, "Content-Type": "application/json"}
    if job.kind == "line":
        headers = {"Authorization": f"Token {job.ingest_key}",
                   "Content-Type": "text/plain; charset=utf-8"}
    ok = 204 if job.kind == "line" else 202
    while time.perf_counter() < deadline:
        if job.kind == "events":
            ids, body = bodies.events(job.batch)
        else:
            first = job.worker + counter[0] * job.batch * job.workers
            counter[0] += 1
            ids, body = (bodies.lines if job.kind == "line" else bodies.points)(first, job.batch)
        sent = time.perf_counter()
        out.requests += 1
        try:
            status, answer = await client.post(path, body, headers)
        except TimeoutError:
            out.statuses["timeout"] += 1
            continue
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError) as exc:  # IndexError: a malformed status line
            out.statuses[type(exc).__name__] += 1
            await asyncio.sleep(0.1)
            continue
        out.latencies_ms.append((time.perf_counter() - sent) * 1000)
        if status != ok:
            out.statuses[str(status)] += 1
            continue
        if ok == 204 or orjson.loads(answer).get("accepted") == len(ids):
            out.acked += ids
        else:
            out.statuses["202 partial"] += 1


async def _load(job: Job) -> Load:
    out = Load()
    bodies = Bodies(job, random.Random(f"{job.kind}-{job.worker}"))
    counter = [0]
    cpu_before = time.process_time()
    started = time.perf_counter()
    deadline = started + job.seconds
    tasks = [asyncio.create_task(_connection(job, deadline, out, bodies, counter))
             for _ in range(job.connections)]
    done, pending = await asyncio.wait(tasks, timeout=job.seconds + DRAIN_S)
    for task in pending:
        task.cancel()
        out.statuses["cancelled"] += 1
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None:
            raise task.exception()
    out.elapsed_s = time.perf_counter() - started
    out.client_cpu_s = time.process_time() - cpu_before
    return out


def _load_in_process(job: Job) -> Load:
    return asyncio.run(_load(job))


def run_phase(job: Job, processes: int) -> Load:
    if processes <= 1:
        return _load_in_process(job)
    shares = [job.connections // processes + (n < job.connections % processes)
              for n in range(processes)]
    jobs = [Job(**{**job.__dict__, "connections": share, "worker": n, "workers": processes})
            for n, share in enumerate(shares) if share]
    total = Load()
    with ProcessPoolExecutor(len(jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
        for part in pool.map(_load_in_process, jobs):
            total.merge(part)
    return total


def warm_series(job: Job) -> list[int]:
    """One point per series (sequence numbers -1, -2, ...) in one request: the timed phase then
    measures steady-state ingestion, not series creation. Returns the acknowledged numbers."""
    assert job.t0 is not None
    seqs = [-(n + 1) for n in range(len(METRIC_NAMES) * len(HOSTS))]
    points = [{"name": name, "tags": {"host": host}, "value": 0.0,
               "timestamp": (job.t0 + timedelta(microseconds=seq)).isoformat()}
              for seq, (name, host) in zip(seqs, product(METRIC_NAMES, HOSTS), strict=True)]
    with httpx.Client(base_url=job.url, timeout=REQUEST_TIMEOUT_S) as client:
        response = client.post("/api/v1/metrics", content=orjson.dumps({"points": points}),
                               headers={"X-API-Key": job.ingest_key,
                                        "Content-Type": "application/json"})
    if response.status_code == 202 and response.json().get("accepted") == len(points):
        return seqs
    print(f"warning: series warm-up got {response.status_code}: {response.text[:300]}",
          file=sys.stderr)
    return []


# -- checking the database ------------------------------------------------------------------------
def _acked_table(conn: psycopg.Connection, column_type: str, values: list) -> None:
    """The acknowledged ids as temporary table bench_acked (v), dropped at commit."""
    conn.execute(sql.SQL("CREATE TEMP TABLE bench_acked (v {}) ON COMMIT DROP").format(
        sql.SQL(column_type)))
    with conn.cursor().copy("COPY bench_acked (v) FROM STDIN") as copy:
        for value in values:
            copy.write_row((value,))
    conn.execute("ANALYZE bench_acked")


def check_events(database_url: str, project_id: int, acked: list[str]) -> dict:
    with psycopg.connect(psycopg_url(database_url)) as conn, conn.transaction():
        _acked_table(conn, "uuid", acked)
        stored, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT uuid) FROM events_event WHERE project_id = %s",
            [project_id]).fetchone()
        lost = conn.execute(
            """SELECT count(*) FROM bench_acked a WHERE NOT EXISTS (
                   SELECT 1 FROM events_event e WHERE e.project_id = %s AND e.uuid = a.v)""",
            [project_id]).fetchone()[0]
    return {"stored": stored, "distinct": distinct, "lost": lost,
            "duplicated": stored - distinct}


def check_points(database_url: str, project_id: int, t0: datetime, acked: list[int]) -> dict:
    with psycopg.connect(psycopg_url(database_url)) as conn, conn.transaction():
        _acked_table(conn, "bigint", acked)
        conn.execute(
            """CREATE TEMP TABLE bench_stored ON COMMIT DROP AS
               SELECT p."timestamp" AS ts FROM events_metricpoint p
               JOIN events_metricseries s ON s.id = p.series_id WHERE s.project_id = %s""",
            [project_id])
        conn.execute("ANALYZE bench_stored")
        stored, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT ts) FROM bench_stored").fetchone()
        lost = conn.execute(
            """SELECT count(*) FROM bench_acked a WHERE NOT EXISTS (
                   SELECT 1 FROM bench_stored s
                   WHERE s.ts = %s::timestamptz + a.v * interval '1 microsecond')""",
            [t0]).fetchone()[0]
    return {"stored": stored, "distinct": distinct, "lost": lost,
            "duplicated": stored - distinct}


# -- report ---------------------------------------------------------------------------------------
ROLLUP_WAIT_S = 120


def rollup_lag(database_url: str) -> tuple[float, int]:
    """Seconds from now until the worker has folded every pending delta into the rollups, and
    how many deltas were pending when the phase ended."""
    began = time.perf_counter()
    first = None
    with psycopg.connect(psycopg_url(database_url), autocommit=True) as conn:
        while True:
            pending = conn.execute(
                "SELECT (SELECT count(*) FROM events_metricdelta)"
                " + (SELECT count(*) FROM events_eventdelta)"
                " + (SELECT count(*) FROM events_sessiondelta)"
                " + (SELECT count(*) FROM events_dimdelta)"
                " + (SELECT count(*) FROM events_persondelta)").fetchone()[0]
            first = pending if first is None else first
            if pending == 0 or time.perf_counter() - began > ROLLUP_WAIT_S:
                return time.perf_counter() - began, first
            time.sleep(0.25)


def rollup_totals(database_url: str, project_id: int) -> tuple[int, int]:
    """Events counted by the hourly rollup and points counted by the 1-minute rollup."""
    with psycopg.connect(psycopg_url(database_url)) as conn:
        events = conn.execute("SELECT coalesce(sum(count), 0) FROM events_hourrollup"
                              " WHERE project_id = %s", [project_id]).fetchone()[0]
        points = conn.execute(
            "SELECT coalesce(sum(r.count), 0) FROM events_metricrollup1m r"
            " JOIN events_metricseries s ON s.id = r.series_id WHERE s.project_id = %s",
            [project_id]).fetchone()[0]
    return int(events), int(points)


def copy_limits(database_url: str, seconds: float) -> dict:
    """bench/limits.py's COPY limits (5,000 points or 1,000 events a committed batch, 2 senders)
    in the database the platform just wrote to, while its stack idles."""
    sys.path.insert(0, str(BASE_DIR / "bench"))
    import limits

    url = psycopg_url(database_url)
    limits.create_tables(url)
    try:
        found = {kind: limits.copy_rate(url, kind, 2, seconds) for kind in ("points", "events")}
    finally:
        limits.drop_tables(url)
    print(f"PostgreSQL COPY beside it, 2 senders: {found['points']:,.0f} points/s (5,000 a "
          f"batch), {found['events']:,.0f} events/s (1,000 a batch)")
    return found


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def report(label: str, unit: str, load: Load, check: dict, cpu: dict, before: int = 0) -> dict:
    """``before``: items acknowledged (and checked) ahead of the timed phase, e.g. the warm-up."""
    elapsed = load.elapsed_s or 1.0
    acked = len(load.acked)
    lat = {p: round(percentile(load.latencies_ms, p), 1) for p in (50, 95, 99)}
    extra = check["distinct"] - (acked + before - check["lost"])
    print(f"{label}: {load.requests} requests in {elapsed:.1f} s, {acked} {unit} acknowledged")
    print(f"  {unit}/s accepted (acknowledged): {acked / elapsed:,.0f}")
    print(f"  {unit}/s stored:                  {(check['stored'] - before) / elapsed:,.0f}"
          f"  ({check['stored']} rows" + (f", {before} of them from the warm-up)" if before
                                          else ")"))
    print(f"  latency per request (ms):        p50 {lat[50]}  p95 {lat[95]}  p99 {lat[99]}"
          f"  max {round(max(load.latencies_ms, default=0), 1)}")
    print(f"  not a full 202: {dict(load.statuses) or 'none'}")
    print(f"  lost (acknowledged, not stored): {check['lost']};  duplicated: "
          f"{check['duplicated']};  stored without acknowledgement: {extra}")
    client = 100 * load.client_cpu_s / elapsed
    parts = "  ".join(f"{name} {value:.0f}%" for name, value in cpu.items() if name != "machine")
    print(f"  CPU, % of one core: client {client:.0f}%  {parts}  "
          f"(machine {cpu['machine']:.0f}% of {psutil.cpu_count() * 100}%)")
    # CPU per item: steadier than items per second on a shared machine, for before/after.
    web_us = cpu.get("web", 0.0) / 100 * elapsed / max(acked, 1) * 1e6
    print(f"  web processes' CPU per item: {web_us:.1f} µs")
    return {"per_s": acked / elapsed, "p95_ms": lat[95], "lost": check["lost"],
            "duplicated": check["duplicated"], "web_us": round(web_us, 1)}


# -- main -----------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of each phase")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--processes", type=int, default=1,
                        help="load-generating processes the connections are spread over")
    parser.add_argument("--external", action="store_true",
                        help="use DATABASE_URL / REDIS_URL from the environment")
    parser.add_argument("--cold-series", action="store_true",
                        help="no series warm-up: the timed points phase creates the series")
    parser.add_argument("--phases", default="events100,events,points,line",
                        help="which phases, comma-separated (default: all four)")
    parser.add_argument("--compare-limit", action="store_true",
                        help="then PostgreSQL's own COPY into tables shaped like ours "
                             "(bench/limits.py, 2 senders) in the same database, and the ratios")
    args = parser.parse_args()
    if args.seconds <= 0 or args.connections < 1 or args.processes < 1:
        parser.error("--seconds must be > 0, --connections and --processes >= 1")
    chosen = set(args.phases.split(","))
    if not chosen <= PHASES:
        parser.error(f"--phases: choose from {', '.join(sorted(PHASES))}")
    if args.external:
        if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
            parser.error("--external needs DATABASE_URL and REDIS_URL in the environment")
        print("warning: --external writes a 'Bench' project and its data into DATABASE_URL's "
              "database", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="analytics-bench-") as tmp:
        stack = Stack(Path(tmp) / "var", external=args.external)
        try:
            ready_s = stack.start()
            print(f"stack ready in {ready_s:.1f} s on {stack.base_url} "
                  f"({'external' if args.external else 'embedded'} PostgreSQL/Redis); "
                  f"{args.connections} connections, {args.processes} load process(es), "
                  f"{args.seconds:g} s per phase")
            database_url = stack.database_url()
            meter = CpuMeter(stack)

            def events_phase(batch: int, name: str) -> dict:
                project = stack.create_project(name)
                job = Job(kind="events", url=stack.base_url, ingest_key=project["ingest_key"],
                          seconds=args.seconds, connections=args.connections, batch=batch)
                meter.start()
                load = run_phase(job, args.processes)
                cpu = meter.stop()
                lag, pending = rollup_lag(database_url)
                check = check_events(database_url, project["project_id"], load.acked)
                found = report(f"events (batches of {batch:,})", "events", load, check, cpu)
                print(f"  rollups: {pending:,} deltas pending at the end, all folded "
                      f"{lag:.1f} s later")
                # What the machine keeps up with, its rollups included: a phase's items over the
                # phase and the time the worker then needed to fold the rest of its deltas.
                found["with_rollups_per_s"] = check["stored"] / ((load.elapsed_s or 1.0) + lag)
                print(f"  events/s with their rollups folded: {found['with_rollups_per_s']:,.0f}")
                rolled = rollup_totals(database_url, project["project_id"])[0]
                print(f"  rollups count {rolled:,} events (stored {check['stored']:,})")
                return found

            def points_phase(kind: str, batch: int, name: str) -> dict:
                project = stack.create_project(name)
                job = Job(kind=kind, url=stack.base_url, ingest_key=project["ingest_key"],
                          seconds=args.seconds, connections=args.connections, batch=batch,
                          t0=datetime.now(UTC).replace(microsecond=0))
                warmed = [] if args.cold_series else warm_series(job)
                meter.start()
                load = run_phase(job, args.processes)
                cpu = meter.stop()
                check = check_points(database_url, project["project_id"], job.t0,
                                     load.acked + warmed)
                label = "points, JSON" if kind == "points" else "points, line protocol"
                found = report(f"{label} (batches of {batch:,})", "points", load, check, cpu,
                               before=len(warmed))
                lag, pending = rollup_lag(database_url)
                rolled = rollup_totals(database_url, project["project_id"])[1]
                print(f"  rollups: {pending:,} deltas pending at the end, all folded "
                      f"{lag:.1f} s later; they count {rolled:,} points (stored "
                      f"{check['stored']:,})")
                return found

            skipped = {"per_s": 0.0, "p95_ms": None, "web_us": None, "lost": 0,
                       "duplicated": 0}
            ev100 = events_phase(EVENTS_PER_BATCH, "Bench") \
                if "events100" in chosen else skipped
            ev = events_phase(1000, "Bench events 1000") if "events" in chosen else skipped
            pt = points_phase("points", POINTS_PER_BATCH, "Bench points") \
                if "points" in chosen else skipped
            line = points_phase("line", LINES_PER_BATCH, "Bench line protocol") \
                if "line" in chosen else skipped
            limit = copy_limits(database_url, args.seconds) if args.compare_limit else {}
        finally:
            stop_s = stack.stop()
            if stop_s is not None:
                print(f"stack stopped in {stop_s:.1f} s", file=sys.stderr)
    phases = (ev100, ev, pt, line)
    figures = {"events_per_s": round(ev["per_s"]), "events_p95_ms": ev["p95_ms"],
               "events_100_per_s": round(ev100["per_s"]),
               "events_100_p95_ms": ev100["p95_ms"],
               "events_with_rollups_per_s": round(ev.get("with_rollups_per_s", 0)),
               "events_100_with_rollups_per_s": round(ev100.get("with_rollups_per_s", 0)),
               "points_per_s": round(pt["per_s"]), "p95_ms": pt["p95_ms"],
               "line_per_s": round(line["per_s"]), "line_p95_ms": line["p95_ms"],
               "web_us_per_event": ev["web_us"], "web_us_per_point": pt["web_us"],
               "web_us_per_line_point": line["web_us"],
               "lost": sum(p["lost"] for p in phases),
               "duplicated": sum(p["duplicated"] for p in phases)}
    if limit:
        figures.update({
            "points_copy_per_s": round(limit["points"]),
            "events_copy_per_s": round(limit["events"]),
            "points_ratio_to_copy": round(pt["per_s"] / limit["points"], 3),
            "line_ratio_to_copy": round(line["per_s"] / limit["points"], 3),
            "events_ratio_to_copy": round(ev["per_s"] / limit["events"], 3),
            "events_100_ratio_to_copy": round(ev100["per_s"] / limit["events"], 3)})
    print(json.dumps(figures))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; the stack was stopped", file=sys.stderr)
        sys.exit(130)
