"""The query builder in headless Chromium: in the panel editor a grouped, filtered query with a
moving average is built by clicking (the metric, the filter's key and value and the group key
picked from the autocompletion lists), the textarea holds its exact text and the preview draws one
series per host; the text is edited in text mode and the builder shows the edit; a second query
and a formula over both are written out; what the builder cannot show, and a syntax error, keep
the text mode with the engine's message in place; the panel saves the builder's text. The alert
rule form builds a query the same way."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from dashboards import services
from dashboards.models import Panel
from events import rollups
from events.query.spec import AGGREGATIONS
from tests.browser.login import login

pytestmark = pytest.mark.slow
BUILT = "moving_avg(avg:cpu.busy{env:prod} by {host}, 5)"
EDITED = "moving_avg(avg:cpu.busy{env:prod} by {host}, 3)"
FORMULA = "(moving_avg(avg:cpu.busy{env:prod} by {host}, 3) / max:cpu.busy{env:prod})"


@pytest.fixture
def fleet(store, make_user, make_project):
    owner = make_user("maria")
    project = make_project("Fleet", owner=owner)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    store.points(project, [
        {"name": "cpu.busy", "value": value + minutes % 40 / 4, "tags": {"host": host, "env": env},
         "timestamp": (now - timedelta(minutes=minutes)).isoformat()}
        for host, env, value in (("web-01", "prod", 10), ("web-02", "prod", 20),
                                 ("web-03", "dev", 30))
        for minutes in range(1, 360, 3)])  # the editor's 6 hours
    store.points(project, [{"name": "queue.depth", "value": 3, "tags": {"queue": "emails"}}])
    rollups.fold()  # as the worker does: the editor's 6 hours read the 1-minute rollup
    board = services.create_dashboard(project=project, name="Fleet", user=owner)
    return {"project": project, "board": board}


def _pick(page, scope: str, picker: str, typed: str, value: str) -> None:
    """Type into one of the builder's pickers and click a suggestion of its list."""
    field = page.locator(f"{scope} .{picker} input")
    field.click()
    field.fill(typed)
    page.locator(f"{scope} .{picker} li[data-value='{value}']").click()


def _build_grouped_query(page, query) -> None:
    row = ".qb-row[data-name=a]"
    page.select_option(f"{row} .qb-agg", "avg")
    _pick(page, row, "qb-metric", "cpu", "cpu.busy")
    page.click(f"{row} .qb-add-filter")
    _pick(page, row, "qb-filter-key", "en", "env")
    expect(page.locator(f"{row} .qb-filter-op")).to_have_value("eq")  # "is"
    _pick(page, row, "qb-filter-value", "", "prod")
    _pick(page, row, "qb-by-add", "", "host")
    expect(page.locator(f"{row} .qb-by-key")).to_have_attribute("data-key", "host")
    page.select_option(f"{row} .qb-add-function", "moving_avg")
    page.fill(f"{row} .qb-function[data-function=moving_avg] .qb-arg", "5")
    expect(query).to_have_value(BUILT)


def test_build_a_grouped_filtered_query_switch_to_text_and_back(page, ingest_server, fleet,
                                                                screenshot):
    project, board = fleet["project"], fleet["board"]
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{board.pk}/panels/new/")
    query = page.locator("textarea[name=query]")
    expect(page.locator(".qb")).to_have_attribute("data-ready", "true")
    expect(page.locator(".qb")).to_have_attribute("data-mode", "builder")
    # The language's aggregations are offered, and events beside the metrics.
    assert page.locator(".qb-row[data-name=a] .qb-agg option").all_text_contents() == sorted(
        AGGREGATIONS)
    page.locator(".qb-row[data-name=a] .qb-metric input").click()
    expect(page.locator(".qb-row[data-name=a] .qb-metric li")).to_have_count(3)
    assert page.locator(".qb-row[data-name=a] .qb-metric li").evaluate_all(
        "(items) => items.map((li) => li.dataset.value)") == ["events", "cpu.busy",
                                                              "queue.depth"]

    _build_grouped_query(page, query)
    # The preview draws the query the builder wrote: one series per prod host.
    names = "() => document.querySelector('#preview .plot').data.map((t) => t.name)"
    expect(page.locator("#preview-meta")).to_contain_text(" · 2 series · ")
    assert sorted(page.evaluate(names)) == ["host:web-01", "host:web-02"]
    page.wait_for_function("""() => { const p = document.querySelector('#preview .plot');
        return p.data.every((t) => t.y.filter((v) => v !== null).length > 100); }""")
    screenshot(page, "query-builder", full_page=True)

    # Text mode: the textarea is typed into; back in the builder the controls show the edit.
    page.click(".qb-mode[data-mode=text]")
    expect(page.locator(".qb-builder")).to_be_hidden()
    expect(query).to_be_editable()
    query.fill(EDITED)
    page.click(".qb-mode[data-mode=builder]")
    expect(page.locator(".qb")).to_have_attribute("data-mode", "builder")
    arg = page.locator(".qb-row[data-name=a] .qb-function[data-function=moving_avg] .qb-arg")
    expect(arg).to_have_value("3")
    expect(page.locator(".qb-row[data-name=a] .qb-metric input")).to_have_value("cpu.busy")
    expect(page.locator(".qb-row[data-name=a] .qb-filter-key input")).to_have_value("env")
    expect(page.locator(".qb-row[data-name=a] .qb-filter-value input")).to_have_value("prod")
    expect(query).to_have_value(EDITED)  # reading it changed nothing

    # A second query and a formula over both.
    page.click(".qb-add-query")
    row_b = ".qb-row[data-name=b]"
    expect(page.locator(".qb-formula")).to_be_visible()
    page.select_option(f"{row_b} .qb-agg", "max")
    _pick(page, row_b, "qb-metric", "cpu.b", "cpu.busy")
    page.click(f"{row_b} .qb-add-filter")
    _pick(page, row_b, "qb-filter-key", "", "env")
    _pick(page, row_b, "qb-filter-value", "pr", "prod")
    page.fill(".qb-formula input", "a / b")
    expect(query).to_have_value(FORMULA)
    # Read back from text: each query a row again, the arithmetic the formula.
    page.click(".qb-mode[data-mode=text]")
    query.fill(FORMULA + " * 100")
    page.click(".qb-mode[data-mode=builder]")
    expect(page.locator(".qb-formula input")).to_have_value("(a / b) * 100")
    expect(page.locator(".qb-row")).to_have_count(2)
    expect(page.locator(f"{row_b} .qb-agg")).to_have_value("max")

    # What the builder cannot show, and a syntax error: text mode stays, saying why.
    page.click(".qb-mode[data-mode=text]")
    query.fill("2 * 3")
    page.click(".qb-mode[data-mode=builder]")
    expect(page.locator(".qb-message")).to_contain_text("cannot be shown in the builder")
    expect(page.locator(".qb")).to_have_attribute("data-mode", "text")
    query.fill("avg:cpu.busy{env:prod host:web-01}")
    page.click(".qb-mode[data-mode=builder]")
    expect(page.locator(".qb-message")).to_have_text("Fix the query to show it in the builder.")
    expect(page.locator("#query-error .error")).to_have_text(
        "Expected \"}\" or \",\", found 'h' at position 22.")
    expect(page.locator("#query-error .caret")).to_have_text(
        "avg:cpu.busy{env:prod host:web-01}\n" + " " * 22 + "^")
    expect(page.locator(".qb")).to_have_attribute("data-mode", "text")

    # Back to what was built; the panel saves the textarea's text.
    query.fill(BUILT)
    page.click(".qb-mode[data-mode=builder]")
    expect(arg).to_have_value("5")
    page.fill("input[name=title]", "CPU")
    page.click("#panel-form button[type=submit]")
    page.wait_for_url(f"**/dashboards/{board.pk}/")
    assert list(Panel.objects.filter(dashboard=board).values_list("title", "query")) == [
        ("CPU", BUILT)]
    # Only the queries refused on purpose (the text "2 * 3" and the syntax error) failed.
    assert [e for e in page.console_errors if "status of 400" not in e] == []


