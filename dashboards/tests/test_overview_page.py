"""The project overview in headless Chromium against the real server (daphne: pages, API and
WebSockets): KPI cards and charts drawn from seeded events, top lists, and the live feed
receiving an event sent through the ingest API, escaped, pausable and filterable."""

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from events import rollups
from projects.models import IngestKey
from tests.browser.login import login

pytestmark = pytest.mark.slow




@pytest.fixture
def shop(store, ingest, make_user, make_project):
    owner = make_user("maria")
    project = make_project("Storefront", owner=owner)
    now = datetime.now(UTC)

    def at(minutes):
        return (now - timedelta(minutes=minutes)).isoformat()

    site = "https://shop.example"
    store.events(project, [
        {"event": "page_view", "distinct_id": "a", "session_id": "s1", "timestamp": at(50),
         "page_url": f"{site}/"},
        {"event": "page_view", "distinct_id": "a", "session_id": "s1", "timestamp": at(49),
         "page_url": f"{site}/pricing"},
        {"event": "signup", "distinct_id": "a", "session_id": "s1", "timestamp": at(48)},
        {"event": "page_view", "distinct_id": "b", "session_id": "s2", "timestamp": at(30),
         "page_url": f"{site}/pricing", "referrer": "https://www.google.com/"},
    ], user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0")
    rollups.fold()
    return project


def test_overview_draws_kpis_charts_and_lists(page, ingest_server, shop, screenshot):
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{shop.pk}/overview/?range=24h")
    events = page.locator("[data-kpi=events] .kpi-value")
    expect(events).to_have_text("4")
    expect(page.locator("[data-kpi=users] .kpi-value")).to_have_text("2")
    expect(page.locator("[data-kpi=sessions] .kpi-value")).to_have_text("2")
    expect(page.locator("[data-kpi=bounce_rate] .kpi-value")).to_have_text("50.0 %")
    expect(page.locator("#chart-events .main-svg").first).to_be_visible()
    expect(page.locator("[data-kpi=events] .spark .main-svg").first).to_be_attached()
    pages = page.locator("table[data-report=top-pages] tbody tr")
    expect(pages).to_have_count(2)
    assert pages.first.locator("td").all_inner_texts() == ["/pricing", "2", "2"]
    expect(page.locator("table[data-report=top-referrers] tbody td").first).to_have_text(
        "google.com")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "connected")
    screenshot(page, "overview", full_page=True)
    assert page.console_errors == []


def test_live_feed_shows_new_events_escaped_paused_and_filtered(page, ingest_server, shop):
    key = IngestKey.objects.get(project=shop).key
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{shop.pk}/overview/")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "connected")

    def send(name, properties=None):
        response = httpx.post(f"{ingest_server}/api/v1/events/batch", headers={"X-API-Key": key},
                              json={"events": [{"event": name, "distinct_id": "live-1",
                                                "properties": properties or {}}]})
        assert response.status_code == 202
        return time.monotonic()

    sent = send("checkout", {"note": "<img src=x onerror=alert(1)>"})
    first = page.locator("#feed li").first
    expect(first.locator(".feed-event")).to_have_text("checkout", timeout=1000)
    assert time.monotonic() - sent < 1.0  # the promise: in the feed within a second
    assert "<img src=x onerror=alert(1)>" in first.locator(".feed-props").inner_text()
    assert page.locator("#feed img").count() == 0  # shown as text, never as markup

    page.click("#feed-pause")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "paused")
    send("while_paused")
    page.wait_for_timeout(800)
    assert page.locator("#feed li .feed-event").all_inner_texts() == ["checkout"]
    page.click("#feed-pause")
    send("purchase")
    expect(page.locator("#feed li").first.locator(".feed-event")).to_have_text("purchase")
    page.fill("#feed-filter", "purch")
    expect(page.locator("#feed li:visible .feed-event")).to_have_text(["purchase"])
    assert page.console_errors == []


def test_someone_else_gets_not_found_and_no_live_events(page, ingest_server, shop, make_user):
    make_user("eve")
    login(page, ingest_server, "eve")
    response = page.goto(f"{ingest_server}/projects/{shop.pk}/overview/")
    assert response.status == 404
    closed = page.evaluate("""project => new Promise(resolve => {
        const ws = new WebSocket(`ws://${location.host}/ws/projects/${project}/`);
        ws.onclose = event => resolve(event.code);
    })""", shop.pk)
    assert closed in (4404, 1006)  # refused before or after the handshake, never joined
