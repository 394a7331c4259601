"""A shop with known data (events and host metrics written through the real write path, rolled
up), a report over it with a block of every kind, and the loopback SMTP server."""

from datetime import UTC, datetime, timedelta

import pytest

from events import rollups
from projects.models import Role
from reports import services

SIGNUPS = 12
PAGE_VIEWS = 30
HOSTS = {"web-1": 10.0, "web-2": 30.0}


@pytest.fixture
def shop(store, make_user, make_project):
    owner = make_user("maria")
    viewer = make_user("li")
    project = make_project("Shop", owner=owner, members={viewer: Role.VIEWER})
    project.timezone = "Europe/Paris"
    project.save()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    events = [{"event": "signup", "distinct_id": f"u{i}", "session_id": f"s{i}",
               "timestamp": (now - timedelta(minutes=5 * i + 3)).isoformat()}
              for i in range(SIGNUPS)]
    events += [{"event": "page_view", "distinct_id": f"u{i % 6}", "session_id": f"s{i % 6}",
                "page_url": f"https://shop.example/{'pricing' if i % 3 else 'home'}",
                "timestamp": (now - timedelta(minutes=4 * i + 1)).isoformat()}
               for i in range(PAGE_VIEWS)]
    store.events(project, events)
    store.points(project, [{"name": "cpu", "value": value, "tags": {"host": host},
                            "timestamp": (now - timedelta(minutes=m)).isoformat()}
                           for host, value in HOSTS.items() for m in range(1, 181)])
    rollups.fold()
    return {"project": project, "owner": owner, "viewer": viewer, "now": now}


@pytest.fixture
def report(shop):
    return services.create_report(
        project=shop["project"], user=shop["owner"], title="Weekly shop", range="last_24h",
        description="Sign-ups, hosts and pages.", blocks=[
            {"kind": "kpi", "title": "Sign-ups", "query": "count:events{event:signup}"},
            {"kind": "chart", "title": "CPU by host", "query": "avg:cpu{} by {host}",
             "options": {"type": "line", "step": "1h"}},
            {"kind": "table", "title": "Events by name", "query": "count:events{} by {event}",
             "options": {"mode": "breakdown"}},
            {"kind": "text", "options": {"markdown": "## Notes\n\n<script>x()</script> **ok**"}},
            {"kind": "product", "title": "Top pages", "options": {"report": "top-pages"}},
        ])
