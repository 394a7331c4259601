"""Reads that do not grow with what they show: a dashboard page issues as many queries with 12
panels as with 1 (the panels fetch their data afterwards, one request each), and a panel's
data request as many for 30 series as for 3 (one statement per step of the query, never one per
series or group)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboards import services

pytestmark = pytest.mark.slow


def _dashboard(project, user, panels: int):
    dashboard = services.create_dashboard(project=project, name=f"{panels} panels", user=user)
    for n in range(panels):
        services.create_panel(dashboard=dashboard, title=f"Panel {n}",
                              query="avg:cpu{} by {host}", x=(n % 3) * 4, y=(n // 3) * 4,
                              w=4)
    return dashboard


def _queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == 200, response.content[:300]
    return len(captured.captured_queries)


def test_a_dashboard_page_costs_the_same_with_twelve_panels_as_with_one(client, make_user,
                                                                      make_project):
    user = make_user()
    project = make_project("Counts", owner=user)
    one, twelve = _dashboard(project, user, 1), _dashboard(project, user, 12)
    client.force_login(user)
    for dashboard in (one, twelve):  # warm: sessions, content types
        client.get(f"/projects/{project.pk}/dashboards/{dashboard.pk}/")
    cost = {n: _queries(lambda d=d: client.get(f"/projects/{project.pk}/dashboards/{d.pk}/"))
            for n, d in ((1, one), (12, twelve))}
    assert cost[12] == cost[1], cost


def test_a_panel_query_costs_the_same_for_thirty_series_as_for_three(store, make_user,
                                                                     make_project,
                                                                     token_client):
    user = make_user()
    project = make_project("Series", owner=user)
    now = datetime.now(UTC)
    points = [{"name": name, "value": float(n), "tags": {"host": f"h{n}"},
               "timestamp": (now - timedelta(minutes=m)).isoformat()}
              for name, hosts in (("few", 3), ("many", 30)) for n in range(hosts)
              for m in range(3)]
    store.points(project, points)
    client = token_client(user)

    def ask(metric: str):
        return client.post("/api/v1/query", {"project": project.pk, "start": "now-1h",
                                             "query": f"avg:{metric}{{}} by {{host}} limit 50"},
                           format="json")

    assert len(ask("few").json()["data"]) == 3 and len(ask("many").json()["data"]) == 30
    cost = {metric: _queries(lambda m=metric: ask(m)) for metric in ("few", "many")}
    assert cost["few"] == cost["many"], cost
