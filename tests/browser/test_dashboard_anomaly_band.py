"""A dashboard panel with the option anomaly_band, in headless Chromium: the band of the
project's anomaly model of the panel's query is drawn behind the series, the model's anomaly is
a marker whose hover gives its explanation, and a panel whose query has no model says so in a
note; the panel editor's checkbox sets and clears the option — with no Content-Security-Policy
violation and no console error."""

import time
from datetime import UTC, datetime

import numpy as np
import pytest
from playwright.sync_api import expect

from dashboards import services as dashboards
from events import rollups
from ml import services, training
from ml.models import Anomaly
from tests.browser.login import login

pytestmark = pytest.mark.slow
STEP = 300
QUERY = "avg:cpu{} by {host}"
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(
  `${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`));
"""
TRACES = """(id) => document.querySelector(`[data-panel="${id}"] .plot`).data.map((t) => ({
  name: t.name, fill: t.fill || null, points: (t.x || []).length,
  x: (t.x || []).map((x) => new Date(x).getTime()), hovertext: t.hovertext || null }))"""


def test_a_panel_draws_its_models_band_and_anomalies(
        page, ingest_server, store, make_user, make_project, screenshot):
    owner = make_user("maria")
    project = make_project("Fleet", owner=owner)
    end = int(time.time()) // STEP * STEP - 2 * STEP
    times = np.arange(end - 3 * 86400, end, STEP)
    values = 50 + np.random.default_rng(4).normal(0, 1, len(times))
    spike_at = int(times[-60])  # 5 hours before the end
    values[times == spike_at] += 25
    store.points(project, [
        {"name": "cpu", "value": round(float(v), 3), "tags": {"host": "web-01"},
         "timestamp": datetime.fromtimestamp(int(t), UTC).isoformat()}
        for t, v in zip(times, values, strict=True)])
    rollups.fold()
    model = services.create_model(project=project, name="CPU by host", query=QUERY,
                                  training_days=3, step_seconds=STEP)
    training.train(model)
    rollups.fold()  # the backfilled band, written through the write path
    assert model.status == "ready", model.error
    spike = Anomaly.objects.get(model=model, started_at=datetime.fromtimestamp(spike_at, UTC))
    board = dashboards.create_dashboard(project=project, name="Fleet", user=owner)
    banded = dashboards.create_panel(dashboard=board, title="CPU", type="line", query=QUERY,
                                     options={"anomaly_band": True}, x=0, y=0, w=6, h=4)
    unmodelled = dashboards.create_panel(dashboard=board, title="CPU max", type="area",
                                         query="max:cpu{}", options={"anomaly_band": True},
                                         x=6, y=0, w=6, h=4)
    page.add_init_script(RECORD_VIOLATIONS)
    login(page, ingest_server, "maria")

    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{board.pk}/?range=24h")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    traces = page.evaluate(TRACES, banded.pk)
    names = [t["name"] for t in traces]
    # The band (lower, then upper filled to it) behind the series, the anomalies above it.
    assert names == ["host:web-01 lower", "host:web-01 band", "host:web-01", "anomalies"]
    assert traces[1]["fill"] == "tonexty"
    assert traces[0]["points"] == traces[1]["points"] >= 24 * 3600 // STEP - 1
    marker = traces[3]
    assert marker["x"] == [int(spike.peak_at.timestamp() * 1000)]
    assert "Anomaly (" in marker["hovertext"][0]
    assert spike.explanation[0]["text"] in marker["hovertext"][0]
    expect(page.locator(f"[data-panel='{banded.pk}'] .band-note")).to_have_count(0)
    # No model of that query: the series alone and a note, not an error.
    assert [t["name"] for t in page.evaluate(TRACES, unmodelled.pk)] == ["max:cpu{}"]
    expect(page.locator(f"[data-panel='{unmodelled.pk}'] .band-note")).to_have_text(
        "No anomaly model has this query.")
    assert page.locator(".panel-status.error").count() == 0
    screenshot(page, "dashboard-anomaly-band", full_page=True)

    # The panel editor's checkbox holds the option.
    page.click(f"[data-panel='{unmodelled.pk}'] .panel-edit")
    box = page.locator("input[name=anomaly_band]")
    expect(box).to_be_checked()
    box.uncheck()
    page.click("text=Save panel")
    page.wait_for_url(f"**/dashboards/{board.pk}/")
    unmodelled.refresh_from_db()
    assert "anomaly_band" not in unmodelled.options
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    expect(page.locator(f"[data-panel='{unmodelled.pk}'] .band-note")).to_have_count(0)
    assert page.evaluate("window.__cspViolations") == []
    assert page.console_errors == []
