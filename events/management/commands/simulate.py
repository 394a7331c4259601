"""``manage.py simulate``: live demo traffic, so dashboards and live pages keep moving.

Every second a few events from a handful of sessions in progress, every ten seconds one point per
metric series, through the real write path, until Ctrl-C / SIGTERM (or ``--duration``).
"""

import asyncio
import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError

from events.demo import data, simulate
from projects.models import Project


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
        key = data.ingest_key_for(target)
        if key is None:
            raise CommandError(f"Project {project!r} has no active ingest key.")
        live = data.LiveTraffic(secrets.randbelow(1_000_000))
        started = datetime.now(UTC)
        events, points = asyncio.run(simulate.run(key, live, ZoneInfo(target.timezone), rate,
                                                  duration, warn=self.stderr.write))
        seconds = (datetime.now(UTC) - started).total_seconds()
        self.stdout.write(f"Simulated {events} events and {points} metric points for "
                          f"{target.slug} in {seconds:.1f} s.")
