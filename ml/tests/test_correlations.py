"""Correlations on real data: two series built to move together at a known lag are found at
that lag, through the API and the one read path."""

from datetime import UTC, datetime

import numpy as np
import pytest

from ml import correlate

STEP = 300


def test_a_known_lag_is_found_exactly_in_numbers():
    rng = np.random.default_rng(2)
    leader = np.cumsum(rng.normal(0, 1, 600))
    follower = np.roll(leader, 4) + rng.normal(0, 0.05, 600)  # 4 steps behind
    follower[:4] = np.nan
    found = correlate.correlate(np.column_stack([leader, follower, rng.normal(0, 1, 600)]),
                                method="pearson", max_lag=8, changes=True)
    assert found.lag[0, 1] == 4 and found.lag[1, 0] == -4
    assert found.coefficient[0, 1] > 0.95
    assert abs(found.coefficient[0, 2]) < 0.2
    spearman = correlate.correlate(np.column_stack([leader, follower]), method="spearman",
                                   max_lag=8)
    assert spearman.lag[0, 1] == 4


@pytest.mark.slow
def test_the_heatmap_api_finds_two_ingested_series_at_their_lag(store, make_project,
                                                                 token_client):
    from events import rollups

    project = make_project("Shop")
    owner = project.memberships.get().user
    end = int(datetime.now(UTC).timestamp()) // STEP * STEP - STEP
    times = np.arange(end - 200 * STEP, end, STEP)
    rng = np.random.default_rng(9)
    queue = 20 + np.cumsum(rng.normal(0, 1, len(times) + 3))
    points = []
    for i, t in enumerate(times):
        stamp = datetime.fromtimestamp(int(t), UTC).isoformat()
        points.append({"name": "queue.depth", "value": float(queue[i + 3]), "timestamp": stamp})
        # latency follows the queue 3 steps (15 minutes) later
        points.append({"name": "latency", "value": float(2 * queue[i] + 5), "timestamp": stamp})
    store.points(project, points)
    rollups.fold()
    client = token_client(owner)
    response = client.post(f"/api/v1/projects/{project.pk}/correlations/", {
        "queries": ["avg:queue.depth{}", "avg:latency{}"],
        "start": datetime.fromtimestamp(int(times[0]), UTC).isoformat(),
        "end": datetime.fromtimestamp(end, UTC).isoformat(), "step": STEP, "max_lag": 6,
        "changes": True}, format="json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert [s["label"] for s in answer["series"]] == ["avg:queue.depth{}", "avg:latency{}"]
    assert answer["lags"][0][1] == 3
    assert answer["matrix"][0][1] > 0.95
    bad = client.post(f"/api/v1/projects/{project.pk}/correlations/",
                      {"queries": ["avg:latency{"]}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION_ERROR"
    assert "queries[0]" in bad.json()["details"]
