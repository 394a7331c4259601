"""What one ingestion request costs a web process, without HTTP, the network or other load: the
ASGI app (the lean path, as daphne would call it) is called in this process with event batches
of ``--events`` and the process's CPU time is divided by the requests; Redis commands a request
come from Redis's own count (``INFO stats``: of every client, so give it a Redis nothing else
uses; ``REDIS_URL``'s database number does not separate them). Far less noisy than the whole
stack under load (``bench/ingest.py``), so a change of a few per cent in the write path shows.

    .venv/bin/python bench/request.py [--events 100] [--requests 300] [--profile]

Against ``DATABASE_URL`` / ``REDIS_URL`` (migrated; a project "Bench request …" is created in
it), or the embedded servers with ``.venv/bin/python -m analytics_site.embedded exec -- …``.
The key's rate limit is off; no WebSocket page is open. Twenty untimed requests first.
``--profile`` prints cProfile's top entries (the figures then include its overhead).
Bounded: a few seconds to a minute. Last line: {"events", "requests", "cpu_ms_per_request",
"wall_ms_per_request", "redis_commands_per_request"}.
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
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")

from ingest import Bodies, Job  # noqa: E402  (bench/ingest.py)

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
    bodies = Bodies(Job(kind="events", url="", ingest_key="", seconds=1, connections=1),
                    random.Random(1))
    batches = [bodies.events(args.events)[1] for _ in range(WARM_UP + args.requests)]
    scope = {"type": "http", "http_version": "1.1", "method": "POST",
             "path": "/api/v1/events/batch", "raw_path": b"/api/v1/events/batch",
             "query_string": b"", "root_path": "", "scheme": "http",
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                         (b"x-api-key", key.key.encode()), (b"user-agent", USER_AGENT)],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    for body in batches[:WARM_UP]:
        assert await call(application, scope, body) == 202
    counter = redis.Redis.from_url(settings.REDIS_URL)
    commands_before = counter.info("stats")["total_commands_processed"]
    profile = cProfile.Profile() if args.profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profile:
        profile.enable()
    for body in batches[WARM_UP:]:
        status = await call(application, scope, body)
        if status != 202:
            raise SystemExit(f"a request got {status}")
    if profile:
        profile.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    # INFO itself is one command of the count.
    commands = counter.info("stats")["total_commands_processed"] - commands_before - 1
    if profile:
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    return {"events": args.events, "requests": args.requests,
            "cpu_ms_per_request": round(cpu * 1000 / args.requests, 2),
            "wall_ms_per_request": round(wall * 1000 / args.requests, 2),
            "redis_commands_per_request": round(commands / args.requests, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100, help="events a request")
    parser.add_argument("--requests", type=int, default=300, help="timed requests")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top entries")
    args = parser.parse_args()

    import logging

    import django

    django.setup()
    logging.getLogger("analytics.request").setLevel(logging.WARNING)  # a line per request
    found = asyncio.run(run(args))
    print(f"{found['events']} events a request: {found['cpu_ms_per_request']} ms of CPU, "
          f"{found['wall_ms_per_request']} ms, {found['redis_commands_per_request']} Redis "
          "commands", file=sys.stderr)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
