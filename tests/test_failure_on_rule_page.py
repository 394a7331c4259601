"""An alert rule's page shows its predicted failure probability (the ml API, called by the
page's script: the alerts app does not import ml), drawn in headless Chromium without a
Content-Security-Policy violation."""

from datetime import UTC, datetime

import numpy as np
import pytest
from playwright.sync_api import expect

from alerts import services as alerts
from events import rollups
from tests.browser.login import login

pytestmark = pytest.mark.slow
STEP = 300
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(
  `${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`));
"""


def test_a_rules_page_shows_the_probability_that_it_fires(page, ingest_server, store, make_user,
                                                           make_project, screenshot):
    owner = make_user("maria")
    project = make_project("Fleet", owner=owner)
    end = int(datetime.now(UTC).timestamp()) // STEP * STEP - STEP
    rng = np.random.default_rng(3)
    store.points(project, [
        {"name": "disk", "value": float(50 + rng.normal(0, 1)),
         "timestamp": datetime.fromtimestamp(int(t), UTC).isoformat()}
        for t in range(end - 2 * 86400, end, STEP)])
    rollups.fold()
    surely = alerts.create_rule(project=project, name="Disk half", query="avg:disk{}",
                                threshold=50)
    never = alerts.create_rule(project=project, name="Disk full", query="avg:disk{}",
                               threshold=100)
    page.add_init_script(RECORD_VIOLATIONS)
    login(page, ingest_server, "maria")

    page.goto(f"{ingest_server}/projects/{project.pk}/alerts/{surely.pk}/")
    expect(page.locator("#rule-failure-probability")).to_contain_text(
        "100 % that it fires within 24 hours")
    expect(page.locator("#rule-failure-chart .main-svg").first).to_be_attached()
    screenshot(page, "alert-rule-failure-probability", full_page=True)
    page.goto(f"{ingest_server}/projects/{project.pk}/alerts/{never.pk}/")
    expect(page.locator("#rule-failure-probability")).to_contain_text(
        "0 % that it fires within 24 hours")
    assert page.evaluate("window.__cspViolations") == []
    assert page.console_errors == []
