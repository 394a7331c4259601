"""Units on a dashboard in headless Chromium: a line panel over a metric the catalogue gives in ms,
with values of 800..2400 ms, is drawn in seconds — the y axis titled "s", its ticks and values in
s, the hover "1.2 s" —; a stat panel over it says "1.2 s", a gauge its number in s; a panel's own
unit option takes the catalogue's place."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from dashboards import services
from events import rollups
from events.models import MetricDefinition
from tests.browser.login import login

pytestmark = pytest.mark.slow
STEP = 120  # a 6-hour dashboard's step


def test_a_ms_metric_is_drawn_in_seconds(page, ingest_server, store, make_user, make_project,
                                         screenshot):
    owner = make_user("maria")
    project = make_project("Shop", owner=owner)
    aligned = datetime.fromtimestamp(datetime.now(UTC).timestamp() // STEP * STEP, UTC)
    values = (800.0, 2400.0, 1200.0)  # oldest first: the last value is 1200 ms
    store.points(project, [
        {"name": "http.latency_ms", "value": v,
         "timestamp": (aligned - timedelta(minutes=m)).isoformat()}
        for m, v in zip((80, 50, 20), values, strict=True)])
    rollups.fold()
    MetricDefinition.objects.create(project=project, name="http.latency_ms", unit="ms")
    board = services.create_dashboard(project=project, name="Latency", user=owner)
    line = services.create_panel(dashboard=board, title="Latency", type="line",
                                 query="max:http.latency_ms{}", x=0, y=0, w=6, h=4)
    stat = services.create_panel(dashboard=board, title="Now", type="stat",
                                 query="max:http.latency_ms{}", x=6, y=0, w=3, h=4,
                                 options={"calculation": "last"})
    gauge = services.create_panel(dashboard=board, title="Gauge", type="gauge",
                                  query="max:http.latency_ms{}", x=9, y=0, w=3, h=4,
                                  options={"calculation": "last", "max": 3000})
    own = services.create_panel(dashboard=board, title="Own unit", type="stat",
                                query="max:http.latency_ms{}", x=0, y=4, w=3, h=4,
                                options={"calculation": "last", "unit": "ticks"})
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{board.pk}/?range=6h")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")

    plot = f"[data-panel='{line.pk}'] .plot"
    drawn = page.evaluate("""(s) => { const gd = document.querySelector(s);
      const t = gd.data[0];
      return { title: gd.layout.yaxis.title.text,
               points: t.y.map((y, i) => [y, t.hovertext[i]]).filter(([y]) => y !== null),
               ticks: [...gd.querySelectorAll(".ytick text")].map((e) => e.textContent),
               axisTitle: (gd.querySelector(".ytitle") || {}).textContent }; }""", plot)
    assert drawn["title"] == "s" and drawn["axisTitle"] == "s"
    assert drawn["points"] == [[0.8, "0.8 s"], [2.4, "2.4 s"], [1.2, "1.2 s"]]
    # Ticks in seconds (Plotly picks them over 0..2.4): none is a raw millisecond value.
    ticks = [float(t) for t in drawn["ticks"]]
    assert ticks and max(ticks) <= 3 and 0 in ticks

    page.evaluate("""(s) => { const gd = document.querySelector(s);
      const last = gd.data[0].y.findLastIndex((y) => y !== null);
      window.Plotly.Fx.hover(gd, [{ curveNumber: 0, pointNumber: last }]); }""", plot)
    expect(page.locator(f"{plot} .hoverlayer")).to_contain_text("1.2 s")  # the hover, in s

    expect(page.locator(f"[data-panel='{stat.pk}'] .stat")).to_have_text("1.2 s")
    expect(page.locator(f"[data-panel='{own.pk}'] .stat")).to_have_text("1,200 ticks")
    number = page.locator(f"[data-panel='{gauge.pk}'] .plot .number")
    expect(number).to_have_text("1.2 s")
    screenshot(page, "dashboard-units", full_page=True)
    assert page.console_errors == []


def test_the_alert_form_draws_its_backtest_in_the_query_unit(page, ingest_server, store,
                                                              make_user, make_project):
    """The new-rule form's backtest chart over the same ms metric: values and the threshold
    (1000 ms) in seconds, the axis titled "s"."""
    owner = make_user("maria")
    project = make_project("Shop", owner=owner)
    now = datetime.now(UTC)
    store.points(project, [
        {"name": "http.latency_ms", "value": v,
         "timestamp": (now - timedelta(minutes=m)).isoformat()}
        for m, v in ((50, 800.0), (20, 2400.0))])
    rollups.fold()
    MetricDefinition.objects.create(project=project, name="http.latency_ms", unit="ms")
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/alerts/new/")
    page.fill("input[name=name]", "Slow")
    page.fill("textarea[name=query]", "max:http.latency_ms{}")
    page.fill("input[name=threshold]", "1000")
    page.wait_for_function("""() => { const c = document.querySelector('#rule-chart');
        return c.layout && c.layout.shapes && c.layout.shapes.length > 0; }""")
    drawn = page.evaluate("""() => { const c = document.querySelector('#rule-chart');
        return { title: c.layout.yaxis.title.text, threshold: c.layout.shapes[0].y0,
                 values: c.data[0].y.filter((v) => v !== null && v !== undefined),
                 hover: c.data[0].hovertext.filter(Boolean) }; }""")
    assert drawn["title"] == "s" and drawn["threshold"] == 1
    assert set(drawn["values"]) == {0.8, 2.4}
    assert set(drawn["hover"]) == {"0.8 s", "2.4 s"}
