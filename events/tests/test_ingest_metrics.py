"""POST /api/v1/metrics over real HTTP: series stored once, points beside rejections."""

from datetime import UTC, datetime, timedelta

import pytest

from events.models import MetricPoint, MetricSeries

pytestmark = pytest.mark.slow


def _post(client, key, body):
    return client.post("/api/v1/metrics", json=body, headers={"X-API-Key": key.key})


def test_one_point_and_a_batch_share_one_series_per_name_and_tags(ingest, ingest_key):
    single = _post(ingest, ingest_key, {"name": "http.latency_ms", "value": 12.5,
                                        "tags": {"host": "web-01", "env": "prod"}})
    assert single.status_code == 202
    assert single.json() == {"accepted": 1, "rejected": []}
    batch = _post(ingest, ingest_key, {"points": [
        {"name": "http.latency_ms", "value": 20, "tags": {"env": "prod", "host": "web-01"}},
        {"name": "http.latency_ms", "value": 30, "tags": {"env": "prod", "host": "web-02"}},
        {"name": "cpu", "value": 0.5},
    ]})
    assert batch.json() == {"accepted": 3, "rejected": []}
    series = {(s.name, s.tags_key): s for s in MetricSeries.objects.filter(
        project=ingest_key.project)}
    assert set(series) == {("http.latency_ms", '{"env":"prod","host":"web-01"}'),
                           ("http.latency_ms", '{"env":"prod","host":"web-02"}'),
                           ("cpu", "{}")}
    web01 = series[("http.latency_ms", '{"env":"prod","host":"web-01"}')]
    assert web01.tags == {"env": "prod", "host": "web-01"}
    values = sorted(MetricPoint.objects.filter(series_id=web01.pk)
                    .values_list("value", flat=True))
    assert values == [12.5, 20.0]


def test_bad_points_are_rejected_by_position_and_the_rest_stored(ingest, ingest_key):
    too_many_tags = {f"t{i}": "v" for i in range(33)}
    response = _post(ingest, ingest_key, {"points": [
        {"name": "ok", "value": 1},
        {"name": "1starts-with-digit", "value": 1},
        {"name": "ok", "value": "12"},
        {"name": "ok", "value": True},
        {"name": "ok", "value": 1, "tags": too_many_tags},
        {"name": "ok", "value": 1, "tags": {"bad key": "v"}},
        {"name": "ok", "value": 1, "tags": {"k": "x" * 201}},
        {"name": "ok", "value": 2, "timestamp": "2026-13-45"},
        {"name": "x" * 201, "value": 1},
        {"name": "ok", "value": 3},
    ]})
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (1, "INVALID_NAME"), (2, "INVALID_VALUE"), (3, "INVALID_VALUE"), (4, "TOO_MANY_TAGS"),
        (5, "INVALID_TAGS"), (6, "INVALID_TAGS"), (7, "INVALID_TIMESTAMP"), (8, "INVALID_NAME")]
    assert sorted(MetricPoint.objects.values_list("value", flat=True)) == [1.0, 3.0]


def test_point_time_defaults_to_server_time_and_late_points_land_in_their_day(ingest,
                                                                             ingest_key):
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    before = datetime.now(UTC)
    _post(ingest, ingest_key, {"points": [
        {"name": "queue.depth", "value": 4},
        {"name": "queue.depth", "value": 9, "timestamp": three_days_ago.timestamp()},
    ]})
    after = datetime.now(UTC)
    points = dict(MetricPoint.objects.values_list("value", "timestamp"))
    assert before <= points[4.0] <= after
    assert abs(points[9.0] - three_days_ago) < timedelta(milliseconds=1)


def test_metrics_body_must_hold_points(ingest, ingest_key):
    response = _post(ingest, ingest_key, {"values": []})
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["details"] == {"points": ["A list is required."]}


def test_concurrent_batches_creating_the_same_new_series_all_succeed(ingest, ingest_key):
    import asyncio
    import random

    import httpx

    series = [{"name": f"m{i % 5}", "tags": {"host": f"h{i}"}} for i in range(500)]

    async def send(seed):
        points = [{**s, "value": seed} for s in series]
        random.Random(seed).shuffle(points)
        async with httpx.AsyncClient(base_url=str(ingest.base_url), timeout=30) as client:
            return await client.post("/api/v1/metrics", json={"points": points},
                                     headers={"X-API-Key": ingest_key.key})

    async def all_at_once():
        return await asyncio.gather(*(send(seed) for seed in range(16)))

    responses = asyncio.run(all_at_once())
    assert [r.status_code for r in responses] == [202] * 16
    assert MetricSeries.objects.filter(project=ingest_key.project).count() == 500
    assert MetricPoint.objects.count() == 8000


def test_a_remembered_tag_set_or_name_vouches_for_nothing_else():
    """Valid names and tag sets are remembered (events.validation's memo): what only looks like
    one (1 == True as a key) or differs in a way the memo cannot see is still checked."""
    from datetime import UTC, datetime, timedelta

    from events.validation import parse_points

    now = datetime.now(UTC)

    def codes(items):
        parsed = parse_points(items, received_at=now, oldest=now - timedelta(days=1))
        return ([(p.name, p.tags, p.tags_key) for p in parsed.items],
                [(r.index, r.code) for r in parsed.rejected])

    first = [{"name": "memo.one", "value": 1, "tags": {"n": "1", "k": "v"}}]
    assert codes(first) == ([("memo.one", {"n": "1", "k": "v"}, '{"k":"v","n":"1"}')], [])
    again = [{"name": "memo.one", "value": 1, "tags": {"n": "1", "k": "v"}},
             {"name": "memo.one", "value": 1, "tags": {"n": True, "k": "v"}},
             {"name": "memo.one", "value": 1, "tags": {"n": 1, "k": "v"}},
             {"name": "memo.one", "value": 1, "tags": {"n": "1", "k": "v\x00"}},
             {"name": "memo.one", "value": 1, "tags": {"n": ["1"], "k": "v"}},
             {"name": ["memo.one"], "value": 1},
             {"name": "memo one", "value": 1}]
    kept, refused = codes(again)
    assert kept == [("memo.one", {"n": "1", "k": "v"}, '{"k":"v","n":"1"}'),
                    ("memo.one", {"n": "1", "k": "v"}, '{"k":"v","n":"1"}')]
    assert refused == [(1, "INVALID_TAGS"), (3, "INVALID_TAGS"), (4, "INVALID_TAGS"),
                       (5, "INVALID_NAME"), (6, "INVALID_NAME")]
