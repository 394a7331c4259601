from django.core.management.base import BaseCommand, CommandError

from projects.models import Project

from ...demo import ensure_demo_dashboard

DEMO_SLUG = "demo"


class Command(BaseCommand):
    help = "Create the demo project's dashboard (once)."

    def handle(self, *args, **options):
        project = Project.objects.filter(slug=DEMO_SLUG).first()
        if project is None:
            raise CommandError("No demo project: run seed_demo first.")
        dashboard = ensure_demo_dashboard(project)
        if dashboard is None:
            self.stdout.write("Demo dashboard exists.")
        else:
            self.stdout.write(f"Demo dashboard created (id {dashboard.pk}).")
