"""The predicted failure probability of an alert rule: the rule applied to futures drawn from the
forecast's distribution, through the API over ingested data."""

from datetime import UTC, datetime

import numpy as np
import pytest

from ml import failure

STEP = 300


def test_a_rule_is_applied_to_each_future_as_the_evaluator_would():
    paths = np.array([[1.0, 1.0, 5.0, 5.0, 1.0, 1.0],   # two steps over 4: fires if for <= 300 s
                      [1.0, 5.0, 1.0, 5.0, 1.0, 1.0],   # never two in a row
                      [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])  # never
    quick = failure.probability(paths, failure.Rule("last", 5, "gt", 4.0, 0), STEP)
    held = failure.probability(paths, failure.Rule("last", 5, "gt", 4.0, 300), STEP)
    assert quick["probability"] == pytest.approx(2 / 3)
    assert held["probability"] == pytest.approx(1 / 3)
    assert failure.combined([0.5, 0.5]) == pytest.approx(0.75)


@pytest.mark.slow
def test_the_api_gives_the_probability_that_a_rule_fires(store, make_project, token_client):
    from events import rollups

    project = make_project("Fleet")
    owner = project.memberships.get().user
    end = int(datetime.now(UTC).timestamp()) // STEP * STEP - STEP
    rng = np.random.default_rng(3)
    store.points(project, [
        {"name": "disk", "value": float(50 + rng.normal(0, 1)),
         "timestamp": datetime.fromtimestamp(int(t), UTC).isoformat()}
        for t in range(end - 2 * 86400, end, STEP)])
    rollups.fold()
    client = token_client(owner)
    url = f"/api/v1/projects/{project.pk}/failure-probability/"
    far = client.post(url, {"query": "avg:disk{}", "threshold": 100, "hours": 6},
                      format="json").json()
    near = client.post(url, {"query": "avg:disk{}", "threshold": 50, "hours": 6},
                       format="json").json()
    assert far["probability"] == 0.0
    assert near["probability"] == 1.0
    assert far["source"] == {"kind": "fitted", "days": 7}
    (group,) = far["groups"]
    assert len(group["forecast"]) == 6 * 3600 // STEP
    low, mid, high = group["forecast"][0][1:]
    assert low < mid < high and mid == pytest.approx(50, abs=1)
    bad = client.post(url, {"query": "avg:disk{}", "threshold": "high"}, format="json")
    assert bad.status_code == 400 and "threshold" in bad.json()["details"]
