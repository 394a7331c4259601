"""The demo project's dashboard: panels over the demo traffic and host metrics, so a fresh
install has a dashboard to look at (``manage.py seed_demo_dashboard``, run by ``make run``)."""

from __future__ import annotations

from . import services
from .models import Dashboard

NAME = "Site and hosts"
PANELS = (
    ("Page views", "bar", "count:events{event:page_view}", {}, (0, 0, 6, 4)),
    ("Sign-ups", "stat", "count:events{event:signup_completed}", {"calculation": "sum"},
     (6, 0, 3, 4)),
    ("p95 latency", "stat", "p95:http.latency_ms{}",
     {"unit": "ms", "calculation": "avg",
      "thresholds": [{"value": 300, "color": "#f59f00"}, {"value": 800, "color": "#e03131"}]},
     (9, 0, 3, 4)),
    ("CPU by host", "line", "avg:cpu{host:$host} by {host}", {"unit": "%"}, (0, 4, 6, 4)),
    ("p95 latency by host", "area", "p95:http.latency_ms{host:$host} by {host}",
     {"unit": "ms"}, (6, 4, 6, 4)),
    ("Errors by host", "bar", "sum:http.errors{host:$host} by {host}", {}, (0, 8, 6, 4)),
    ("Queue depth", "gauge", "last:queue.depth{}", {"max": 2000}, (6, 8, 3, 4)),
    ("Memory", "table", "avg:memory{host:$host} by {host}", {"unit": "%", "calculation": "avg"},
     (9, 8, 3, 4)),
)


def ensure_demo_dashboard(project, user=None) -> Dashboard | None:
    """Create the demo dashboard once; None if the project has it already."""
    if Dashboard.objects.filter(project=project, name=NAME).exists():
        return None
    dashboard = services.create_dashboard(
        project=project, name=NAME, user=user, description="Demo traffic and host metrics.",
        variables=[{"name": "host", "metric": "cpu", "tag": "host"}])
    for title, kind, query, options, (x, y, w, h) in PANELS:
        services.create_panel(dashboard=dashboard, title=title, type=kind, query=query,
                              options=options, x=x, y=y, w=w, h=h)
    return dashboard
