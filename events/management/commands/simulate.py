"""``manage.py simulate``: live demo traffic, so dashboards and live pages keep moving.

Every second a few events from a handful of sessions in progress, every ten seconds one point per
metric series, through the real write path, until Ctrl-C / SIGTERM (or ``--duration``).
"""

import asyncio
import itertools
import secrets
import signal
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError

from analytics_site.errors import ServiceUnavailable
from events import demo_data, services
from projects.models import Project

METRICS_EVERY = 10  # seconds


class Command(BaseCommand):
    help = "Send live demo traffic (events and metric points) to a project until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--project", default="demo", help="Project slug (default demo).")
        parser.add_argument("--rate", type=int, default=5, help="Events per second.")
        parser.add_argument("--duration", type=int, default=None,
                            help="Stop after this many seconds (default: until Ctrl-C).")

    def handle(self, *args, project="demo", rate=5, duration=None, **options):
        if rate < 0 or (duration is not None and duration < 1):
            raise CommandError("--rate must be at least 0 and --duration at least 1.")
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"No project {project!r}; run seed_demo first.")
        key = demo_data.ingest_key_for(target)
        if key is None:
            raise CommandError(f"Project {project!r} has no active ingest key.")
        live = demo_data.LiveTraffic(secrets.randbelow(1_000_000))
        started = datetime.now(UTC)
        events, points = asyncio.run(self._run(key, live, ZoneInfo(target.timezone), rate,
                                               duration))
        seconds = (datetime.now(UTC) - started).total_seconds()
        self.stdout.write(f"Simulated {events} events and {points} metric points for "
                          f"{target.slug} in {seconds:.1f} s.")

    async def _run(self, key, live, tz, rate, duration) -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        handled = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
                handled.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread: --duration or the caller ends it
        begin, events, points = loop.time(), 0, 0
        try:
            for tick in itertools.count():
                try:  # tick n runs n seconds after the start, however long the last one took
                    await asyncio.wait_for(stop.wait(), max(0.0, begin + tick - loop.time()))
                    break
                except TimeoutError:
                    if duration is not None and tick >= duration:
                        break
                try:
                    events, points = await self._tick(key, live, tz, rate, tick, events, points)
                except ServiceUnavailable as exc:
                    self.stderr.write(f"storage unavailable, retrying: {exc}")
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            await demo_data.close_pool()
        return events, points

    async def _tick(self, key, live, tz, rate, tick, events, points) -> tuple[int, int]:
        now = datetime.now(UTC)
        for client, items in live.tick(now, rate):
            result = await services.ingest_events(key=key, items=items, sent_at=None,
                                                  client=client)
            events += result.stored
        if tick % METRICS_EVERY == 0:
            result = await services.record_points(key=key,
                                                  items=demo_data.points_at(live.seed, tz, now))
            points += result.stored
        return events, points
