"""The tracking snippet in headless Chromium, on the demo page served by daphne, writing into the
real database; and its size budget."""

import gzip
import time
from pathlib import Path

import pytest

from events.models import Event

BASE_DIR = Path(__file__).resolve().parents[2]


def test_tracker_fits_in_two_kilobytes_gzipped():
    source = (BASE_DIR / "static" / "sdk" / "tracker.js").read_bytes()
    assert len(gzip.compress(source, 9)) <= 2048


def _wait_for(predicate, timeout=10.0, page=None):
    """Poll; with ``page``, wait inside Playwright so its route handlers get to run."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        if page is None:
            time.sleep(0.1)
        else:
            page.wait_for_timeout(100)


@pytest.fixture
def demo_project(ingest, make_project):
    project = make_project("Demo")
    project.slug = "demo"
    project.save()
    return project


@pytest.mark.slow
def test_demo_page_clicks_arrive_with_one_session_and_the_right_properties(
        page, ingest_server, demo_project, screenshot):
    page.goto(f"{ingest_server}/demo/")
    page.wait_for_function("window.tracker !== undefined")
    page.click("text=Start sign-up")
    page.click("text=Buy (49.90)")
    page.click("text=Identify as demo-user-1")
    page.click("text=Go to /demo/pricing (SPA)")
    screenshot(page, "demo")
    page.click("text=Send now")

    _wait_for(lambda: Event.objects.filter(project=demo_project).count() == 5)
    rows = list(Event.objects.filter(project=demo_project).order_by("timestamp").values())
    assert [r["event"] for r in rows] == [
        "page_view", "signup_started", "purchase", "$identify", "page_view"]
    assert len({r["session_id"] for r in rows}) == 1
    anon = rows[0]["distinct_id"]
    assert [r["distinct_id"] for r in rows] == [anon] * 3 + ["demo-user-1"] * 2
    assert rows[2]["properties"] == {"amount": 49.9, "currency": "EUR"}
    assert rows[3]["properties"] == {"$anon_distinct_id": anon, "plan": "pro"}
    assert [r["path"] for r in rows if r["event"] == "page_view"] == ["/demo/", "/demo/pricing"]
    assert rows[0]["properties"]["title"].startswith("Demo shop")
    assert rows[0]["browser"] == "HeadlessChrome" or rows[0]["browser"].startswith("Chrom")
    assert page.console_errors == []


@pytest.mark.slow
def test_queued_events_leave_by_beacon_when_the_page_is_hidden(page, ingest_server,
                                                              demo_project):
    page.goto(f"{ingest_server}/demo/")
    page.wait_for_function("window.tracker !== undefined")
    page.click("text=Start sign-up")  # queued: the 2 s timer has not fired
    page.goto("about:blank")  # pagehide -> sendBeacon
    _wait_for(lambda: Event.objects.filter(project=demo_project,
                                           event="signup_started").exists())
    assert Event.objects.filter(project=demo_project).count() == 2


@pytest.mark.slow
def test_the_tracker_retries_on_503_after_retry_after_and_on_network_errors(
        page, ingest_server, demo_project):
    attempts = []

    def flaky(route):
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            route.fulfill(status=503, headers={"Retry-After": "2",
                                               "Access-Control-Allow-Origin": "*",
                                               "Access-Control-Expose-Headers": "Retry-After"},
                          body='{"error": "Storage is unavailable", "code": "UNAVAILABLE"}')
        elif len(attempts) == 2:
            route.abort("connectionrefused")
        else:
            route.continue_()

    page.route("**/api/v1/events/batch", flaky)
    page.goto(f"{ingest_server}/demo/")
    page.wait_for_function("window.tracker !== undefined")
    page.evaluate("tracker.flush()")
    _wait_for(lambda: Event.objects.filter(project=demo_project).count() == 1, page=page)
    assert len(attempts) == 3
    assert attempts[1] - attempts[0] >= 1.9  # waited the Retry-After
    assert 0.8 <= attempts[2] - attempts[1] < 1.9  # then backoff: 1 s after the second try


@pytest.mark.slow
def test_the_tracker_gives_up_after_three_tries(page, ingest_server, demo_project):
    attempts = []

    def down(route):
        attempts.append(time.monotonic())
        route.fulfill(status=500, headers={"Access-Control-Allow-Origin": "*"}, body="{}")

    page.route("**/api/v1/events/batch", down)
    page.goto(f"{ingest_server}/demo/")
    page.wait_for_function("window.tracker !== undefined")
    page.evaluate("tracker.flush()")
    _wait_for(lambda: len(attempts) == 3, page=page)
    page.wait_for_timeout(3000)  # longer than the next backoff would be
    assert len(attempts) == 3
