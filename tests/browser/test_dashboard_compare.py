"""Comparison overlays in headless Chromium: a dashboard panel "compared with 1 week earlier"
draws last week's values, dashed, on this week's buckets beside its own series (with the anomaly
band option on, and still after a live update), a "previous period" panel the 6 hours before;
the panel editor holds the option; the overview's "Compare with previous period" toggle overlays
the KPI cards' previous period on its chart and lives in the URL."""

import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from dashboards import services
from events import rollups
from projects.models import IngestKey
from tests.browser.login import login

pytestmark = pytest.mark.slow
STEP = 120  # a 6-hour dashboard's step
TRACES = """(selector) => document.querySelector(selector).data.map((t) => ({
  name: t.name, dash: (t.line || {}).dash || null,
  points: Object.fromEntries((t.x || []).map((x, i) => [new Date(x).getTime(), t.y[i]])
    .filter(([, y]) => y !== null && y !== 0)) }))"""


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))  # JSON object keys are text


def _project(make_user, make_project):
    owner = make_user("maria")
    project = make_project("Shop", owner=owner)
    project.raw_retention_days = 30  # last week's data is taken as it comes
    project.save(update_fields=["raw_retention_days"])
    return owner, project


def test_a_panel_compared_with_last_week_draws_last_weeks_values(
        page, ingest_server, store, make_user, make_project, screenshot):
    owner, project = _project(make_user, make_project)
    aligned = datetime.fromtimestamp(datetime.now(UTC).timestamp() // STEP * STEP, UTC)
    now_at = [aligned - timedelta(minutes=m) for m in (20, 80, 140)]
    this_week, last_week, before = (10, 20, 30), (1.5, 2.0, 3.25), (100, 200, 300)
    store.points(project, [
        {"name": "orders", "value": v, "timestamp": (t - shift).isoformat()}
        for shift, values in ((timedelta(0), this_week), (timedelta(days=7), last_week),
                              (timedelta(hours=6), before))
        for t, v in zip(now_at, values, strict=True)])
    rollups.fold()
    board = services.create_dashboard(project=project, name="Orders", user=owner)
    weekly = services.create_panel(dashboard=board, title="Orders", type="line",
                                   query="sum:orders{}", x=0, y=0, w=6, h=4,
                                   options={"compare": "1w", "anomaly_band": True})
    previous = services.create_panel(dashboard=board, title="Orders, previous", type="area",
                                     query="sum:orders{}", x=6, y=0, w=6, h=4,
                                     options={"compare": "previous_period"})
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{board.pk}/?range=6h")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")

    plot = f"[data-panel='{weekly.pk}'] .plot"
    traces = page.evaluate(TRACES, plot)
    assert [(t["name"], t["dash"]) for t in traces] == [
        ("sum:orders{}", None), ("sum:orders{} (1 week earlier)", "dash")]
    assert traces[0]["points"] == {_ms(t): v for t, v in zip(now_at, this_week, strict=True)}
    assert traces[1]["points"] == {_ms(t): v for t, v in zip(now_at, last_week, strict=True)}
    assert page.evaluate(f"document.querySelector(\"{plot}\").layout.showlegend") is True
    # The anomaly band option beside it: no model of this query, a note; the overlay stays.
    expect(page.locator(f"[data-panel='{weekly.pk}'] .band-note")).to_have_text(
        "No anomaly model has this query.")
    expect(page.locator(f"[data-panel='{weekly.pk}'] .compare-note")).to_have_count(0)

    traces = page.evaluate(TRACES, f"[data-panel='{previous.pk}'] .plot")
    assert [t["name"] for t in traces] == ["sum:orders{}", "sum:orders{} (previous 6 h)"]
    assert traces[1]["points"] == {_ms(t): v for t, v in zip(now_at, before, strict=True)}
    screenshot(page, "dashboard-compare", full_page=True)

    # A live update redraws the panel with its overlay: a new point of this week arrives.
    expect(page.locator("#live-state")).to_have_attribute("data-state", "connected")
    key = IngestKey.objects.get(project=project).key
    sent = httpx.post(f"{ingest_server}/api/v1/metrics", headers={"X-API-Key": key},
                      json={"name": "orders", "value": 42})
    assert sent.status_code == 202
    folding = threading.Thread(target=rollups.fold)  # the worker's fold, off Playwright's loop
    folding.start()
    folding.join(30)
    page.wait_for_function("""(s) => document.querySelector(s).data[0].y.includes(42)""",
                           arg=plot, timeout=5000)
    traces = page.evaluate(TRACES, plot)
    assert [t["name"] for t in traces] == ["sum:orders{}", "sum:orders{} (1 week earlier)"]
    assert sorted(traces[0]["points"].values()) == [10, 20, 30, 42]
    assert traces[1]["points"] == {_ms(t): v for t, v in zip(now_at, last_week, strict=True)}

    # The panel editor holds the option.
    page.click(f"[data-panel='{previous.pk}'] .panel-edit")
    choice = page.locator("select[name=compare]")
    expect(choice).to_have_value("previous_period")
    choice.select_option("1d")
    page.click("text=Save panel")
    page.wait_for_url(f"**/dashboards/{board.pk}/")
    previous.refresh_from_db()
    assert previous.options["compare"] == "1d"
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    assert [t["name"] for t in page.evaluate(TRACES, f"[data-panel='{previous.pk}'] .plot")] == [
        "sum:orders{}", "sum:orders{} (1 day earlier)"]
    assert page.console_errors == []


