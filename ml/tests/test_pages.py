"""The ML pages in headless Chromium: the models list with their state and the anomalies, a
model's chart with its band and anomalies marked, a new anomaly arriving over the WebSocket, an
anomaly's explanation and its feedback, the correlation heat-map and a cell's pair — with no
Content-Security-Policy violation and no console error. Pages of another project are 404."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from playwright.sync_api import expect

from events import rollups
from ml import scoring, services, training
from ml.models import Anomaly
from tests.browser.login import login

pytestmark = pytest.mark.slow
STEP = 300
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(
  `${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`));
"""


def _point(host: str, at: int, value: float) -> dict:
    return {"name": "cpu", "value": round(float(value), 3), "tags": {"host": host},
            "timestamp": datetime.fromtimestamp(at, UTC).isoformat()}


def _score(model, now) -> int:
    from django.db import connection

    try:
        return scoring.score(model, now=now)
    finally:
        connection.close()


def _trained_model(store, project):
    end = int(time.time()) // STEP * STEP - 2 * STEP
    times = np.arange(end - 3 * 86400, end, STEP)
    rng = np.random.default_rng(4)
    spike_at = int(times[-60])  # 5 hours before the end
    points = []
    for host in ("web-01", "web-02"):
        values = 50 + rng.normal(0, 1, len(times))
        if host == "web-02":
            values[times == spike_at] += 25
        points += [_point(host, int(t), v) for t, v in zip(times, values, strict=True)]
    store.points(project, points)
    rollups.fold()
    model = services.create_model(project=project, name="CPU by host",
                                  query="avg:cpu{} by {host}", training_days=3,
                                  step_seconds=STEP)
    training.train(model)
    rollups.fold()  # the backfilled band, written through the write path
    assert model.status == "ready", model.error
    return model, spike_at


def test_the_ml_pages_show_models_band_anomalies_live_and_correlations(
        page, ingest_server, store, make_user, make_project, screenshot):
    owner = make_user("maria")
    project = make_project("Fleet", owner=owner)
    model, spike_at = _trained_model(store, project)
    spike = Anomaly.objects.get(model=model, started_at=datetime.fromtimestamp(spike_at, UTC))
    page.add_init_script(RECORD_VIOLATIONS)
    base = f"{ingest_server}/projects/{project.pk}/ml"
    login(page, ingest_server, "maria")

    page.goto(f"{base}/")
    row = page.locator(f"tr[data-model='{model.pk}']")
    expect(row.locator(".badge")).to_have_text("Ready")
    item = page.locator(f"#anomaly-list [data-anomaly='{spike.pk}']")
    expect(item).to_contain_text("host=web-02")
    expect(item).to_contain_text("\u03c3 above")
    screenshot(page, "ml-models", full_page=True)

    page.goto(f"{base}/models/{model.pk}/")
    chart = page.locator("#model-chart")
    expect(chart.locator(".main-svg").first).to_be_attached()
    assert chart.get_attribute("data-series") == "2"
    assert int(chart.get_attribute("data-anomalies")) >= 1
    expect(page.locator("table.importance meter").first).to_be_attached()
    expect(page.locator("#live-state")).to_have_text("live")
    screenshot(page, "ml-model", full_page=True)

    # A new bucket scored while the page is open: its anomaly arrives over the WebSocket.
    watermark = min(s.scored_until for s in model.series.all())
    store.points(project, [_point("web-01", int(watermark.timestamp()), 95.0),
                           _point("web-02", int(watermark.timestamp()), 50.0)])
    rollups.fold()
    # On a thread of its own, as in a worker: Playwright's loop runs on this one.
    with ThreadPoolExecutor(1) as pool:
        scored = pool.submit(_score, model, watermark + timedelta(seconds=STEP + 20)).result()
    assert scored == 2
    fresh = Anomaly.objects.get(model=model, backfill=False)
    arrived = page.locator(f"#anomaly-list [data-anomaly='{fresh.pk}']")
    expect(arrived).to_contain_text("host=web-01")
    expect(arrived).to_contain_text(fresh.explanation[0]["text"])

    page.goto(f"{base}/anomalies/{spike.pk}/")
    expect(page.locator("#explanation")).to_contain_text("\u03c3 above")
    screenshot(page, "ml-anomaly", full_page=True)
    page.click("text=Not an anomaly")
    expect(page.locator(".message").first).to_contain_text("Marked: not an anomaly")
    spike.refresh_from_db()
    assert spike.feedback == "not_anomaly"

    page.goto(f"{base}/correlations/")
    page.fill("textarea[name=queries]", "avg:cpu{} by {host}")
    page.select_option("select[name=range]", "168")
    page.click("#correlation-form button[type=submit]")
    heatmap = page.locator("#heatmap")
    expect(heatmap.locator(".main-svg").first).to_be_attached()
    assert heatmap.get_attribute("data-series") == "2"
    expect(page.locator("#pair-title")).to_contain_text("cpu")
    expect(page.locator("#pair-scatter .main-svg").first).to_be_attached()
    screenshot(page, "ml-correlations", full_page=True)

    assert page.evaluate("window.__cspViolations") == []
    assert page.console_errors == []


@pytest.mark.django_db
def test_ml_pages_of_another_project_are_not_found(client, make_user, make_project):
    owner, stranger = make_user("maria"), make_user("stranger")
    project = make_project("Fleet", owner=owner)
    make_project("Elsewhere", owner=stranger)
    model = services.create_model(project=project, name="CPU", query="avg:cpu{}")
    client.force_login(stranger)
    for url in (f"/projects/{project.pk}/ml/", f"/projects/{project.pk}/ml/models/{model.pk}/",
                f"/projects/{project.pk}/ml/correlations/"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/projects/{project.pk}/ml/models/{model.pk}/delete/").status_code \
        == 404
    client.force_login(owner)
    assert client.get(f"/projects/{project.pk}/ml/models/{model.pk}/").status_code == 200
