"""Alerts and dashboards together (the two apps never import each other; this test of how
they meet in the browser lives outside both): a firing alert is drawn live as a band on the
dashboard charts of its query, with a badge on the panel."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from alerts import evaluation
from alerts import services as alerts
from dashboards import services as dashboards
from events import rollups
from projects.models import Role
from tests.browser.login import login

pytestmark = pytest.mark.slow
QUERY = "sum:checkout.errors{}"


@pytest.fixture
def shop(store, make_user, make_project):
    owner = make_user("maria")
    project = make_project("Shop", owner=owner)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    store.points(project, [{"name": "checkout.errors", "value": 20.0,
                            "timestamp": (now - timedelta(minutes=m)).isoformat()}
                           for m in range(0, 30)])
    rollups.fold()
    return project


def _in_thread(call, *args):
    # Playwright keeps an event loop in this thread; what announces over Channels needs its own.
    done = threading.Thread(target=call, args=args)
    done.start()
    done.join(30)


def test_a_firing_alert_shows_live_on_a_dashboard_chart_of_its_query(page, ingest_server,
                                                                     shop):
    owner = shop.memberships.get(role=Role.ADMIN).user
    board = dashboards.create_dashboard(project=shop, name="Checkout", user=owner)
    same = dashboards.create_panel(dashboard=board, title="Errors", type="line", query=QUERY,
                                   x=0, y=0, w=6, h=4)
    other = dashboards.create_panel(dashboard=board, title="Other", type="line",
                                    query="avg:checkout.errors{}", x=6, y=0, w=6, h=4)
    rule = alerts.create_rule(project=shop, name="Errors", query=QUERY, reducer="sum",
                              window_minutes=5, threshold=50)
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{shop.pk}/dashboards/{board.pk}/?range=1h")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "connected")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    assert page.locator(".panel-alert").count() == 0
    _in_thread(evaluation.evaluate_now, rule)  # fires; the page hears it over its socket
    expect(page.locator(f"[data-panel='{same.pk}'] .panel-alert")).to_have_text("Firing")
    assert page.locator(f"[data-panel='{other.pk}'] .panel-alert").count() == 0
    band = page.locator(f"[data-panel='{same.pk}'] .shapelayer path")
    expect(band).to_have_count(1)
    assert page.locator(f"[data-panel='{other.pk}'] .shapelayer path").count() == 0
    assert page.console_errors == []
