"""This platform beside a peer, in one run: the same InfluxDB line-protocol load and the same small
read against InfluxDB (Debian's ``influxdb`` package, 1.6) and against us.

    .venv/bin/python bench/peers.py [--seconds 20] [--connections 8] [--runs 200] [--external]

Skipped, with a message and ``{"skipped": …}`` as the last line, when ``influxd`` is not on the
PATH (``apt-get install influxdb``; the package's own service is not used). Otherwise it starts
``influxd`` as ``bench/limits.py`` does (a temporary folder, free loopback ports, the WAL fsync'd
on every write as the package ships it, its self-monitoring store off) and our stack
(``bench/ingest.py``'s ``Stack``: embedded servers, or ``--external``), one after the other idle
while the other is measured — the read first, so that the write load's rollups are not still being
folded under it:

A. Writes. ``--seconds`` each of ``bench/ingest.py``'s phase D — 5,000 points a request
   (``cpu,host=web-01 user=12.5 <ns>``, 5 metric names x 50 hosts, unique timestamps) over
   ``--connections`` keep-alive connections — to our ``/api/v2/write?precision=ns`` and to
   InfluxDB's ``/write?db=bench&precision=ns``. A point counts when its request was answered
   204 (``bench/ingest.py`` checks that ours stored each acknowledged point exactly once; this
   one does not look). Printed: points/s, p95 request latency, and the ratio ours / InfluxDB.
B. A small read. One series (``probe.value``, ``host=h-1``), a point every 10 s over the last
   two hours, written to both. Then ``--runs`` times, one request at a time over one keep-alive
   connection, the last hour of it at its own resolution — ours ``POST /api/v1/query``
   ``avg:probe.value{host:h-1}`` with a 10 s step (token auth), InfluxDB ``GET /query``
   ``SELECT "value" FROM "probe" WHERE "host"='h-1' AND time >= … AND time < …`` — each request
   over a window moved back 10 s from the one before, so that none is answered from our cache;
   then the same window again and again (``cached``: ours from its cache; InfluxDB has none).
   Both answers are checked to hold the same 360 values. Printed: p50 per kind and the ratio.

Loopback only; bounded (start ≤ 3 min each, A: 2 x (``--seconds`` + ≤ 30 s), B: 3 x ``--runs``
requests, stop ≤ 2 min). Everything started is stopped before it exits.

Last line: {"influx_line_per_s", "line_per_s", "line_ratio_to_influx", "influx_line_p95_ms",
"line_p95_ms", "influx_raw_1h_p50_ms", "raw_1h_p50_ms", "raw_1h_cached_p50_ms",
"raw_1h_ratio_to_influx"}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import LINES_PER_BATCH, Job, Stack, percentile, run_phase
from limits import Influx

PROBE_EVERY_S = 10
PROBE_POINTS = 2 * 3600 // PROBE_EVERY_S  # two hours; an hour is read


def write_phase(url: str, path: str, key: str, seconds: float, connections: int) -> dict:
    job = Job(kind="line", url=url, ingest_key=key, seconds=seconds, connections=connections,
              t0=datetime.now(UTC).replace(microsecond=0), batch=LINES_PER_BATCH, path=path)
    load = run_phase(job, 1)
    return {"per_s": len(load.acked) / load.elapsed_s, "p95_ms": percentile(load.latencies_ms, 95),
            "refused": dict(load.statuses)}


def probe_lines(end: datetime) -> bytes:
    first = end - timedelta(seconds=PROBE_EVERY_S * (PROBE_POINTS - 1))
    return "\n".join(
        f"probe,host=h-1 value={(n * 7919) % 1000 / 10!r} "
        f"{int((first + timedelta(seconds=PROBE_EVERY_S * n)).timestamp())}000000000"
        for n in range(PROBE_POINTS)).encode()


def timed(ask, windows) -> tuple[float, list]:
    walls, answers = [], []
    for window in windows:
        started = time.perf_counter()
        answers.append(ask(*window))
        walls.append((time.perf_counter() - started) * 1000)
    return statistics.median(walls), answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="each write phase")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--runs", type=int, default=200, help="reads of each kind")
    parser.add_argument("--external", action="store_true",
                        help="use DATABASE_URL / REDIS_URL from the environment")
    args = parser.parse_args()
    if shutil.which("influxd") is None:
        print("influxd is not installed (apt-get install influxdb): nothing to compare with")
        print(json.dumps({"skipped": "influxd not found"}))
        return
    if not 1 <= args.runs <= 300:
        parser.error("--runs must be 1..300 (the windows move back 10 s each within two hours)")
    if args.external and not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        parser.error("--external needs DATABASE_URL and REDIS_URL in the environment")

    with tempfile.TemporaryDirectory(prefix="analytics-bench-peers-") as tmp:
        influx = Influx(Path(tmp))
        stack = Stack(Path(tmp) / "var", external=args.external)
        stack.env["API_RATE_LIMIT_USER"] = "1000000/min"
        try:
            influx.start()
            stack.start()
            project = stack.create_project("Bench peers")
            key, token = project["ingest_key"], project["api_token"]
            print(f"influxd {influx.url} and our stack {stack.base_url} ready")

            end = datetime.now(UTC).replace(microsecond=0)
            end -= timedelta(seconds=end.second % PROBE_EVERY_S)
            lines = probe_lines(end)
            with httpx.Client(base_url=stack.base_url, timeout=30) as ours, \
                    httpx.Client(base_url=influx.url, timeout=30) as theirs:
                ours.post("/api/v2/write?precision=ns", content=lines,
                          headers={"Authorization": f"Token {key}"}).raise_for_status()
                theirs.post("/write?db=bench&precision=ns", content=lines).raise_for_status()
                time.sleep(2)  # our fold makes the new series' rollups; raw points are read

                def ask_ours(start: datetime, stop: datetime) -> list:
                    answer = ours.post("/api/v1/query", content=orjson.dumps({
                        "project": project["project_id"], "query": "avg:probe.value{host:h-1}",
                        "start": start.isoformat(), "end": stop.isoformat(),
                        "step": f"{PROBE_EVERY_S}s"}), headers={
                        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                    answer.raise_for_status()
                    return [v for _, v in answer.json()["data"][0]["points"] if v is not None]

                def ask_theirs(start: datetime, stop: datetime) -> list:
                    influxql = ("SELECT \"value\" FROM \"probe\" WHERE \"host\"='h-1' AND "  # noqa: S608
                                f"time >= {int(start.timestamp())}s "  # integers only
                                f"AND time < {int(stop.timestamp())}s")  # our buckets' bounds
                    answer = theirs.get("/query", params={"db": "bench", "epoch": "ms",
                                                          "q": influxql})
                    answer.raise_for_status()
                    return [v for _, v in answer.json()["results"][0]["series"][0]["values"]]

                # Windows ending at `end` and moved back 10 s each: new to our cache each time.
                windows = [(end - timedelta(seconds=3600 + 10 * n), end - timedelta(seconds=10 * n))
                           for n in range(args.runs + 10)]
                warm, windows = windows[args.runs:], windows[:args.runs]
                for ask in (ask_ours, ask_theirs):  # warm both (connections, plans), elsewhere
                    timed(ask, warm)
                theirs_p50, theirs_answers = timed(ask_theirs, windows)
                ours_p50, ours_answers = timed(ask_ours, windows)
                cached_p50, _ = timed(ask_ours, [windows[0]] * args.runs)
            ours_w = write_phase(stack.base_url, "/api/v2/write?precision=ns", key,
                                 args.seconds, args.connections)
            theirs_w = write_phase(influx.url, "/write?db=bench&precision=ns", "none",
                                   args.seconds, args.connections)
            for name, found in (("ours", ours_w), ("InfluxDB", theirs_w)):
                print(f"A. line protocol {name:8s} {found['per_s']:10,.0f} points/s  "
                      f"p95 {found['p95_ms']:7.1f} ms  not acknowledged {found['refused']}")

        finally:
            stack.stop()
            influx.stop()

    wrong = sum(1 for a, b in zip(ours_answers, theirs_answers, strict=True)
                if len(a) != len(b) or any(abs(x - y) > 1e-9 for x, y in zip(a, b, strict=True)))
    print(f"B. last hour of one series ({len(ours_answers[0])} points): InfluxDB p50 "
          f"{theirs_p50:.2f} ms; ours p50 {ours_p50:.2f} ms, answered from our cache "
          f"{cached_p50:.2f} ms; answers that differ: {wrong} of {len(windows)}")
    if wrong:
        raise SystemExit("the two answered differently: the comparison would mean nothing")
    print(json.dumps({
        "influx_line_per_s": round(theirs_w["per_s"]), "line_per_s": round(ours_w["per_s"]),
        "line_ratio_to_influx": round(ours_w["per_s"] / theirs_w["per_s"], 3),
        "influx_line_p95_ms": round(theirs_w["p95_ms"], 1),
        "line_p95_ms": round(ours_w["p95_ms"], 1),
        "influx_raw_1h_p50_ms": round(theirs_p50, 2), "raw_1h_p50_ms": round(ours_p50, 2),
        "raw_1h_cached_p50_ms": round(cached_p50, 2),
        "raw_1h_ratio_to_influx": round(ours_p50 / theirs_p50, 2)}))


if __name__ == "__main__":
    main()