def test_the_alert_form_builds_a_query(page, ingest_server, fleet):
    project = fleet["project"]
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/alerts/new/")
    query = page.locator("textarea[name=query]")
    expect(page.locator(".qb")).to_have_attribute("data-ready", "true")
    row = ".qb-row[data-name=a]"
    page.select_option(f"{row} .qb-agg", "max")
    _pick(page, row, "qb-metric", "busy", "cpu.busy")
    _pick(page, row, "qb-by-add", "h", "host")
    page.select_option(f"{row} .qb-add-function", "timeshift")
    expect(page.locator(f"{row} .qb-function[data-function=timeshift] .qb-arg")).to_have_value(
        "1w")
    expect(query).to_have_value("timeshift(max:cpu.busy{} by {host}, 1w)")
    # A bad argument: the engine's message beside the query field, the text left as it was.
    page.fill(f"{row} .qb-function[data-function=timeshift] .qb-arg", "1 week")
    expect(page.locator('.field-error[data-error-for="query"]')).to_have_text(
        "query.args[1]: timeshift takes a duration like 30m, 1h, 1d, 1w (at most 400d).")
    expect(query).to_have_value("timeshift(max:cpu.busy{} by {host}, 1w)")
    page.fill(f"{row} .qb-function[data-function=timeshift] .qb-arg", "1d")
    expect(query).to_have_value("timeshift(max:cpu.busy{} by {host}, 1d)")
    expect(page.locator('.field-error[data-error-for="query"]')).to_be_hidden()
    # Typing into the textarea is the text mode.
    query.fill("max:cpu.busy{}")
    expect(page.locator(".qb")).to_have_attribute("data-mode", "text")
    page.click(".qb-mode[data-mode=builder]")
    expect(page.locator(f"{row} .qb-by-key")).to_have_count(0)
    expect(page.locator(f"{row} .qb-function")).to_have_count(0)
    expect(query).to_have_value("max:cpu.busy{}")
    assert [e for e in page.console_errors if "status of 400" not in e] == []


def test_the_explorer_charts_what_the_builder_builds(page, ingest_server, fleet):
    project = fleet["project"]
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/metrics/?metric=cpu.busy")
    expect(page.locator("#metric-chart")).to_have_attribute("data-state", "drawn")
    query = page.locator("#metric-query-text")
    expect(query).to_have_value("avg:cpu.busy{}")
    row = ".qb-row[data-name=a]"
    expect(page.locator(f"{row} .qb-metric input")).to_have_value("cpu.busy")
    _pick(page, row, "qb-by-add", "", "host")
    expect(query).to_have_value("avg:cpu.busy{} by {host}")
    expect(page.locator("#metric-query")).to_have_text("avg:cpu.busy{} by {host}")
    expect(page.locator("#create-alert")).to_have_attribute(
        "href", f"/projects/{project.pk}/alerts/new/?name=cpu.busy&query="
        "avg%3Acpu.busy%7B%7D+by+%7Bhost%7D")
    names = "() => document.querySelector('#metric-chart').data.map((t) => t.name).sort()"
    page.locator("#metric-chart .legend").first.wait_for()  # more than one series: a legend
    assert page.evaluate(names) == ["host:web-01", "host:web-02", "host:web-03"]
    assert page.console_errors == []
