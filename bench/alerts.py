"""Alerting benchmark: how long one evaluation cycle of 10,000 rules takes, and how long a
threshold crossing in ingested data takes to reach a webhook.

    .venv/bin/python bench/alerts.py [--rules 10000] [--queries 500] [--cycles 3] [--samples 10]
                                     [--external]

It starts its own stack (``python -m analytics_site.launcher``: embedded PostgreSQL and Redis in
a temporary DATA_DIR, web, worker, beat; ``--external`` uses DATABASE_URL / REDIS_URL) on a free
loopback port, as bench/ingest.py does, with WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8 so that the
webhook can reach this benchmark's receiver. Then:

A. Cycle. In a child process on the stack's database: pauses beat's ``alerts.evaluate`` row,
   writes 15 minutes of data (one point every 10 s) for ``--queries`` series through the real
   write path and folds it, creates ``--rules`` enabled rules, ``rules / queries`` per distinct
   query (``avg:svc.cpu{host:hNNN}``, 5 minute window, reducers, conditions and thresholds
   varied), then runs ``--cycles`` cycles of ``alerts.evaluation.evaluate_due`` with every rule
   due. The first cycle also creates the 10,000 instances; the figure is the slowest of the
   later (steady-state) cycles. Beat's row is resumed afterwards; the rules stay (interval 60 s)
   and are evaluated by the stack's worker during B.
B. Notify. A webhook channel to a receiver in this process and a rule ``last:bench.gauge{}`` >
   50 (reducer last over 1 minute, evaluated every 10 s), created over the REST API. Each
   sample waits a random 0-10 s (so that sends fall anywhere in the 10 s cycle), sends a point
   of 100 (``POST /api/v1/metrics``) and measures the time until the receiver gets the FIRING
   notification; then the same for 0 and RESOLVED.

Loopback only; bounded: start <= 3 min, A <= ~2 min, each wait in B <= 60 s, stop <= 2 min. The
stack is always stopped before it exits.

Last line: {"cycle_10k_s", "notify_p95_s"}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from ingest import Stack, percentile  # noqa: E402  (bench/ingest.py)

WAIT_S = 60


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- A: one cycle of many rules -------------------------------------------------------------------
def inner_cycle(rules: int, queries: int, cycles: int) -> None:
    """In a child process with the stack's DATABASE_URL / REDIS_URL."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
    sys.path.insert(0, str(BENCH_DIR.parent))
    import asyncio
    from datetime import UTC, datetime, timedelta

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django_celery_beat.models import PeriodicTask, PeriodicTasks

    from alerts import evaluation
    from alerts.models import AlertInstance, AlertRule
    from events import rollups, selectors
    from events import services as events
    from projects import services

    beat = PeriodicTask.objects.filter(task="alerts.evaluate")
    beat.update(enabled=False)
    PeriodicTasks.update_changed()  # beat's database scheduler re-reads its rows
    time.sleep(11)  # a cycle that had started finishes
    try:
        owner, _ = get_user_model().objects.get_or_create(username="bench")
        project = services.create_project(name="Bench Alerts", owner=owner,
                                          slug="bench-alerts")
        key = selectors.ingest_key_of(project)
        now = datetime.now(UTC)
        began = time.perf_counter()

        async def write():
            for offset in range(0, 15 * 60, 10):
                at = (now - timedelta(seconds=offset)).isoformat()
                for first in range(0, queries, 1000):
                    await events.record_points(key=key, items=[
                        {"name": "svc.cpu", "value": (i * 7 + offset) % 100,
                         "tags": {"host": f"h{i:03d}"}, "timestamp": at}
                        for i in range(first, min(queries, first + 1000))])

        asyncio.run(write())
        rollups.fold()
        log(f"  {queries * 90:,} points in {queries} series written and folded in "
            f"{time.perf_counter() - began:.1f} s")
        reducers = ["avg", "max", "last", "min", "sum", "p95"]
        AlertRule.objects.bulk_create([
            AlertRule(project=project, name=f"rule {n}",
                      query=f"avg:svc.cpu{{host:h{n % queries:03d}}}",
                      reducer=reducers[n % len(reducers)], window_minutes=5,
                      condition="gt" if n % 2 else "lt", threshold=(n * 13) % 100,
                      for_seconds=60 * (n % 3), interval_seconds=60)
            for n in range(rules)], batch_size=2000)
        seconds = []
        for cycle in range(cycles):
            AlertRule.objects.filter(project=project).update(next_evaluation_at=None)
            started = time.perf_counter()
            report = evaluation.evaluate_due(budget_s=120, enqueue=lambda pk: None)
            took = time.perf_counter() - started
            seconds.append(took)
            log(f"  cycle {cycle + 1}: {report.rules:,} rules, {report.executions} query "
                f"executions, {report.transitions:,} transitions, {report.batches} batches "
                f"in {took:.2f} s")
        states = AlertInstance.objects.filter(rule__project=project).values_list("state",
                                                                                 flat=True)
        counts = {s: 0 for s in ("ok", "pending", "firing", "no_data", "error")}
        for state in states:
            counts[state] += 1
        log(f"  instances by state: {counts}")
        if counts["error"]:
            raise SystemExit("some rules ended in ERROR")
    finally:
        beat.update(enabled=True)
        PeriodicTasks.update_changed()
    print(json.dumps({"first_s": seconds[0], "steady_s": max(seconds[1:] or seconds)}))


