"""Live dashboards benchmark: how fast a stored event reaches the pages watching its project, and
how long a 12-panel dashboard over 30 days takes to draw.

    .venv/bin/python bench/live.py [--seconds 30] [--clients 20] [--rate 5000] [--scale 0.1]
                                   [--draws 5] [--external]

It starts its own stack (``python -m analytics_site.launcher``: embedded PostgreSQL and Redis in a
temporary DATA_DIR, web, worker, beat; ``--external`` uses DATABASE_URL / REDIS_URL) on a free
loopback port, like bench/ingest.py, then:

A. Dashboard draw. Loads 30 days of data into a project (bench/query.py's loader at ``--scale``:
   0.1 = 5.2 M points in 300 series and 1 M events; rollups built as the fold would), creates a
   dashboard of 12 panels (line, area, bar, stat, gauge, table, heatmap over metrics and events)
   and opens it at "30 days" in headless Chromium (/usr/bin/chromium), logged in. The figure is
   the page's own ``dashboard-drawn`` performance mark: milliseconds from navigation start until
   every panel has its answer drawn. ``--draws`` loads, each just after a 10 s boundary so that
   no panel answer comes from the query cache (relative ranges move in 10 s steps); the first
   load also fetches Plotly.js. Printed: each draw; the figure is their median.
B. Ingest -> browser latency. ``--clients`` WebSocket clients (a process of their own) open
   ``/ws/projects/<id>/`` with tickets from the REST API, as the pages' sockets do. Another
   process sends ``--rate`` events/s in batches of 100 over 4 connections. Meanwhile this process
   stamps a marker event every 100 ms (a batch of one, POST /api/v1/events/batch) and notes the
   wall-clock time before sending; each client notes when the marker arrives in an ``events``
   message. A sample is one (marker, client) pair: arrival minus send. Missing arrivals are
   reported as lost.

Loopback only; bounded: start <= 3 min, load ~1-2 min at scale 0.1, draws <= 15 s each, live
phase ``--seconds`` plus <= 20 s, stop <= 2 min. The stack is always stopped before it exits.

Last line: {"live_p95_ms", "live_p99_ms", "dashboard_draw_s"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from ingest import Stack, percentile  # noqa: E402  (bench/ingest.py)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
MARKER_EVERY_S = 0.1
BATCH = 100
LOAD_CONNECTIONS = 4
USER, PASSWORD = "bench", "bench-live-pw"

PANELS = [  # title, type, query, options, (x, y, w, h)
    ("CPU by host", "line", "avg:cpu.user{} by {host}", {"unit": "%"}, (0, 0, 6, 4)),
    ("Requests", "area", "sum:http.requests{} by {service}", {}, (6, 0, 6, 4)),
    ("p95 latency", "stat", "p95:http.latency_ms{}", {"unit": "ms",
                                                     "thresholds": [{"value": 200,
                                                                     "color": "#e03131"}]},
     (0, 4, 3, 3)),
    ("Memory", "gauge", "avg:mem.used{}", {"max": 3e9}, (3, 4, 3, 3)),
    ("Queue depth", "bar", "max:queue.depth{} by {env}", {}, (6, 4, 6, 3)),
    ("Page views", "bar", "count:events{event:page_view}", {}, (0, 7, 6, 4)),
    ("Purchases", "line", "count:events{event:purchase}", {}, (6, 7, 6, 4)),
    ("Hottest hosts", "table", "max:cpu.user{} by {host}", {"calculation": "max"},
     (0, 11, 4, 4)),
    ("CPU heatmap", "heatmap", "avg:cpu.system{} by {service}", {}, (4, 11, 8, 4)),
    ("Unique users", "stat", "uniq_users:events{}", {}, (0, 15, 4, 3)),
    ("Latency p99", "line", "p99:http.latency_ms{} by {env}", {"unit": "ms"}, (4, 15, 4, 3)),
    ("System CPU", "area", "avg:cpu.system{}", {"unit": "%"}, (8, 15, 4, 3)),
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- A: dashboard draw ----------------------------------------------------------------------------
def inner_load(scale: float) -> None:
    """Runs in a child process with the stack's DATABASE_URL / REDIS_URL: loads the data, makes
    the dashboard and a password for the bench user; prints {"project", "dashboard"}."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
    sys.path.insert(0, str(BENCH_DIR.parent))
    import django

    django.setup()
    from datetime import UTC, datetime, timedelta

    import query as bench_query  # bench/query.py
    from django.contrib.auth import get_user_model

    from dashboards import services as dashboards
    from projects import services

    owner, _ = get_user_model().objects.get_or_create(username=USER)
    owner.set_password(PASSWORD)
    owner.save()
    # A project of its own each run: with --external a second run finds the first's.
    stamp = time.strftime("%Y%m%d-%H%M%S")
    project = services.create_project(name=f"Bench Live {stamp}", owner=owner,
                                      slug=f"bench-live-{stamp}")
    project.raw_retention_days = project.minute_rollup_retention_days = bench_query.DAYS + 1
    project.save()
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(
        days=bench_query.DAYS)
    bench_query._log = log  # progress to stderr; stdout carries the JSON answer
    began = time.perf_counter()
    bench_query.load(project, scale, start)
    log(f"  raw data and minute / hour rollups in {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    bench_query._rollup_names(project)
    bench_query._rollup_sessions(project)
    log(f"  name-level, hour and session rollups in {time.perf_counter() - began:.0f} s")
    dashboard = dashboards.create_dashboard(project=project, name="Fleet, 30 days", user=owner)
    for title, kind, text, options, (x, y, w, h) in PANELS:
        dashboards.create_panel(dashboard=dashboard, title=title, type=kind, query=text,
                                options=options, x=x, y=y, w=w, h=h)
    print(json.dumps({"project": project.pk, "dashboard": dashboard.pk}))


def draw_dashboard(stack: Stack, project: int, dashboard: int, draws: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    url = f"{stack.base_url}/projects/{project}/dashboards/{dashboard}/?range=30d"
    seconds = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{stack.base_url}/login/")
        page.fill("input[name=username]", USER)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{stack.base_url}/projects/")
        for i in range(draws):
            time.sleep(10.5 - time.time() % 10)  # a fresh 10 s window: no cached answers
            page.goto(url)
            page.wait_for_selector("#dashboard[data-drawn=true]", timeout=15000)
            drawn_ms = page.evaluate(
                "() => performance.getEntriesByName('dashboard-drawn')[0].startTime")
            failed = page.locator(".panel-status.error").all_inner_texts()
            plots = page.locator(".panel .main-svg, .panel .stat, .panel table").count()
            if failed:
                raise SystemExit(f"panels failed: {failed}")
            seconds.append(drawn_ms / 1000)
            log(f"  draw {i + 1}/{draws}: {drawn_ms / 1000:.2f} s ({plots} drawn parts)")
        if errors:
            raise SystemExit(f"page errors: {errors}")
        browser.close()
    return seconds


# -- B: ingest -> WebSocket latency ---------------------------------------------------------------
def _clients(base_url: str, project: int, token: str, count: int, ready, stop, out) -> None:
    async def one(ticket: str, arrivals: dict) -> None:
        import websockets

        ws_url = base_url.replace("http://", "ws://") + f"/ws/projects/{project}/?ticket={ticket}"
        async with websockets.connect(ws_url, origin=base_url, max_queue=None) as socket:
            hello = orjson.loads(await socket.recv())
            assert hello["type"] == "hello", hello
            arrivals["ready"] = True
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(socket.recv(), 0.5)
                except TimeoutError:
                    continue
                now = time.time()
                message = orjson.loads(raw)
                if message.get("type") != "events":
                    continue
                for event in message["events"]:
                    if event["event"] == "bench_marker":
                        arrivals.setdefault(event["properties"]["m"], now)

    async def main() -> list[dict]:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:
            tickets = [(await client.post(f"{base_url}/api/v1/projects/{project}/live-ticket/"))
                       .json()["ticket"] for _ in range(count)]
        arrivals = [{} for _ in range(count)]
        tasks = [asyncio.create_task(one(t, a)) for t, a in zip(tickets, arrivals, strict=True)]
        while not all(a.get("ready") for a in arrivals):
            await asyncio.sleep(0.05)
            for task in tasks:
                if task.done() and task.exception():
                    raise task.exception()
        ready.set()
        await asyncio.gather(*tasks)
        return [{k: v for k, v in a.items() if k != "ready"} for a in arrivals]

    out.put(asyncio.run(main()))


def _background(base_url: str, key: str, rate: int, seconds: float, out) -> None:
    async def main() -> dict:
        per_s = rate / BATCH
        sent = {"events": 0, "failed": 0}
        t0 = time.perf_counter() + 0.2

        async def connection(offset: int, client: httpx.AsyncClient) -> None:
            k = offset
            while True:
                due = t0 + k / per_s
                if due - t0 > seconds:
                    return
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                body = orjson.dumps({"events": [
                    {"event": "page_view", "distinct_id": f"bg-{k % 997}-{i}",
                     "properties": {"path": "/load"}} for i in range(BATCH)]})
                try:
                    response = await client.post(
                        f"{base_url}/api/v1/events/batch", content=body,
                        headers={"X-API-Key": key, "Content-Type": "application/json"})
                    ok = response.status_code == 202
                except httpx.HTTPError:
                    ok = False
                sent["events" if ok else "failed"] += BATCH
                k += LOAD_CONNECTIONS

        async with httpx.AsyncClient(timeout=10) as client:
            await asyncio.gather(*(connection(i, client) for i in range(LOAD_CONNECTIONS)))
        sent["elapsed_s"] = time.perf_counter() - t0
        return sent

    out.put(asyncio.run(main()))


def live_latency(stack: Stack, project: int, key: str, token: str, clients: int, rate: int,
                 seconds: float) -> tuple[list[float], int, dict]:
    ctx = multiprocessing.get_context("spawn")
    ready, stop, arrivals_q, load_q = ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Queue()
    watcher = ctx.Process(target=_clients, args=(stack.base_url, project, token, clients, ready,
                                                 stop, arrivals_q))
    watcher.start()
    if not ready.wait(60):
        watcher.kill()
        raise SystemExit("the WebSocket clients did not connect within 60 s")
    loader = ctx.Process(target=_background, args=(stack.base_url, key, rate, seconds, load_q))
    loader.start()
    time.sleep(1.0)  # let the load settle
    sent: dict[int, float] = {}
    with httpx.Client(timeout=10, headers={"X-API-Key": key}) as client:
        deadline = time.monotonic() + seconds - 2
        m = 0
        while time.monotonic() < deadline:
            at = time.time()
            response = client.post(f"{stack.base_url}/api/v1/events/batch", json={"events": [
                {"event": "bench_marker", "distinct_id": "marker", "properties": {"m": m}}]})
            if response.status_code == 202:
                sent[m] = at
            m += 1
            time.sleep(max(0.0, MARKER_EVERY_S - (time.time() - at)))
    load = load_q.get(timeout=seconds + 30)
    loader.join(30)
    time.sleep(2.0)  # the last markers' way through
    stop.set()
    arrivals = arrivals_q.get(timeout=30)
    watcher.join(30)
    samples, lost = [], 0
    for got in arrivals:
        for marker, at in sent.items():
            if marker in got:
                samples.append((got[marker] - at) * 1000)
            else:
                lost += 1
    return samples, lost, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rate", type=int, default=5000, help="background events per second")
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--external", action="store_true")
    parser.add_argument("--inner-load", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner_load is not None:
        inner_load(args.inner_load)
        return

    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        stack = Stack(Path(tmp) / "data", args.external)
        try:
            log(f"starting the stack ({'external' if args.external else 'embedded'} servers) …")
            log(f"  ready in {stack.start():.1f} s at {stack.base_url}")
            created = stack.create_project()
            env = stack.child_env()
            log(f"A. loading 30 days at scale {args.scale} and a 12-panel dashboard …")
            began = time.perf_counter()
            import subprocess

            done = subprocess.run([sys.executable, __file__, "--inner-load", str(args.scale)],
                                  cwd=BENCH_DIR.parent, env=env, stdout=subprocess.PIPE,
                                  stderr=sys.stderr, text=True, timeout=1800)
            if done.returncode != 0:
                raise SystemExit(f"loading failed ({done.returncode})")
            board = Stack.last_json(done.stdout)
            log(f"  loaded in {time.perf_counter() - began:.0f} s")
            draws = draw_dashboard(stack, board["project"], board["dashboard"], args.draws)
            draw_s = statistics.median(draws)
            log(f"  dashboard drawn: median {draw_s:.2f} s, max {max(draws):.2f} s "
                f"over {len(draws)} loads")

            log(f"B. {args.clients} WebSocket clients, {args.rate:,} events/s background, "
                f"a marker every {MARKER_EVERY_S * 1000:.0f} ms for {args.seconds:.0f} s …")
            samples, lost, load = live_latency(
                stack, created["project_id"], created["ingest_key"], created["api_token"],
                args.clients, args.rate, args.seconds)
            if not samples:
                raise SystemExit("no marker reached a client")
            rate = load["events"] / load["elapsed_s"]
            log(f"  background: {rate:,.0f} events/s accepted ({load['failed']:,} failed)")
            log(f"  {len(samples):,} arrivals, {lost} lost; p50 {percentile(samples, 50):.0f} ms, "
                f"p95 {percentile(samples, 95):.0f} ms, p99 {percentile(samples, 99):.0f} ms, "
                f"max {max(samples):.0f} ms")
        finally:
            stack.stop()
    print(json.dumps({"live_p95_ms": round(percentile(samples, 95), 1),
                      "live_p99_ms": round(percentile(samples, 99), 1),
                      "dashboard_draw_s": round(draw_s, 2)}))


if __name__ == "__main__":
    main()
