"""Read-path overhead: what the HTTP API adds to the query engine's own time.

    .venv/bin/python bench/api.py [--runs 300] [--external]

It starts its own stack (``bench/ingest.py``'s ``Stack``: the launcher on a free loopback port,
embedded PostgreSQL and Redis in a temporary DATA_DIR, or ``--external`` for ``DATABASE_URL`` /
``REDIS_URL``), creates a project, its token, and stores the last hour of ``cpu.user`` for 50
hosts (a point every 15 s: 12,000 points). Then, one request at a time over one keep-alive
connection with ``Authorization: Bearer``, ``--runs`` times each:

- cached: ``POST /api/v1/query`` ``avg:cpu.user{} by {host}`` over that hour, the same request
  each time (answered from the cache after the first);
- uncached: the same query over a window moved by 10 s each request (each is new to the cache:
  the engine reads the raw points);
- parse: ``POST /api/v1/query/parse`` (authentication, the project check, the grammar; no data);
- healthz: ``GET /healthz`` (no authentication, nothing read): what any request through Django
  costs here — HTTP, daphne, the handler, the middleware — the floor under the others.

For each: the request's time at the client, the engine's own time (``meta.took_ms``: the cache
look-up, or the statements and their answer), and the difference per request — what the HTTP
server, Django, DRF, authentication, the project check, throttling and rendering add (#19's
target: p50 ≤ 5 ms). The user's API rate limit is set to 1,000,000 a minute for the run (the
default 1,200 would refuse it), so the throttle keeps a minute of this client's requests.

Last line: {"cached_api_p50_ms", "cached_engine_p50_ms", "cached_overhead_p50_ms",
"uncached_api_p50_ms", "uncached_engine_p50_ms", "uncached_overhead_p50_ms", "parse_p50_ms",
"healthz_p50_ms"}.
Loopback only; bounded (start ≤ 3 min, 4 x runs requests, stop ≤ 2 min).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import Stack, percentile

HOSTS = 50
STEP_S = 15
QUERY = "avg:cpu.user{} by {host}"


def store_hour(client: httpx.Client, ingest_key: str, end: datetime) -> int:
    points = [{"name": "cpu.user", "tags": {"host": f"web-{host:02d}"},
               "value": round(random.random() * 100, 3),
               "timestamp": (end - timedelta(seconds=STEP_S * n)).isoformat()}
              for n in range(3600 // STEP_S) for host in range(HOSTS)]
    stored = 0
    for first in range(0, len(points), 1000):
        response = client.post("/api/v1/metrics",
                               content=orjson.dumps({"points": points[first:first + 1000]}),
                               headers={"X-API-Key": ingest_key,
                                        "Content-Type": "application/json"})
        response.raise_for_status()
        stored += response.json()["accepted"]
    return stored


def timed(client: httpx.Client, path: str, bodies, token: str | None) -> dict:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    walls, engine, over = [], [], []
    for body in bodies:
        started = time.perf_counter()
        response = (client.post(path, content=body, headers=headers) if token
                    else client.get(path))
        wall = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: {response.text[:300]}")
        took = response.json().get("meta", {}).get("took_ms", 0.0)
        walls.append(wall)
        engine.append(took)
        over.append(wall - took)
    return {"api_p50": statistics.median(walls), "api_p95": percentile(walls, 95),
            "engine_p50": statistics.median(engine), "overhead_p50": statistics.median(over)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="requests per kind")
    parser.add_argument("--external", action="store_true",
                        help="use DATABASE_URL / REDIS_URL from the environment")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    if args.external and not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        parser.error("--external needs DATABASE_URL and REDIS_URL in the environment")

    with tempfile.TemporaryDirectory(prefix="analytics-bench-api-") as tmp:
        stack = Stack(Path(tmp) / "var", external=args.external)
        stack.env["API_RATE_LIMIT_USER"] = "1000000/min"
        try:
            ready_s = stack.start()
            project = stack.create_project()
            with httpx.Client(base_url=stack.base_url, timeout=30) as client:
                end = datetime.now(UTC).replace(microsecond=0)
                stored = store_hour(client, project["ingest_key"], end)
                print(f"stack ready in {ready_s:.1f} s; {stored:,} points stored; "
                      f"{args.runs} requests of each kind")

                def body(offset_s: int) -> bytes:
                    return orjson.dumps({
                        "project": project["project_id"], "query": QUERY,
                        "start": (end - timedelta(seconds=3600 + offset_s)).isoformat(),
                        "end": (end - timedelta(seconds=offset_s)).isoformat()})

                token = project["api_token"]
                timed(client, "/api/v1/query", [body(0)] * 20, token)  # warm up
                results = {
                    "cached": timed(client, "/api/v1/query", [body(0)] * args.runs, token),
                    "uncached": timed(client, "/api/v1/query",
                                      [body(10 * (n + 3)) for n in range(args.runs)], token),
                    "parse": timed(client, "/api/v1/query/parse", [orjson.dumps(
                        {"project": project["project_id"], "query": QUERY})] * args.runs,
                        token),
                    "healthz": timed(client, "/healthz", [b""] * args.runs, None)}
        finally:
            stack.stop()
    for name, found in results.items():
        print(f"{name:9s} API p50 {found['api_p50']:6.2f} ms  p95 {found['api_p95']:6.2f} ms  "
              f"engine p50 {found['engine_p50']:6.2f} ms  overhead p50 "
              f"{found['overhead_p50']:6.2f} ms")
    figures = {}
    for name in ("cached", "uncached"):
        figures.update({f"{name}_api_p50_ms": round(results[name]["api_p50"], 2),
                        f"{name}_engine_p50_ms": round(results[name]["engine_p50"], 2),
                        f"{name}_overhead_p50_ms": round(results[name]["overhead_p50"], 2)})
    figures["parse_p50_ms"] = round(results["parse"]["api_p50"], 2)
    figures["healthz_p50_ms"] = round(results["healthz"]["api_p50"], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
