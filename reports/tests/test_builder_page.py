"""The report pages in headless Chromium against the real server: a report made on the list
page and built in the builder (blocks from the palette, the engine's error in place as the query
is typed, the preview as it will be e-mailed with the engine's number, drag to reorder saved and
a failed save put back with a message), its page scheduled weekly in Europe/Paris, and "Make a
report" on a dashboard."""

import re

import pytest
from playwright.sync_api import expect

from reports.models import Report
from tests.browser.login import login

from .conftest import SIGNUPS

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _order(report) -> list[str]:
    return list(report.blocks.order_by("position").values_list("kind", flat=True))


def test_build_a_report_in_the_page_and_schedule_it(page, ingest_server, ingest, shop,
                                                    screenshot):
    project = shop["project"]
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/reports/")
    page.fill("input[name=title]", "Weekly shop")
    page.select_option("select[name=range]", "last_24h")
    page.click("text=New report")
    page.wait_for_url(f"{ingest_server}/projects/{project.pk}/reports/*/edit/")
    report = Report.objects.get(title="Weekly shop")
    builder = page.locator("#builder")
    expect(builder).to_have_attribute("data-previewed", "1")

    expect(page.locator(".custom-range-fields")).to_be_hidden()
    page.click("#palette >> text=KPI")
    expect(page.locator("#blocks [data-block]")).to_have_count(1)
    expect(page.locator("#block-form label.o-kpi").first).to_be_visible()
    expect(page.locator("#block-form label.o-text")).to_be_hidden()  # only a KPI's options
    query = page.locator("#block-form textarea[name=query]")
    query.fill("count:events{event:")
    errors = page.locator("#block-query-error")
    expect(errors).to_be_visible()
    expect(errors.locator(".error")).to_contain_text("Expected")
    expect(errors.locator(".caret")).to_contain_text("^")
    query.fill("count:events{event:signup}")
    expect(errors).to_be_hidden()
    page.fill("#block-form input[name=title]", "Sign-ups")
    page.click("#block-form >> text=Save block")
    expect(page.locator("#blocks [data-block]").first).to_contain_text("Sign-ups")

    page.click("#palette >> text=Chart")
    expect(page.locator("#blocks [data-block]")).to_have_count(2)
    page.click("#palette >> text=Text")
    expect(page.locator("#blocks [data-block]")).to_have_count(3)
    expect(page.locator("#block-form label.q")).to_be_hidden()  # text has no query
    page.fill("#block-form textarea[name=markdown]", "## Notes\n\n<b>bold</b> **strong**")
    page.click("#block-form >> text=Save block")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Sign-ups")
    expect(preview.locator(".kpi-value").first).to_have_text(str(SIGNUPS))
    expect(preview.locator("strong")).to_have_text("strong")
    expect(preview).to_contain_text("<b>bold</b>")  # escaped, shown as text
    expect(preview.locator("img").first).to_be_visible()  # the chart, inline
    assert _order(report) == ["kpi", "chart", "text"]
    screenshot(page, "report-builder", full_page=True)

    blocks = page.locator("#blocks [data-block]")
    blocks.nth(2).drag_to(blocks.nth(0))
    expect(builder).to_have_attribute("data-saves", "1")
    assert _order(report) == ["text", "kpi", "chart"]

    page.route("**/order/", lambda route: route.fulfill(
        status=500, content_type="application/json",
        body='{"error": "Server error", "code": "SERVER_ERROR", "details": {}}'))
    blocks.nth(2).drag_to(blocks.nth(0))
    expect(page.locator("#order-error")).to_contain_text("Could not save the order")
    expect(builder).to_have_attribute("data-saves", "2")
    expect(page.locator("#blocks [data-block] .badge")).to_have_text(["text", "kpi", "chart"])
    assert _order(report) == ["text", "kpi", "chart"]
    page.unroute("**/order/")
    page.console_errors.clear()  # the browser logs the 500 this test made up

    page.click("text=Done: schedule and recipients")
    page.wait_for_url(f"{ingest_server}/projects/{project.pk}/reports/{report.pk}/")
    form = page.locator("#schedule-form")
    form.locator("select[name=kind]").select_option("weekly")
    form.locator("select[name=weekday]").select_option("0")
    form.locator("input[name=time]").fill("09:00")
    form.locator("text=Save schedule").click()
    expect(page.locator(".message")).to_contain_text(
        "Scheduled: Weekly on Monday at 09:00 (Europe/Paris).")
    recipients = page.locator("#recipient-form")
    recipients.locator("input[name=email]").fill("team@example.com")
    recipients.locator("input[value=csv]").check()
    recipients.locator("text=Add recipient").click()
    expect(page.locator(".recipients")).to_contain_text("team@example.com")
    expect(page.locator(".recipients")).to_contain_text("CSV, PDF")
    screenshot(page, "report-page", full_page=True)

    page.goto(f"{ingest_server}/projects/{project.pk}/reports/")
    row = page.locator(f"tr[data-report='{report.pk}']")
    expect(row).to_contain_text("Weekly on Monday at 09:00 (Europe/Paris)")
    expect(row).to_contain_text("team@example.com")
    assert page.console_errors == []


