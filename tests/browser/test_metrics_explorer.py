"""The metrics explorer in headless Chromium: two metrics sent through the real receivers (OTLP
JSON, which describes its metric, and the platform's own JSON API, which does not) are found by
name and by description, one is chosen (the URL follows) and shows its definition, its tag keys
with value counts and top values, and its chart with the unit on the y-axis; an editor changes
the unit in place (an error beside the field first) and the API reads it back; "Add to
dashboard" and "Create alert" open forms holding the metric's query."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from dashboards import services
from events import rollups
from events.models import MetricSeries
from projects.models import IngestKey, Role
from tests.browser.login import login

pytestmark = pytest.mark.slow
QUERY = "avg:checkout.latency{}"
NONE = "\N{EN DASH}"  # what the page shows for an empty fact


def _attributes(tags: dict) -> list:
    return [{"key": k, "value": {"stringValue": v}} for k, v in tags.items()]


def _shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@pytest.fixture
def shop(ingest, make_user, make_project):
    owner = make_user("maria")
    editor = make_user("ed")
    project = make_project("Shop", owner=owner, members={editor: Role.EDITOR})
    key = IngestKey.objects.get(project=project).key
    sent_at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    nanos = str(int(sent_at.timestamp() * 1e9))
    # An OpenTelemetry exporter: the gauge comes with its description and unit.
    otlp = ingest.post("/v1/metrics", headers={"X-API-Key": key}, json={"resourceMetrics": [{
        "resource": {"attributes": []}, "scopeMetrics": [{"metrics": [{
            "name": "checkout.latency", "description": "Time to answer a checkout",
            "unit": "ms", "gauge": {"dataPoints": [
                {"asDouble": value, "timeUnixNano": nanos, "attributes": _attributes(tags)}
                for value, tags in ((120.0, {"host": "web-01", "env": "prod"}),
                                    (80.0, {"host": "web-02", "env": "prod"}),
                                    (40.0, {"host": "web-03", "env": "dev"}))]}}]}]}]})
    assert otlp.status_code == 200, otlp.text
    # The platform's own API: points only, nothing said of what they mean.
    own = ingest.post("/api/v1/metrics", headers={"X-API-Key": key}, json={"points": [
        {"name": "queue.depth", "value": depth, "tags": {"queue": queue}}
        for depth, queue in ((3, "emails"), (5, "exports"))]})
    assert own.status_code == 202, own.text
    folding = threading.Thread(target=rollups.fold)  # the worker's fold, off Playwright's loop
    folding.start()
    folding.join(30)
    first = min(MetricSeries.objects.filter(project=project, name="checkout.latency")
                .values_list("created_at", flat=True))
    board = services.create_dashboard(project=project, name="Checkout", user=owner)
    return {"project": project, "editor": editor, "board": board, "sent_at": sent_at,
            "first_seen": first}


def _listed(page) -> list[str]:
    return page.locator("#metric-list tbody tr").evaluate_all(
        "(rows) => rows.map((r) => r.dataset.metric)")


def _search(page, text: str) -> None:
    page.fill("#metric-search", text)
    expect(page.locator("#metrics")).to_have_attribute("data-search", text)


def test_search_choose_edit_and_take_the_query_elsewhere(page, ingest_server, shop,
                                                         token_client, screenshot):
    project, board = shop["project"], shop["board"]
    login(page, ingest_server, "ed")
    explorer = f"{ingest_server}/projects/{project.pk}/metrics/"
    page.goto(explorer)
    expect(page.locator("nav a[aria-current=page]")).to_have_text("Metrics")
    expect(page.locator("#metrics-count")).to_have_text("2 metric(s)")
    assert _listed(page) == ["checkout.latency", "queue.depth"]
    expect(page.locator("#metric-list tr[data-metric='checkout.latency'] td")).to_have_text(
        ["checkout.latency Time to answer a checkout", "ms", "gauge", "3"],
        use_inner_text=True)

    # By name, by description (any case), and nothing.
    _search(page, "queue")
    assert _listed(page) == ["queue.depth"]
    _search(page, "ANSWER A")
    assert _listed(page) == ["checkout.latency"]
    _search(page, "nothing-like-it")
    assert _listed(page) == []
    expect(page.locator("#metrics-empty")).to_be_visible()
    _search(page, "checkout")
    assert _listed(page) == ["checkout.latency"]

    page.click("#metric-list a:text-is('checkout.latency')")
    expect(page.locator("#metric-detail")).to_have_attribute("data-state", "loaded")
    assert page.url == f"{explorer}?metric=checkout.latency"
    expect(page.locator("#metric-list tr[aria-current=true]")).to_have_attribute(
        "data-metric", "checkout.latency")
    expect(page.locator("#metric-name")).to_have_text("checkout.latency")
    expect(page.locator("#metric-description")).to_have_value("Time to answer a checkout")
    expect(page.locator("#metric-unit")).to_have_value("ms")
    expect(page.locator("#metric-type")).to_have_value("gauge")
    facts = page.locator("#metric-detail dl.facts dd")
    expect(facts).to_have_text(["otlp", _shown(shop["first_seen"]), _shown(shop["sent_at"]), "3",
                                NONE])
    expect(page.locator("#metric-tags tbody tr")).to_have_count(2)
    rows = page.locator("#metric-tags tbody tr").evaluate_all(
        "(rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))")
    assert rows == [["env", "2", "prod (2), dev (1)"],
                    ["host", "3", "web-01 (1), web-02 (1), web-03 (1)"]]
    # The chart: the average of the three series at the one moment they were sent, in ms.
    expect(page.locator("#metric-chart")).to_have_attribute("data-state", "drawn")
    expect(page.locator("#metric-query")).to_have_text(QUERY)
    drawn = page.evaluate("""() => { const c = document.querySelector('#metric-chart');
        return { names: c.data.map((t) => t.name), y: c.data[0].y.filter((v) => v !== null),
                 unit: c.layout.yaxis.title.text }; }""")
    assert drawn == {"names": [QUERY], "y": [80], "unit": "ms"}
    screenshot(page, "metrics-explorer", full_page=True)

    # An edit the API refuses is said beside its field, and nothing changes.
    page.locator("#metric-unit").evaluate("""(el) => { el.value = 'u'.repeat(33);
        el.dispatchEvent(new Event('change', { bubbles: true })); }""")
    expect(page.locator(".field-error[data-error-for=unit]")).to_have_text(
        "Ensure this field has no more than 32 characters.")
    # A good one is saved on Enter: the list, the axis and the API follow.
    page.fill("#metric-unit", "s")
    page.press("#metric-unit", "Enter")
    expect(page.locator("#definition-state")).to_have_text("Saved unit.")
    expect(page.locator(".field-error[data-error-for=unit]")).to_be_hidden()
    assert page.url == f"{explorer}?metric=checkout.latency"  # no form was submitted
    expect(page.locator("#metric-list tr[data-metric='checkout.latency'] td").nth(1)).to_have_text(
        "s")
    # The chart is drawn again in the new unit, scaled to read well: 80 s is 1.33 min.
    page.wait_for_function("""() => { const c = document.querySelector('#metric-chart');
        return c.layout && c.layout.yaxis.title.text === 'min'; }""")
    hover = page.evaluate("""() => { const t = document.querySelector('#metric-chart').data[0];
        return [t.y.filter((v) => v !== null), t.hovertext.filter(Boolean)]; }""")
    assert hover == [[pytest.approx(80 / 60)], ["1.33 min"]]
    expect(facts.last).to_contain_text("by ed, ")
    read = token_client(shop["editor"]).get(
        f"/api/v1/metrics/checkout.latency/?project={project.pk}").json()
    assert (read["description"], read["unit"], read["type"], read["edited_by"]) == (
        "Time to answer a checkout", "s", "gauge", "ed")

    # The URL holds the choice: a reload shows the same metric.
    page.reload()
    expect(page.locator("#metric-detail")).to_have_attribute("data-state", "loaded")
    expect(page.locator("#metric-unit")).to_have_value("s")

    # Add to dashboard: the panel editor of the chosen dashboard, holding the query.
    expect(page.locator("#metric-dashboard")).to_have_text("Checkout")
    page.click("#add-to-dashboard")
    page.wait_for_url(f"**/dashboards/{board.pk}/panels/new/?*")
    expect(page.locator("textarea[name=query]")).to_have_value(QUERY)
    expect(page.locator("input[name=title]")).to_have_value("checkout.latency")
    page.go_back()
    expect(page.locator("#metric-detail")).to_have_attribute("data-state", "loaded")

    # Create alert: the new-rule form, holding the query.
    page.click("#create-alert")
    page.wait_for_url(f"**/projects/{project.pk}/alerts/new/?*")
    expect(page.locator("textarea[name=query]")).to_have_value(QUERY)
    expect(page.locator("input[name=name]")).to_have_value("checkout.latency")
    # The refused edit's answer, logged by the browser as a failed resource; no script error.
    assert page.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"]


def test_a_metric_in_the_url_without_a_definition_and_one_that_does_not_exist(
        page, ingest_server, shop):
    project = shop["project"]
    login(page, ingest_server, "maria")
    explorer = f"{ingest_server}/projects/{project.pk}/metrics/"
    page.goto(f"{explorer}?metric=queue.depth")
    expect(page.locator("#metric-detail")).to_have_attribute("data-state", "loaded")
    expect(page.locator("#metric-unit")).to_have_value("")
    expect(page.locator("#metric-type")).to_have_value("")
    expect(page.locator("#metric-source")).to_have_text(NONE)
    rows = page.locator("#metric-tags tbody tr").evaluate_all(
        "(rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))")
    assert rows == [["queue", "2", "emails (1), exports (1)"]]
    expect(page.locator("#metric-chart")).to_have_attribute("data-state", "drawn")
    assert page.evaluate("document.querySelector('#metric-chart').layout.yaxis.title.text") \
        in ("", None)
    # Back and forward walk the choices.
    page.click("#metric-list a:text-is('checkout.latency')")
    expect(page.locator("#metric-name")).to_have_text("checkout.latency")
    page.go_back()
    expect(page.locator("#metric-name")).to_have_text("queue.depth")
    assert page.url == f"{explorer}?metric=queue.depth"

    page.goto(f"{explorer}?metric=no.such.metric")
    expect(page.locator("#metric-error")).to_have_text(
        "No metric named 'no.such.metric' in this project.")
    expect(page.locator("#metric-detail")).to_have_attribute("data-state", "error")
    expect(page.locator("#metric-body")).to_be_hidden()
    # A 404 answer is logged by the browser as a failed resource, not a script error.
    assert [e for e in page.console_errors if "404" not in e] == []
