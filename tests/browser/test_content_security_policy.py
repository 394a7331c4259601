"""The Content-Security-Policy and Permissions-Policy in headless Chromium: every page, signed in,
public and admin, is loaded with its charts drawn and a little interaction, and none of them
reports a violation, while each page's scripts visibly ran (a policy that silently blocked them
would fail here too)."""

import re
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.db import connections
from django_celery_beat.models import CrontabSchedule
from playwright.sync_api import expect

from alerts import evaluation
from alerts import services as alerts
from dashboards import services as dashboards
from events import rollups
from events.models import Event
from tests.browser.login import login

pytestmark = pytest.mark.slow

# Records every violation of the document, from before its first script runs.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(
  `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`
  + ` (${e.sample})`));
"""
DENIED = ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()",
          "interest-cohort=()")


class PolicyWatch:
    """Watches one browser page: the CSP and Permissions-Policy of every document it loads,
    the violations its documents record and what Chromium says about either in the console."""

    def __init__(self, page):
        self.page = page
        self.documents = []
        self.console = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._on_console)
        page.on("response", self._on_response)

    def _on_console(self, message):
        if re.search(r"Content.Security.Policy|Permissions.Policy", message.text, re.I):
            self.console.append(message.text)

    def _on_response(self, response):
        if response.request.resource_type == "document" and not 300 <= response.status < 400:
            self.documents.append(response)

    def check(self, name: str) -> None:
        """No violation so far, and the policies on every page loaded since the last check."""
        self.page.wait_for_load_state("networkidle")
        violations = self.page.evaluate("window.__cspViolations")
        assert violations == [], f"{name}: {violations}"
        assert self.console == [], f"{name}: {self.console}"
        assert self.documents, f"{name}: no page was loaded"
        for response in self.documents:
            headers = response.headers
            csp = headers.get("content-security-policy")
            assert csp, f"{name}: no Content-Security-Policy on {response.url}"
            directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ") if d}
            assert re.fullmatch(r"'nonce-[\w-]{16,}'", directives["script-src"][-1]), (name, csp)
            assert directives["script-src"][:1] == ["'self'"], (name, csp)
            assert not {"'unsafe-inline'", "'unsafe-eval'"} & set(directives["script-src"])
            assert directives["default-src"] == ["'self'"], (name, csp)
            assert directives["frame-ancestors"] == ["'none'"], (name, csp)
            assert directives["object-src"] == ["'none'"], (name, csp)
            permissions = headers.get("permissions-policy")
            assert permissions, f"{name}: no Permissions-Policy on {response.url}"
            assert all(feature in permissions for feature in DENIED), (name, permissions)
        self.documents.clear()


def _in_thread(call, *args):
    """Playwright keeps an event loop in this thread; what announces over Channels needs its
    own (and closes its database connection, so the test database can be dropped)."""

    def run():
        try:
            call(*args)
        finally:
            connections.close_all()

    done = threading.Thread(target=run)
    done.start()
    done.join(30)


@pytest.fixture
def watched(page):
    return PolicyWatch(page)


@pytest.fixture
def shop(store, ingest, make_user, make_project):
    """A project with events, host metrics, a dashboard of every panel type with a public link,
    a fired alert rule and a notification channel; maria is its admin and a superuser."""
    owner = make_user("maria", is_staff=True, is_superuser=True)
    project = make_project("Storefront", owner=owner)
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    def at(minutes):
        return (now - timedelta(minutes=minutes)).isoformat()

    store.events(project, [
        {"event": "page_view" if i % 3 else "signup", "distinct_id": f"u{i % 5}",
         "session_id": f"s{i % 7}", "timestamp": at(2 * i),
         "page_url": f"https://shop.example/{'pricing' if i % 2 else ''}",
         "referrer": "https://www.google.com/" if i % 4 == 0 else None} for i in range(40)],
        user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0")
    store.points(project, [
        {"name": "http.latency_ms", "value": 20 + (i % 7) * 5, "tags": {"host": f"web-{i % 3}"},
         "timestamp": at(i)} for i in range(180)])
    _in_thread(rollups.fold)
    board = dashboards.create_dashboard(project=project, name="Everything", user=owner)
    dashboards.update_dashboard(dashboard=board, variables=[
        {"name": "host", "metric": "http.latency_ms", "tag": "host"}])
    for i, (kind, query) in enumerate((
        ("line", "avg:http.latency_ms{host:$host} by {host}"),
        ("area", "p95:http.latency_ms{} by {host}"),
        ("bar", "count:events{event:page_view}"),
        ("gauge", "avg:http.latency_ms{}"),
        ("stat", "p95:http.latency_ms{}"),
        ("table", "max:http.latency_ms{} by {host}"),
        ("heatmap", "avg:http.latency_ms{} by {host}"),
    )):
        dashboards.create_panel(dashboard=board, title=kind.title(), type=kind, query=query,
                                options={"unit": "ms"}, x=(i % 3) * 4, y=(i // 3) * 4,
                                w=4, h=4)
    token = dashboards.create_public_link(dashboard=board)
    rule = alerts.create_rule(project=project, name="Slow", query="avg:http.latency_ms{}",
                              reducer="avg", window_minutes=5, threshold=1)
    _in_thread(evaluation.evaluate_now, rule)
    alerts.create_channel(project=project, name="on-call", kind="email",
                          recipients=["ops@example.com"])
    return {"project": project, "board": board, "token": token, "rule": rule}


def _wait_for(page, predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(100)


def _hover(page, selector):
    """Moves the mouse over a Plotly chart, so it draws its hover label (x unified: a box in
    the hover layer)."""
    target = page.locator(selector).first
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4, steps=4)
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5, steps=4)


def test_signed_in_pages_of_a_project_report_no_violation(page, watched, ingest_server, shop,
                                                          screenshot):
    project, board, rule = shop["project"], shop["board"], shop["rule"]
    base = f"{ingest_server}/projects/{project.pk}"

    login(page, ingest_server, "maria")
    watched.check("login and projects list")

    page.select_option("#project-switcher", label="Storefront")  # app.js navigates
    page.wait_for_url(f"{base}/settings/")
    copy = page.locator("button[data-copy-target=snippet]")
    copy.click()
    expect(copy).to_have_text("Copied")
    watched.check("project settings")

    page.goto(f"{base}/overview/?range=24h")
    expect(page.locator("#chart-events .main-svg").first).to_be_visible()
    expect(page.locator("#live-state")).to_have_attribute("data-state", "connected")  # ws:
    _hover(page, "#chart-events .nsewdrag")
    expect(page.locator("#chart-events .hoverlayer > g").first).to_be_attached()
    watched.check("overview")

    page.goto(f"{base}/dashboards/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    with page.expect_event("dialog"):  # app.js asks before deleting
        page.locator("tr", has_text="Everything").locator("text=Delete").click()
    watched.check("dashboards list")

    page.goto(f"{base}/dashboards/{board.pk}/?range=6h")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "connected")
    for kind in ("line", "area", "bar", "gauge", "stat", "heatmap"):
        expect(page.locator(f"[data-type={kind}] .main-svg").first).to_be_attached()
    expect(page.locator("[data-type=table] tbody tr")).to_have_count(3)
    assert page.locator(".panel-status.error").count() == 0
    page.click("#custom-range summary")
    page.click("[data-variable=host] summary")
    page.click("[data-variable=host] summary")  # closed again: open, it covers the charts
    page.click("#custom-range summary")
    _hover(page, "[data-type=line] .nsewdrag")
    expect(page.locator("[data-type=line] .hoverlayer > g").first).to_be_attached()
    _hover(page, "[data-type=heatmap] .nsewdrag")
    screenshot(page, "csp-dashboard", full_page=True)
    watched.check("dashboard with every panel type")

    page.click("[data-type=heatmap] .panel-edit")
    page.wait_for_url("**/panels/*/")
    expect(page.locator("#preview .main-svg").first).to_be_attached()
    page.select_option("#panel-form select[name=type]", "gauge")
    expect(page.locator("#preview .indicatorlayer").first).to_be_attached()
    watched.check("panel editor")

    page.goto(f"{base}/alerts/")
    expect(page.locator(f"tr[data-rule='{rule.pk}'] .badge").first).to_have_text("FIRING")
    watched.check("alert rules")

    page.goto(f"{base}/alerts/{rule.pk}/")
    expect(page.locator("#rule-chart .main-svg").first).to_be_attached()
    _hover(page, "#rule-chart .nsewdrag")
    watched.check("alert rule")

    page.goto(f"{base}/alerts/new/")
    page.fill("input[name=name]", "Latency")
    page.fill("textarea[name=query]", "avg:http.latency_ms{}")
    page.fill("input[name=threshold]", "30")
    expect(page.locator("#backtest-summary")).to_contain_text("would have fired")
    expect(page.locator("#rule-chart .main-svg").first).to_be_attached()
    watched.check("alert rule form")

    page.goto(f"{base}/alerts/channels/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    with page.expect_event("dialog"):
        page.locator("section.channel").locator("text=Delete").click()
    watched.check("notification channels")

    for path, ready in (("funnels/?start=now-1d", "#funnel-chart .main-svg"),
                        ("retention/?start=now-14d", "#retention-chart .main-svg"),
                        ("paths/?start=now-1d&origin=/pricing", "#paths-chart .main-svg"),
                        ("sessions/?start=now-1d", "#sessions-table tbody tr"),
                        ("people/?start=now-1d", "#people-table tbody tr"),
                        ("people/u1/", "#person-events tbody tr"),
                        ("sessions/s1/", "#timeline li"),
                        ("events/?start=now-1d", "#events-table tbody tr")):
        page.goto(f"{base}/{path}")
        expect(page.locator(ready).first).to_be_attached()
        watched.check(path)

    page.goto(f"{base}/ml/")
    expect(page.locator("#live-state")).to_have_text("live")  # ml.js ran, the socket opened
    watched.check("ML models")
    page.goto(f"{base}/ml/correlations/")
    page.fill("textarea[name=queries]", "avg:cpu{} by {host}\ncount:events{}")
    page.click("#correlation-form button[type=submit]")
    expect(page.locator("#heatmap .main-svg, #heatmap .panel-status").first).to_be_attached()
    watched.check("correlations")

    page.goto(f"{ingest_server}/projects/{project.pk}/sources/")
    expect(page.locator("#sources-updated")).to_contain_text("updated")
    watched.check("sources")

    page.goto(f"{base}/metrics/")
    expect(page.locator("#metrics")).to_have_attribute("data-search", "")  # metrics.js ran
    watched.check("metrics")

    page.goto(f"{ingest_server}/status/")  # maria is a superuser
    expect(page.locator("#checks tbody tr")).to_have_count(4)
    watched.check("system status")

    page.goto(f"{base}/settings/nothing-here/")
    expect(page.locator("h1")).to_have_text("Not found")
    watched.check("not found")


def test_public_pages_report_no_violation(page, watched, ingest_server, shop, make_project):
    demo = make_project("Demo")
    demo.slug = "demo"
    demo.save()

    page.goto(f"{ingest_server}/public/dashboards/{shop['token']}/")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    for kind in ("line", "area", "bar", "gauge", "stat", "heatmap"):
        expect(page.locator(f"[data-type={kind}] .main-svg").first).to_be_attached()
    _hover(page, "[data-type=bar] .nsewdrag")
    watched.check("public dashboard")

    page.goto(f"{ingest_server}/demo/")
    page.wait_for_function("window.tracker !== undefined")
    for button in ("Start sign-up", "Buy (49.90)", "Identify as demo-user-1",
                   "Go to /demo/pricing (SPA)", "Reset identity", "Send now"):
        page.click(f"text={button}")
    expect(page.locator("#demo-status")).to_have_text("Sent.")
    _wait_for(page, lambda: Event.objects.filter(project=demo).count() == 5)  # by fetch
    page.click("text=Start sign-up")
    watched.check("demo page")
    page.goto(f"{ingest_server}/demo/pricing")  # the queued event leaves by sendBeacon
    _wait_for(page, lambda: Event.objects.filter(project=demo, event="signup_started").count()
              == 2)
    watched.check("demo page, second")

    page.goto(f"{ingest_server}/login/")
    expect(page.locator("input[name=username]")).to_be_focused()
    watched.check("login")


def test_admin_and_api_docs_report_no_violation(page, watched, ingest_server, shop):
    CrontabSchedule.objects.create(minute="0", hour="4")
    login(page, ingest_server, "maria")

    page.goto(f"{ingest_server}/admin/")
    expect(page.locator("#site-name")).to_contain_text("Analytics administration")
    watched.check("admin index")

    page.goto(f"{ingest_server}/admin/projects/project/{shop['project'].pk}/change/")
    expect(page.locator("#project_form")).to_be_visible()
    watched.check("admin change form")

    # django-celery-beat's form, whose inline script moved to static/js/admin_periodic_task.js.
    page.goto(f"{ingest_server}/admin/django_celery_beat/periodictask/add/")
    expect(page.locator(".field-crontab_translation")).to_be_hidden()
    page.locator("#id_crontab").select_option(index=1)
    expect(page.locator(".field-crontab .help")).to_contain_text("Translation: At 04:00 AM")
    watched.check("admin periodic task form")

    nonces = []
    for _ in range(2):
        response = page.goto(f"{ingest_server}/api/docs/")
        nonce = re.search(r"'nonce-([\w-]+)'", response.headers["content-security-policy"])[1]
        assert f'<script nonce="{nonce}">' in response.text()  # drf-spectacular's set-up
        nonces.append(nonce)
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Analytics platform")
    assert nonces[0] != nonces[1]
    page.locator(".opblock-summary").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    watched.check("API docs")

    api = httpx.get(f"{ingest_server}/api/v1/projects/")  # JSON: deny-all, not rendered
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_an_inline_script_without_the_nonce_is_refused_and_seen(page, watched, ingest_server):
    """The other tests' zero would mean little if the watch could not see a violation."""
    page.goto(f"{ingest_server}/login/")
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.body.append(script);
    }""")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.injected") is None
    assert page.evaluate("window.__cspViolations")[0].startswith("script-src-elem blocked inline")


@pytest.mark.django_db
def test_the_demo_snippet_may_send_to_public_url_even_from_another_origin(client, settings):
    settings.PUBLIC_URL = "https://analytics.example.com/"
    response = client.get("/login/")
    nonce = response.wsgi_request.csp_nonce
    assert response["Content-Security-Policy"] == (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self' https://analytics.example.com; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
