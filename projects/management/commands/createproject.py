"""``manage.py createproject NAME --owner USERNAME``: one project, ready for scripts.

Prints one JSON object on stdout: ``{"project_id", "ingest_key", "api_token"}``; the token has the
admin scope and is shown only here.
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from analytics_site.errors import ApiError
from projects import selectors, services
from projects.models import Scope


class Command(BaseCommand):
    help = "Create a project (and its owner if missing); print its id, ingest key and a token."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, help="Username; created if missing.")
        parser.add_argument("--email", default="", help="E-mail for a new owner.")
        parser.add_argument("--timezone", default="UTC")

    def handle(self, *args, name, owner, email, timezone, **options):
        try:
            with transaction.atomic():
                user, _ = services.get_or_create_user(username=owner, email=email)
                project = services.create_project(name=name, owner=user, timezone_name=timezone)
                _, token = services.create_api_token(
                    user=user, name=f"createproject {project.slug}", scopes=[Scope.ADMIN])
        except ApiError as exc:
            raise CommandError(exc.message) from None
        key = selectors.active_ingest_key(project)
        self.stdout.write(json.dumps(
            {"project_id": project.pk, "ingest_key": key.key, "api_token": token}))
