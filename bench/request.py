"""What one ingestion request costs a web process, without HTTP, the network or other load: the
ASGI app (the lean path, as daphne would call it) is called in this process with batches of
``--items`` events, JSON points or line-protocol points (``--kind``, the bodies of
``bench/ingest.py``) and the process's CPU time is divided by the requests; Redis commands a request
come from Redis's own count (``INFO stats``: of every client, so give it a Redis nothing else
uses; ``REDIS_URL``'s database number does not separate them). Far less noisy than the whole
stack under load (``bench/ingest.py``), so a change of a few per cent in the write path shows.

    .venv/bin/python bench/request.py [--kind events|points|line] [--items 100] [--requests 300]
                                      [--profile]

Against ``DATABASE_URL`` / ``REDIS_URL`` (migrated; a project "Bench request …" is created in
it), or the embedded servers with ``.venv/bin/python -m analytics_site.embedded exec -- …``.
The key's rate limit is off; no WebSocket page is open. Twenty untimed requests first, then the
heap frozen as a web process freezes it (``analytics_site.serve.freeze_heap``).
``--profile`` prints cProfile's top entries (the figures then include its overhead).
Bounded: a few seconds to a minute. Last line: {"kind", "items", "requests",
"cpu_ms_per_request", "cpu_us_per_item", "wall_ms_per_request", "redis_commands_per_request"}.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")

from ingest import ENDPOINTS, Bodies, Job  # noqa: E402  (bench/ingest.py)

WARM_UP = 20
USER_AGENT = b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


async def call(application, scope: dict, body: bytes) -> int:
    """One request through the ASGI app; its status."""
    sent = []
    delivered = False

    async def receive():
        nonlocal delivered
        if delivered:  # the app asks again only to learn of a disconnect: none comes
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    await application(scope, receive, send)
    return sent[0]["status"]


async def run(args) -> dict:
    import redis
    from django.conf import settings

    from analytics_site import serve
    from analytics_site.asgi import application
    from events import enrich
    from projects import services as projects
    from projects.models import IngestKey

    enrich.warm()
    owner, _ = await asyncio.to_thread(projects.get_or_create_user, username="bench",
                                       email="bench@example.com")
    project = await asyncio.to_thread(projects.create_project,
                                      name=f"Bench request {time.time_ns()}", owner=owner,
                                      timezone_name="UTC")
    key = await asyncio.to_thread(
        lambda: IngestKey.objects.filter(project=project).first()
        or projects.create_ingest_key(project=project))
    await asyncio.to_thread(
        lambda: IngestKey.objects.filter(pk=key.pk).update(rate_limit_per_s=0))
    # Points from an hour ago: every request's are new (their own µs), none is refused as late.
    bodies = Bodies(Job(kind=args.kind, url="", ingest_key="", seconds=1, connections=1,
                        t0=datetime.now(UTC) - timedelta(hours=1)), random.Random(1))
    count = WARM_UP + args.requests
    if args.kind == "events":
        batches = [bodies.events(args.items)[1] for _ in range(count)]
    else:
        make = bodies.points if args.kind == "points" else bodies.lines
        batches = [make(n * args.items, args.items)[1] for n in range(count)]
    path, _, query = ENDPOINTS[args.kind].partition("?")
    content_type = b"text/plain" if args.kind == "line" else b"application/json"
    scope = {"type": "http", "http_version": "1.1", "method": "POST",
             "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "root_path": "", "scheme": "http",
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", content_type),
                         (b"x-api-key", key.key.encode()), (b"user-agent", USER_AGENT)],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    for body in batches[:WARM_UP]:
        assert await call(application, scope, body) in (202, 204)
    serve.freeze_heap()  # as a web process does once started
    counter = redis.Redis.from_url(settings.REDIS_URL)
    commands_before = counter.info("stats")["total_commands_processed"]
    profile = cProfile.Profile() if args.profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profile:
        profile.enable()
    for body in batches[WARM_UP:]:
        status = await call(application, scope, body)
        if status not in (202, 204):  # line protocol: 204, as InfluxDB
            raise SystemExit(f"a request got {status}")
    if profile:
        profile.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    # INFO itself is one command of the count.
    commands = counter.info("stats")["total_commands_processed"] - commands_before - 1
    if profile:
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    return {"kind": args.kind, "items": args.items, "requests": args.requests,
            "cpu_ms_per_request": round(cpu * 1000 / args.requests, 2),
            "cpu_us_per_item": round(cpu * 1e6 / args.requests / args.items, 2),
            "wall_ms_per_request": round(wall * 1000 / args.requests, 2),
            "redis_commands_per_request": round(commands / args.requests, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=sorted(ENDPOINTS), default="events",
                        help="what a request carries")
    parser.add_argument("--items", type=int, default=100, help="items a request")
    parser.add_argument("--requests", type=int, default=300, help="timed requests")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top entries")
    args = parser.parse_args()

    import logging

    import django

    django.setup()
    logging.getLogger("analytics.request").setLevel(logging.WARNING)  # a line per request
    found = asyncio.run(run(args))
    print(f"{found['items']} {found['kind']} a request: {found['cpu_ms_per_request']} ms of CPU "
          f"({found['cpu_us_per_item']} µs an item), "
          f"{found['wall_ms_per_request']} ms, {found['redis_commands_per_request']} Redis "
          "commands", file=sys.stderr)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
