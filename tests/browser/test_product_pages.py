"""The product analytics pages in Chromium over data written through the real write path: the
funnel (and who dropped off), retention, paths, sessions and a session, people and a person
(erased from their page), the event explorer, and the overview (its country map drawn from our
own static files) filtered by a click on a row."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from events import rollups
from events.models import Event
from tests.browser.login import login
from tests.browser.test_content_security_policy import _in_thread

pytestmark = pytest.mark.slow

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/130.0.0.0 Safari/537.36")
SITE = "https://shop.example"


@pytest.fixture
def shop(store, ingest, make_user, make_project):
    owner = make_user("maria")
    project = make_project("Storefront", owner=owner)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    for n in range(12):
        who, session = f"anon-{n}", f"s{n}"
        at = base + timedelta(minutes=7 * n)
        landing = {"event": "page_view", "distinct_id": who, "session_id": session,
                   "timestamp": at.isoformat(), "page_url": f"{SITE}/"
                   + ("?utm_source=newsletter&utm_medium=email&utm_campaign=may" if n % 3 == 0
                      else "")}
        if n % 3 == 1:
            landing["referrer"] = "https://www.google.com/"
        # A server-side SDK's visitor address: looked up (GB or US), then dropped.
        landing["properties"] = {"$ip": "81.2.69.160" if n % 2 else "12.0.0.1"}
        events = [landing,
                  {"event": "page_view", "distinct_id": who, "session_id": session,
                   "timestamp": (at + timedelta(seconds=30)).isoformat(),
                   "page_url": f"{SITE}/pricing"}]
        if n % 2 == 0:
            events.append({"event": "signup", "distinct_id": who, "session_id": session,
                           "timestamp": (at + timedelta(seconds=90)).isoformat(),
                           "page_url": f"{SITE}/signup", "properties": {"plan": "team"}})
        if n % 4 == 0:
            events.append({"event": "$identify", "distinct_id": f"user-{n}",
                           "session_id": session,
                           "timestamp": (at + timedelta(seconds=91)).isoformat(),
                           "properties": {"$anon_distinct_id": who,
                                          "$set": {"email": f"u{n}@example.com"}}})
        store.events(project, events, user_agent=CHROME)
    _in_thread(rollups.fold)
    return project


def test_product_pages_answer_on_known_data(page, ingest_server, shop, screenshot):
    base = f"{ingest_server}/projects/{shop.pk}"
    login(page, ingest_server, "maria")

    steps = ('[{"event":"page_view","filters":["path:/pricing"]},{"event":"signup"}]')
    page.goto(f"{base}/funnels/?start=now-1d&steps={steps}")
    expect(page.locator("#product")).to_have_attribute("data-loaded", "true")
    rows = page.locator("#funnel-table tbody tr")
    expect(rows.nth(1).locator("td").nth(1)).to_have_text("6")
    expect(page.locator("#funnel-chart .main-svg").first).to_be_attached()
    page.click("#funnel-table .drop-off")
    expect(page.locator("#people-table tbody tr")).to_have_count(6)
    screenshot(page, "funnel", full_page=True)

    page.goto(f"{base}/retention/?start=now-14d&period=day")
    expect(page.locator("#product")).to_have_attribute("data-loaded", "true")
    sizes = page.locator("#retention-table tbody tr td:nth-child(2)").all_inner_texts()
    assert sum(int(size) for size in sizes) == 12  # every visitor in one cohort or another
    screenshot(page, "retention", full_page=True)

    page.goto(f"{base}/paths/?start=now-1d&origin=/")
    expect(page.locator("#product")).to_have_attribute("data-loaded", "true")
    expect(page.locator("#paths-title")).to_have_text("12 sessions from /")
    expect(page.locator("#paths-chart .sankey").first).to_be_attached()
    expect(page.locator("#entry-table tbody tr td").first).to_have_text("/")
    screenshot(page, "paths", full_page=True)

    page.goto(f"{base}/sessions/?start=now-1d")
    expect(page.locator("#sessions-count")).to_have_text("12 sessions")
    page.locator("#sessions-table tbody tr a").first.click()
    expect(page.locator("#timeline li").first).to_contain_text("page_view")

    page.goto(f"{base}/people/?start=now-1d")
    expect(page.locator("#people-count")).to_have_text("12 people")
    page.fill("input[name=search]", "u4@")
    page.click("#people-form button[type=submit]")
    expect(page.locator("#people-table tbody tr")).to_have_count(1)
    page.locator("#people-table tbody a").first.click()
    expect(page.locator("#person-name")).to_have_text("user-4")
    expect(page.locator("#person-about")).to_contain_text("anon-4, user-4")
    screenshot(page, "person", full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#erase")
    page.wait_for_url("**/people/?erased=user-4")
    assert not Event.objects.filter(project=shop, distinct_id__in=["anon-4", "user-4"]).exists()

    page.goto(f"{base}/events/?start=now-1d&columns=plan")
    expect(page.locator("#events-table tbody tr")).to_have_count(29)  # 33, less user-4's 4
    expect(page.locator("#events-table thead")).to_contain_text("plan")

    page.goto(f"{base}/overview/?range=24h")
    expect(page.locator("table[data-report=channels] tbody tr")).to_have_count(3)
    expect(page.locator("table[data-report=countries] tbody tr")).to_have_count(2)
    expect(page.locator("#country-map .choropleth path")).to_have_count(2)  # shapes from static/
    page.locator("table[data-report=channels] tbody tr", has_text="email").click()
    page.wait_for_url("**filter=channel%3Aemail**")
    expect(page.locator("#active-filters button")).to_contain_text("channel:email")
    expect(page.locator("[data-kpi=sessions] .kpi-value")).to_have_text("4")
    screenshot(page, "overview-filtered", full_page=True)
    assert page.console_errors == []