# -- B: crossing -> webhook -----------------------------------------------------------------------
class Receiver:
    def __init__(self):
        self.got: list[tuple[float, dict]] = []
        self.cv = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with receiver.cv:
                    receiver.got.append((time.time(), body))
                    receiver.cv.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, rule_id: int, kind: str, after: float) -> float | None:
        def found():
            return next((at for at, body in self.got if at >= after and body.get("kind") == kind
                         and body.get("rule", {}).get("id") == rule_id), None)

        with self.cv:
            self.cv.wait_for(found, WAIT_S)
            return found()


def notify_latency(stack: Stack, created: dict, samples: int) -> tuple[list[float], list[float]]:
    receiver = Receiver()
    api = httpx.Client(base_url=stack.base_url, timeout=30,
                       headers={"Authorization": f"Bearer {created['api_token']}"})
    project = created["project_id"]
    channel = api.post(f"/api/v1/projects/{project}/notification-channels/", json={
        "name": "bench hook", "kind": "webhook", "url": receiver.url})
    if channel.status_code != 201:
        raise SystemExit(f"channel: {channel.status_code} {channel.text}")
    rule = api.post(f"/api/v1/projects/{project}/alert-rules/", json={
        "name": "gauge high", "query": "last:bench.gauge{}", "reducer": "last",
        "window_minutes": 1, "condition": "gt", "threshold": 50, "interval_seconds": 10,
        "no_data": "ok", "channels": [channel.json()["id"]]})
    if rule.status_code != 201:
        raise SystemExit(f"rule: {rule.status_code} {rule.text}")
    rule_id = rule.json()["id"]
    ingest = httpx.Client(base_url=stack.base_url, timeout=10,
                          headers={"X-API-Key": created["ingest_key"]})
    firing, resolved = [], []
    rng = random.Random(7)
    for i in range(samples):
        for value, kind, out in ((100.0, "firing", firing), (0.0, "resolved", resolved)):
            # Sent at a random moment of the 10 s cycle: right after a notification arrived
            # is right after a cycle, which would always measure the longest wait.
            time.sleep(rng.uniform(0, 10))
            sent = time.time()
            response = ingest.post("/api/v1/metrics", json={"name": "bench.gauge",
                                                            "value": value})
            if response.status_code != 202:
                raise SystemExit(f"ingest: {response.status_code} {response.text}")
            arrived = receiver.wait(rule_id, kind, sent)
            if arrived is None:
                raise SystemExit(f"no {kind} notification within {WAIT_S} s (sample {i + 1})")
            out.append(arrived - sent)
        log(f"  sample {i + 1}/{samples}: firing after {firing[-1]:.1f} s, resolved after "
            f"{resolved[-1]:.1f} s")
    receiver.server.shutdown()
    return firing, resolved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--external", action="store_true")
    parser.add_argument("--inner-cycle", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner_cycle:
        inner_cycle(*args.inner_cycle)
        return

    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        stack = Stack(Path(tmp) / "data", args.external)
        stack.env["WEBHOOK_ALLOWED_NETWORKS"] = "127.0.0.0/8"  # this benchmark's receiver
        try:
            log(f"starting the stack ({'external' if args.external else 'embedded'} servers) …")
            log(f"  ready in {stack.start():.1f} s at {stack.base_url}")
            created = stack.create_project()
            env = stack.child_env()
            log(f"A. one cycle of {args.rules:,} rules over {args.queries} queries …")
            done = subprocess.run(
                [sys.executable, __file__, "--inner-cycle", str(args.rules), str(args.queries),
                 str(args.cycles)], cwd=BENCH_DIR.parent, env=env, stdout=subprocess.PIPE,
                stderr=sys.stderr, text=True, timeout=900)
            if done.returncode != 0:
                raise SystemExit(f"the cycle phase failed ({done.returncode})")
            cycle = Stack.last_json(done.stdout)
            log(f"  first cycle (creates the instances) {cycle['first_s']:.2f} s; steady state "
                f"{cycle['steady_s']:.2f} s")
            log(f"B. threshold crossing -> webhook, {args.samples} samples (the {args.rules:,} "
                "rules stay scheduled) …")
            firing, resolved = notify_latency(stack, created, args.samples)
            log(f"  firing: p50 {statistics.median(firing):.1f} s, p95 "
                f"{percentile(firing, 95):.1f} s, max {max(firing):.1f} s; resolved: p50 "
                f"{statistics.median(resolved):.1f} s, p95 {percentile(resolved, 95):.1f} s")
        finally:
            stack.stop()
    print(json.dumps({"cycle_10k_s": round(cycle["steady_s"], 2),
                      "notify_p95_s": round(percentile(firing, 95), 1)}))


if __name__ == "__main__":
    main()
