"""The demo dashboard that `make run` creates beside the demo project."""

import io

import pytest
from django.core.management import CommandError, call_command

from dashboards.models import Dashboard

pytestmark = pytest.mark.django_db


def test_the_demo_dashboard_is_made_once(make_project):
    with pytest.raises(CommandError):
        call_command("seed_demo_dashboard", stdout=io.StringIO())
    project = make_project("Demo")
    project.slug = "demo"
    project.save()
    out = io.StringIO()
    call_command("seed_demo_dashboard", stdout=out)
    call_command("seed_demo_dashboard", stdout=out)
    assert "created" in out.getvalue() and "exists" in out.getvalue()
    dashboard = Dashboard.objects.get(project=project)
    assert dashboard.panels.count() == 8
    assert dashboard.variables == [{"name": "host", "metric": "cpu", "tag": "host"}]
