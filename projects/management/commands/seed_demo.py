"""``manage.py seed_demo``: a demo project owned by the admin, created once.

The events and metrics issue extends this with a week of realistic traffic (``--days``).
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from projects import services
from projects.models import Project

DEMO_SLUG = "demo"


class Command(BaseCommand):
    help = "Create the demo project (once) for the admin user."

    def add_arguments(self, parser):
        parser.add_argument("--owner", default=None, help="Username (default ADMIN_USERNAME).")

    def handle(self, *args, owner=None, **options):
        username = owner or settings.ADMIN_USERNAME
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}; run ensureadmin first.")
        project = Project.objects.filter(slug=DEMO_SLUG).first()
        if project is None:
            project = services.create_project(name="Demo", owner=user, slug=DEMO_SLUG)
            self.stdout.write(f"Demo project created (id {project.pk}).")
        else:
            self.stdout.write(f"Demo project exists (id {project.pk}).")
