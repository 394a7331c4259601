"""A model end to end on real parts: points ingested over HTTP, the model created through the
API, trained by a real Celery worker (training, then ready), its backfill finding the injected
spike with its explanation, then new buckets scored: the next spike becomes an anomaly that is
published to the project's live group, and the predictions show the band around the values."""

import asyncio
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from channels.layers import get_channel_layer
from django.db import connection

from conftest import child_env, wait_for
from events import rollups
from events.live import group_name
from ml import scoring
from ml.models import Anomaly, AnomalyModel, Status
from projects.models import IngestKey

pytestmark = pytest.mark.slow
STEP = 300


def _worker() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "analytics_site", "worker", "-l", "WARNING",
         "--pool", "solo", "-n", "ml@%h"], env=child_env())



def _send(ingest, project, points: list[dict]) -> None:
    key = IngestKey.objects.get(project=project).key
    for i in range(0, len(points), 1000):
        response = ingest.post("/api/v1/metrics", json={"points": points[i:i + 1000]},
                               headers={"X-API-Key": key})
        assert response.status_code == 202, response.text
    rollups.fold()


def _point(host: str, at: int, value: float) -> dict:
    return {"name": "cpu", "value": round(float(value), 3), "tags": {"host": host},
            "timestamp": datetime.fromtimestamp(at, UTC).isoformat()}


def test_a_model_trained_by_a_worker_finds_the_spike_explains_it_and_scores_what_comes(
        ingest, make_project, token_client):
    owner_project = make_project("Fleet")
    owner = owner_project.memberships.get().user
    end = int(time.time()) // STEP * STEP - 2 * STEP
    times = np.arange(end - 3 * 86400, end, STEP)
    rng = np.random.default_rng(4)
    spike_at = int(times[-120])  # 10 hours before the end: on the third day
    points = []
    for host in ("web-01", "web-02"):
        values = 50 + rng.normal(0, 1, len(times))
        if host == "web-02":
            values[times == spike_at] += 25
        points += [_point(host, int(t), v) for t, v in zip(times, values, strict=True)]
    _send(ingest, owner_project, points)

    client = token_client(owner)
    worker = _worker()
    try:
        response = client.post(f"/api/v1/projects/{owner_project.pk}/anomaly-models/", {
            "name": "CPU by host", "query": "avg:cpu{} by {host}", "training_days": 3,
            "step_seconds": STEP}, format="json")
        assert response.status_code == 201, response.content
        model_id = response.json()["id"]
        # Created means queued: the worker takes the training up without being asked again.
        model = wait_for(lambda: AnomalyModel.objects.filter(
            pk=model_id, status__in=[Status.READY, Status.FAILED]).first(), 240, "training",
            every=0.25)
    finally:
        worker.terminate()
        worker.wait(30)
    assert (model.status, model.error) == (Status.READY, "")
    shown = client.get(f"/api/v1/anomaly-models/{model_id}/").json()
    assert sorted(s["tags"]["host"] for s in shown["series"]) == ["web-01", "web-02"]
    assert {s["status"] for s in shown["series"]} == {"ready"}
    assert shown["evaluation"]["detector"] == "ensemble"

    found = client.get(f"/api/v1/projects/{owner_project.pk}/anomalies/",
                       {"model": model_id}).json()
    spikes = [a for a in found if a["started_at"] == datetime.fromtimestamp(
        spike_at, UTC).isoformat().replace("+00:00", "Z")]
    assert len(spikes) == 1, found
    spike = spikes[0]
    assert spike["tags"] == {"host": "web-02"} and spike["backfill"] is True
    assert spike["value"] == pytest.approx(75, abs=5)
    assert spike["lower"] < spike["expected"] < spike["upper"] < spike["value"]
    assert "\u03c3 above" in spike["explanation"][0]["text"]

    # The next bucket: web-01 jumps. Scoring judges it once, as an anomaly, and says so live.
    model = AnomalyModel.objects.get(pk=model_id)
    watermark = min(s.scored_until for s in model.series.all())
    layer = get_channel_layer()
    channel = _off_thread(asyncio.run, _join(layer, owner_project.pk))
    _send(ingest, owner_project, [_point("web-01", int(watermark.timestamp()), 90.0),
                                  _point("web-02", int(watermark.timestamp()), 50.0)])
    later = watermark + timedelta(seconds=STEP + 20)
    assert _off_thread(_score, model, later) == 2
    assert _off_thread(_score, model, later) == 0  # a bucket is judged once
    live = _off_thread(asyncio.run, _receive(layer, channel, "live.anomalies"))
    fresh = Anomaly.objects.get(model=model, backfill=False)
    assert (fresh.tags, fresh.started_at, fresh.value) == ({"host": "web-01"}, watermark, 90.0)
    assert [a["id"] for a in live["anomalies"]] == [fresh.pk]
    assert live["anomalies"][0]["summary"] == fresh.explanation[0]["text"]
    # Which tag value carried it, among the model's series scored together.
    assert (fresh.groups[0]["tag"], fresh.groups[0]["value"]) == ("host", "web-01")
    assert fresh.groups[0]["weight"] > 0.5

    rollups.fold()  # the band went in through the write path, as points do
    predictions = client.get(f"/api/v1/anomaly-models/{model_id}/predictions/", {
        "start": (watermark - timedelta(hours=1)).isoformat(),
        "end": (watermark + timedelta(seconds=STEP)).isoformat()}).json()
    web01 = next(s for s in predictions["series"] if s["tags"] == {"host": "web-01"})
    last = web01["points"][-1]
    assert last[0] == int(watermark.timestamp()) * 1000 and last[1] == 90.0
    value, expected, lower, upper, score = last[1:]
    assert lower < expected < upper < value and score >= 1


def _off_thread(function, *args):
    """Run on a thread of its own, as in a worker: a browser test of the same session may
    keep Playwright's event loop running on this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


def _score(model, now) -> int:
    try:
        return scoring.score(model, now=now)
    finally:
        connection.close()


async def _join(layer, project_id: int) -> str:
    channel = await layer.new_channel()
    await layer.group_add(group_name(project_id), channel)
    return channel


async def _receive(layer, channel: str, kind: str, timeout: float = 20) -> dict:
    async def first():
        while True:
            message = await layer.receive(channel)
            if message["type"] == kind:
                return message

    return await asyncio.wait_for(first(), timeout)
