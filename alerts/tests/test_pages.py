"""The alerts pages in headless Chromium against the real server: the rule form's backtest
chart and errors in place, evaluate-now and the history, the rules list's badges, the channels
page's refusals, test notification and delivery log — and a firing alert drawn live on a
dashboard chart of the same query."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from alerts import delivery, evaluation, services
from alerts.models import AlertRule, Notification
from alerts.tests.receivers import mailbox  # noqa: F401 - fixture
from events import rollups
from projects.models import Role
from tests.browser.login import login

pytestmark = pytest.mark.slow
QUERY = "sum:checkout.errors{}"


@pytest.fixture
def shop(store, make_user, make_project):
    owner = make_user("maria")
    project = make_project("Shop", owner=owner, members={make_user("vik"): Role.VIEWER})
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # 1 error a minute, 20 a minute from 3 h to 2 h ago and in the last 10 minutes.
    store.points(project, [{"name": "checkout.errors",
                            "value": 20.0 if (120 <= m < 180 or m < 10) else 1.0,
                            "timestamp": (now - timedelta(minutes=m)).isoformat()}
                           for m in range(0, 24 * 60, 1)])
    rollups.fold()
    return project


def test_the_rule_form_backtests_marks_errors_and_saves(page, ingest_server, shop, screenshot):
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{shop.pk}/alerts/new/")
    page.fill("input[name=name]", "Checkout errors")
    page.fill("textarea[name=query]", "sum:checkout.errors{")
    page.fill("input[name=threshold]", "50")
    expect(page.locator("[data-error-for=query]")).to_contain_text("Expected")
    page.fill("textarea[name=query]", QUERY)
    page.select_option("select[name=reducer]", "sum")
    page.fill("input[name=window_minutes]", "5")
    expect(page.locator("#backtest-summary")).to_have_text("would have fired 2 time(s)")
    assert page.locator("#rule-chart").get_attribute("data-bands") == "2"
    # checkout.errors has no unit in the catalogue: raw values, the threshold at 50, no axis title.
    assert page.evaluate("""() => { const l = document.querySelector('#rule-chart').layout;
        return [l.shapes[0].y0, l.yaxis.title === undefined]; }""") == [50, True]
    expect(page.locator("[data-error-for=query]")).to_be_hidden()
    screenshot(page, "alert-rule-form", full_page=True)
    page.fill("input[name=interval_seconds]", "5")
    page.click("#rule-form button[type=submit]")
    expect(page.locator("p[data-error-for*=interval_seconds]")).to_contain_text("between 10")
    page.fill("input[name=interval_seconds]", "30")
    page.click("#rule-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/alerts/\d+/$"))
    rule = AlertRule.objects.get(project=shop)
    assert (rule.query, rule.reducer, rule.threshold, rule.interval_seconds) == (
        QUERY, "sum", 50.0, 30)

    expect(page.locator("#rule-state")).to_have_text("NEW")
    page.click("text=Evaluate now")
    expect(page.locator("#rule-state")).to_have_text("FIRING")
    expect(page.locator(".timeline li").first).to_contain_text("OK → Firing")
    expect(page.locator("#rule-chart .main-svg").first).to_be_attached()
    screenshot(page, "alert-rule", full_page=True)

    calm = services.create_rule(project=shop, name="Checkout errors, severe", query=QUERY,
                                reducer="sum", threshold=500, severity="critical")
    slow = services.create_rule(project=shop, name="Checkout errors, sustained", query=QUERY,
                                reducer="sum", threshold=50, for_seconds=600, severity="info")
    evaluation.evaluate_due(enqueue=lambda pk: None)
    page.goto(f"{ingest_server}/projects/{shop.pk}/alerts/")
    row = page.locator(f"tr[data-rule='{rule.pk}']")
    expect(row.locator(".badge").first).to_have_text("FIRING")
    expect(page.locator(f"tr[data-rule='{calm.pk}'] .badge").first).to_have_text("OK")
    expect(page.locator(f"tr[data-rule='{slow.pk}'] .badge").first).to_have_text("PENDING")
    expect(row).to_contain_text("sum over 5 min > 50.0")
    screenshot(page, "alerts", full_page=True)
    assert [e for e in page.console_errors if "status of 400" not in e] == []


def test_viewers_see_rules_but_no_editing(page, ingest_server, shop):
    services.create_rule(project=shop, name="Errors", query=QUERY, threshold=50)
    login(page, ingest_server, "vik")
    page.goto(f"{ingest_server}/projects/{shop.pk}/alerts/")
    expect(page.locator("table.alert-rules tbody tr")).to_have_count(1)
    assert page.locator("text=New rule").count() == 0
    assert page.goto(f"{ingest_server}/projects/{shop.pk}/alerts/new/").status == 403


def test_channels_page_refuses_internal_urls_and_logs_a_test(page, ingest_server, shop,
                                                           mailbox):  # noqa: F811
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{shop.pk}/alerts/channels/")
    page.fill("#channel-form input[name=name]", "metadata")
    page.select_option("#channel-form select[name=kind]", "webhook")
    page.fill("#channel-form input[name=url]", "http://169.254.169.254/latest/")
    page.click("#channel-form button[type=submit]")
    expect(page.locator(".message-error")).to_contain_text(
        "169.254.169.254 is an internal address")
    page.fill("#channel-form input[name=name]", "on-call")
    page.select_option("#channel-form select[name=kind]", "email")
    page.fill("#channel-form input[name=recipients]", "ops@example.com")
    page.click("#channel-form button[type=submit]")
    expect(page.locator(".message-success")).to_contain_text("Added “on-call”")
    page.click("text=Send test notification")
    section = page.locator("section.channel")
    expect(section.locator(".deliveries tbody tr")).to_have_count(1)
    expect(section.locator(".attempts")).to_contain_text("queued")
    # What the worker's task does (the test server has no worker): deliver it.
    delivery.deliver(Notification.objects.get(kind="test").pk)
    page.reload()
    expect(section.locator(".badge.delivery-sent")).to_have_text("sent")
    expect(section.locator(".attempts")).to_contain_text("ok · 250")
    assert mailbox.messages[0]["to"] == ["ops@example.com"]
    assert page.console_errors == []
