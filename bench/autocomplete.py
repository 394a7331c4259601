"""Autocompletion benchmark: how fast the query editors' completions of metric names answer over
HTTP in a project with 10,000 metric names.

    .venv/bin/python bench/autocomplete.py [--names 10000] [--series-per-name 3]
                                           [--requests 500] [--external]

It starts its own stack (``python -m analytics_site.launcher``: embedded PostgreSQL and Redis in
a temporary DATA_DIR, web, worker, beat; ``--external`` uses DATABASE_URL / REDIS_URL) on a free
loopback port, as bench/ingest.py does, with the API's per-user rate limit raised; creates a
project and writes ``--names`` metric names (``svcNN.subsystem.metric``, ``--series-per-name``
series each, one in ten described with a unit and type) straight into its tables. Then, over one
keep-alive connection, ``--requests`` sequential ``GET /api/v1/query/autocomplete?kind=metric``
with a personal token, each with a fragment drawn at random: a prefix of a real name (1-12
characters), a piece from inside one (2-6 characters, which ranks substring matches), or a
fragment matching nothing (which scans every name); 20 untimed requests warm up first.

Then a fifth as many requests for function names (``kind=function``: no data read), whose
timings are the request's own cost (token, project, HTTP) on this machine; and the same metric
completions through ``events.query.suggest`` in a ``manage.py shell`` on the stack's database,
without HTTP (``engine_p95_ms``: what the query itself costs).

Last line: {"autocomplete_p95_ms", "autocomplete_p50_ms", "metric_names", "series", "requests",
"baseline_p95_ms", "baseline_p50_ms", "engine_p95_ms"}.
Loopback only; bounded by the stack's start (under a minute) and ``--requests``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

from ingest import Stack, psycopg_url  # noqa: E402  (bench/ingest.py)

SUBSYSTEMS = ("http", "db", "cache", "queue", "cpu", "mem", "disk", "net", "gc", "jobs")
METRICS = ("latency_ms", "requests", "errors", "bytes_in", "bytes_out", "active", "wait_ms",
           "retries", "size", "hits")
WARMUP = 20


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def names(count: int) -> list[str]:
    per_service = len(SUBSYSTEMS) * len(METRICS)
    return [f"svc{i // per_service:03d}.{SUBSYSTEMS[i // len(METRICS) % len(SUBSYSTEMS)]}."
            f"{METRICS[i % len(METRICS)]}" for i in range(count)]


def load(database_url: str, project_id: int, metric_names: list[str], per_name: int) -> int:
    rows = [(name, f'{{"host": "h{h}"}}', f"host=h{h}") for name in metric_names
            for h in range(per_name)]
    with psycopg.connect(psycopg_url(database_url), autocommit=True) as conn:
        with conn.cursor().copy("COPY events_metricseries (project_id, name, tags, tags_key, "
                                "created_at) FROM STDIN") as copy:
            for name, tags, key in rows:
                copy.write_row((project_id, name, tags, key, "now"))
        conn.execute(
            """INSERT INTO events_metricdefinition (project_id, name, description, unit, type,
                                                   source, created_at, updated_at)
               SELECT %s, n, 'described ' || n, 'ms', 'gauge', 'otlp', now(), now()
               FROM unnest(%s::text[]) AS n""", [project_id, metric_names[::10]])
        # As autovacuum leaves them in steady state (index-only scans need the visibility map).
        conn.execute("VACUUM ANALYZE events_metricseries")
        conn.execute("VACUUM ANALYZE events_metricdefinition")
    return len(rows)


def fragments(metric_names: list[str], count: int, rng: random.Random) -> list[str]:
    found = []
    for _ in range(count):
        name = rng.choice(metric_names)
        kind = rng.random()
        if kind < 0.6:
            found.append(name[:rng.randint(1, 12)])
        elif kind < 0.9:
            start = rng.randint(1, len(name) - 3)
            found.append(name[start:start + rng.randint(2, 6)])
        else:
            found.append(f"zz{rng.randint(0, 999)}")
    return found


def timed(client: httpx.Client, project_id: int, kind: str, typed: list[str]) -> list[float]:
    """Milliseconds per request, after the first WARMUP."""
    timings = []
    for n, text in enumerate(typed):
        started = time.perf_counter()
        response = client.get("/api/v1/query/autocomplete",
                              params={"project": project_id, "kind": kind, "q": text})
        took = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{response.status_code}: {response.text[:500]}")
        if n >= WARMUP:
            timings.append(took)
    return timings


ENGINE_TIMING = """
import json, time
from events.query import suggest
typed = json.load(open({path!r}))
took = []
for n, text in enumerate(typed):
    started = time.perf_counter()
    suggest.suggest({project}, kind="metric", text=text)
    if n >= {warmup}:
        took.append((time.perf_counter() - started) * 1000)
print(json.dumps(took))
"""


def engine_timings(stack: Stack, project_id: int, typed: list[str], folder: Path) -> list[float]:
    """The same completions through ``events.query.suggest`` in a process on the stack's
    database, without HTTP: what the query itself costs."""
    path = folder / "typed.json"
    path.write_text(json.dumps(typed))
    code = ENGINE_TIMING.format(path=str(path), project=project_id, warmup=WARMUP)
    return Stack.last_json('{"t": ' + stack.run("manage.py", "shell", "-c", code).strip()
                           .splitlines()[-1] + "}")["t"]


def p95(timings: list[float]) -> float:
    ordered = sorted(timings)
    return round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, default=10_000)
    parser.add_argument("--series-per-name", type=int, default=3)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--external", action="store_true")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="bench-autocomplete-") as tmp:
        stack = Stack(Path(tmp) / "data", args.external)
        stack.env["API_RATE_LIMIT_USER"] = "1000000/min"
        try:
            log(f"starting the stack ({'external' if args.external else 'embedded'} servers) …")
            log(f"  ready in {stack.start():.1f} s at {stack.base_url}")
            created = stack.create_project()
            metric_names = names(args.names)
            series = load(stack.database_url(), created["project_id"], metric_names,
                          args.series_per_name)
            log(f"loaded {len(metric_names):,} metric names in {series:,} series")
            headers = {"Authorization": f"Bearer {created['api_token']}"}
            typed = fragments(metric_names, WARMUP + args.requests, rng)
            with httpx.Client(base_url=stack.base_url, headers=headers, timeout=10) as client:
                timings = timed(client, created["project_id"], "metric", typed)
                baseline = timed(client, created["project_id"], "function",
                                 typed[:WARMUP + args.requests // 5])
            engine = engine_timings(stack, created["project_id"], typed, Path(tmp))
        finally:
            stack.stop()
    figures = {"autocomplete_p95_ms": p95(timings),
               "autocomplete_p50_ms": round(statistics.median(timings), 2),
               "metric_names": len(metric_names), "series": series, "requests": len(timings),
               "baseline_p95_ms": p95(baseline),
               "baseline_p50_ms": round(statistics.median(baseline), 2),
               "engine_p95_ms": p95(engine)}
    log(f"metric names: p50 {figures['autocomplete_p50_ms']} ms, p95 "
        f"{figures['autocomplete_p95_ms']} ms; function names (the request's own cost, no "
        f"data read): p50 {figures['baseline_p50_ms']} ms, p95 {figures['baseline_p95_ms']} ms; "
        f"the query alone (events.query.suggest, no HTTP): p95 {figures['engine_p95_ms']} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