def test_the_overview_overlays_the_previous_period_and_keeps_it_in_the_url(
        page, ingest_server, store, make_user, make_project, screenshot):
    _, project = _project(make_user, make_project)
    hour = datetime.fromtimestamp(datetime.now(UTC).timestamp() // 3600 * 3600, UTC)
    counts = {hour - timedelta(hours=2): (3, 2), hour - timedelta(hours=5): (1, 4)}
    store.events(project, [
        {"event": "page_view", "distinct_id": f"u{n}-{i}", "session_id": f"s{n}-{i}",
         "timestamp": (bucket - shift + timedelta(minutes=10, seconds=i)).isoformat()}
        for n, (bucket, pair) in enumerate(counts.items())
        for shift, count in ((timedelta(0), pair[0]), (timedelta(hours=24), pair[1]))
        for i in range(count)])
    rollups.fold()
    login(page, ingest_server, "maria")
    overview = f"{ingest_server}/projects/{project.pk}/overview/?range=24h"
    page.goto(overview)
    expect(page.locator("#overview")).to_have_attribute("data-chart", "drawn")
    names = ["Events", "Users", "Sessions"]
    assert [t["name"] for t in page.evaluate(TRACES, "#chart-events")] == names

    page.check("#compare-previous")
    expect(page.locator("#overview")).to_have_attribute("data-chart", "compared")
    assert "compare=previous" in page.url
    traces = page.evaluate(TRACES, "#chart-events")
    assert [t["name"] for t in traces] == [*names, *(f"{n} (previous 24 h)" for n in names)]
    assert [t["dash"] for t in traces] == [None] * 3 + ["dash"] * 3
    assert traces[0]["points"] == {_ms(b): now for b, (now, _) in counts.items()}
    assert traces[3]["points"] == {_ms(b): then for b, (_, then) in counts.items()}
    screenshot(page, "overview-compare", full_page=True)

    # A link keeps it.
    page.goto(page.url)
    expect(page.locator("#overview")).to_have_attribute("data-chart", "compared")
    expect(page.locator("#compare-previous")).to_be_checked()
    assert page.evaluate(TRACES, "#chart-events")[3]["points"] == {
        _ms(b): then for b, (_, then) in counts.items()}
    page.uncheck("#compare-previous")
    expect(page.locator("#overview")).to_have_attribute("data-chart", "drawn")
    assert "compare" not in page.url
    assert [t["name"] for t in page.evaluate(TRACES, "#chart-events")] == names
    # Another range keeps comparing: its previous period is as long as it.
    page.check("#compare-previous")
    page.click("text=Last 7 days")
    expect(page.locator("#overview")).to_have_attribute("data-chart", "compared")
    assert [t["name"] for t in page.evaluate(TRACES, "#chart-events")][3:] == [
        f"{n} (previous 7 days)" for n in names]
    assert page.console_errors == []