def test_make_a_report_from_a_dashboard(page, ingest_server, ingest, shop, token_client):
    project = shop["project"]
    api = token_client(shop["owner"])  # the dashboards app through its API (no import)
    board = api.post(f"/api/v1/projects/{project.pk}/dashboards/", {"name": "Hosts"},
                     format="json").json()["id"]
    for panel in ({"title": "CPU", "type": "line", "query": "avg:cpu{} by {host}", "x": 0,
                   "y": 0, "w": 6, "h": 4},
                  {"title": "Load", "type": "stat", "query": "avg:cpu{}", "x": 6, "y": 0,
                   "w": 6, "h": 4}):
        assert api.post(f"/api/v1/dashboards/{board}/panels/", panel,
                        format="json").status_code == 201
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{board}/")
    page.click("#make-report")
    page.wait_for_url(f"{ingest_server}/projects/{project.pk}/reports/*/edit/")
    expect(page.locator("#blocks [data-block] .badge")).to_have_text(["chart", "kpi"])
    expect(page.locator("#preview")).to_contain_text("Load")
    assert Report.objects.get(project=project).title == "Hosts"
    assert page.console_errors == []


def test_the_email_as_received_shows_its_numbers_and_every_inline_chart(page, report, settings,
                                                                         screenshot):
    import base64

    from reports import runs, services

    from .test_runs import FlakyMailbox

    box = FlakyMailbox()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", box.port
    settings.PUBLIC_URL = "http://reports.test"
    try:
        services.add_recipient(report=report, email="team@example.com", formats=["pdf"])
        runs.execute(runs.run_now(report=report).pk)
    finally:
        box.controller.stop()
    [received] = box.messages
    message = received["message"]
    html = message.get_body(("html",)).get_content()
    for part in message.get_body(("related",)).iter_parts():
        if part.get_content_type() == "image/png":  # as a mail client shows cid: images
            cid = part["Content-ID"].strip().strip("<>")
            data = base64.b64encode(part.get_content()).decode()
            html = html.replace(f"cid:{cid}", f"data:image/png;base64,{data}")
    assert "cid:" not in html  # every inline image has its part
    page.set_content(html)
    expect(page.locator(".kpi-value")).to_have_text(str(SIGNUPS))
    images = page.locator("img")
    expect(images).to_have_count(2)
    widths = images.evaluate_all("images => images.map((i) => i.naturalWidth)")
    assert all(width > 100 for width in widths)
    expect(page.locator("text=Open this report and its files")).to_have_attribute(
        "href", re.compile(r"^http://reports\.test/r/"))
    screenshot(page, "report-email", full_page=True)
