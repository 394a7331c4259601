"""The Sources page in headless Chromium: what each receiver sent (rate, rejected, last error),
StatsD listeners and scrape targets with their health, updated while the page is open; the API
behind it scoped to members."""

import time
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from events.models import ScrapeTarget, StatsdListener
from projects.models import IngestKey, Role
from tests.browser.login import login

pytestmark = pytest.mark.slow


@pytest.fixture
def fleet(ingest, make_user, make_project):
    owner = make_user("maria")
    return make_project("Fleet", owner=owner, members={make_user("vik"): Role.VIEWER})


def test_sources_show_receivers_listeners_and_targets(page, ingest, ingest_server, fleet,
                                                      screenshot, make_user, token_client):
    key = IngestKey.objects.get(project=fleet)
    headers = {"Authorization": f"Token {key.key}"}
    assert ingest.post("/api/v2/write", headers=headers,
                       content=b"cpu,host=a idle=90\ncpu,host=b idle=80\nbroken").status_code \
        == 400
    assert ingest.post("/api/v1/metrics", headers={"X-API-Key": key.key},
                       json={"name": "queue.depth", "value": 3}).status_code == 202
    StatsdListener.objects.create(name="agents", ingest_key=key, port=18125,
                                  received_total=120, points_total=40,
                                  last_received_at=datetime.now(UTC))
    ScrapeTarget.objects.create(project=fleet, name="node", url="http://10.0.0.5:9100/metrics",
                                up=False, last_error="ConnectError: refused",
                                last_scrape_at=datetime.now(UTC), last_duration_ms=3.5)
    time.sleep(1.5)  # receivers write their counts to Redis within a second
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{fleet.pk}/sources/")
    influx = page.locator("#receivers tr[data-kind=influx]")
    expect(influx).to_contain_text("InfluxDB line protocol")
    cells = influx.locator("td").all_inner_texts()
    assert cells[1].endswith("s ago") and cells[2] == "0.4 points" and cells[3] == "1"
    assert cells[4] == "expected fields after the measurement and tags"  # line 3
    expect(page.locator("#receivers tr[data-kind=api] td").nth(2)).to_have_text("0.2 points")
    expect(page.locator("#listeners tbody tr")).to_contain_text("127.0.0.1:18125 udp+tcp")
    expect(page.locator("#targets tbody tr td").nth(2)).to_have_text("down")
    expect(page.locator("#targets tbody tr")).to_contain_text("ConnectError: refused")
    # Live: a new source shows up without a reload.
    assert ingest.post("/batch/", json={"api_key": key.key, "batch": [
        {"event": "signup", "distinct_id": "u1"}]}).status_code == 200
    expect(page.locator("#receivers tr[data-kind=posthog]")).to_contain_text("0.2 events",
                                                                            timeout=8000)
    screenshot(page, "sources", full_page=True)
    assert page.console_errors == []

    outsider = token_client(make_user("eve"))
    assert outsider.get(f"/api/v1/projects/{fleet.pk}/sources/").status_code == 404
    viewer = token_client(fleet.memberships.get(role=Role.VIEWER).user)
    body = viewer.get(f"/api/v1/projects/{fleet.pk}/sources/").json()
    assert {s["kind"] for s in body["sources"]} == {"influx", "api", "posthog"}
