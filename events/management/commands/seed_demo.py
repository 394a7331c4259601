"""``manage.py seed_demo``: the demo project, created once, with days of realistic traffic.

The traffic goes through the real write path (``events.services``), so it is enriched and merged
exactly like data from the snippet and agents. A project that already has data is left alone,
so ``make run`` can call this on every start without doubling anything; ``--force`` seeds anyway.
"""

import asyncio
import secrets
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from analytics_site.errors import ServiceUnavailable
from events import partitions
from events.demo import data as demo_data
from events.models import Event, MetricSeries
from projects import services as project_services
from projects.models import Project

DEMO_SLUG = "demo"


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


class Command(BaseCommand):
    help = "Create the demo project (once) and fill a project with days of realistic traffic."

    def add_arguments(self, parser):
        parser.add_argument("--owner", default=None, help="Username (default ADMIN_USERNAME).")
        parser.add_argument("--project", default=None,
                            help="Slug of an existing project (default: the demo project).")
        parser.add_argument("--days", type=int, default=7,
                            help="Days of history, at most the project's raw retention.")
        parser.add_argument("--seed", type=int, default=None,
                            help="Random seed, to reproduce the same traffic.")
        parser.add_argument("--force", action="store_true",
                            help="Seed even if the project already has data.")

    def handle(self, *args, owner=None, project=None, days=7, seed=None, force=False,
               **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        target = self._project(project, owner)
        if not force and (Event.objects.filter(project=target).exists()
                          or MetricSeries.objects.filter(project=target).exists()):
            self.stdout.write(f"Project {target.slug} already has data; not seeding "
                              "(--force seeds anyway).")
            return
        if days > target.raw_retention_days:
            days = target.raw_retention_days
            self.stdout.write(f"--days is more than the project's raw retention; seeding "
                              f"{_days(days)}.")
        seed = secrets.randbelow(1_000_000) if seed is None else seed
        self._seed(target, days, seed)

    def _project(self, slug: str | None, owner: str | None) -> Project:
        if slug and slug != DEMO_SLUG:
            found = Project.objects.filter(slug=slug).first()
            if found is None:
                raise CommandError(f"No project {slug!r}.")
            return found
        username = owner or settings.ADMIN_USERNAME
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}; run ensureadmin first.")
        found = Project.objects.filter(slug=DEMO_SLUG).first()
        if found is None:
            found = project_services.create_project(name="Demo", owner=user, slug=DEMO_SLUG)
            self.stdout.write(f"Demo project created (id {found.pk}).")
        else:
            self.stdout.write(f"Demo project exists (id {found.pk}).")
        return found

    def _seed(self, project: Project, days: int, seed: int) -> None:
        key = demo_data.ingest_key_for(project)
        if key is None:
            raise CommandError(f"Project {project.slug!r} has no active ingest key.")
        tz = ZoneInfo(project.timezone)
        started = time.monotonic()
        start, end = demo_data.window(datetime.now(UTC), days)
        events = demo_data.traffic(seed=seed, tz=tz, start=start, end=end)
        points = demo_data.metric_points(seed=seed, tz=tz, start=start, end=end)
        # All days' partitions in one go, rather than discovered batch by batch.
        partitions.ensure_partitions(start=start.date(), days=(end.date() - start.date()).days + 1)
        try:
            stored, stored_points, rejected = asyncio.run(demo_data.send_all(key, events, points))
        except ServiceUnavailable as exc:
            raise CommandError(f"Seeding stopped part way: {exc.message}") from exc
        if rejected:
            codes = sorted({r.code for r in rejected})
            self.stderr.write(f"{len(rejected)} items rejected ({', '.join(codes)}).")
        self.stdout.write(f"Seeded {project.slug} with {_days(days)} of traffic (seed {seed}): "
                          f"{stored} events, {stored_points} metric points in "
                          f"{time.monotonic() - started:.1f} s.")
