"""WS /ws/ingest/ against the real server with a real WebSocket client: batches answered in order
with the REST results, the same faults per batch, the key and origin checked at the handshake."""

import gzip
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from events.models import Event, MetricPoint

pytestmark = pytest.mark.slow


def _ws(server, query="", **kwargs):
    return connect(server.replace("http://", "ws://") + "/ws/ingest/" + query, open_timeout=10,
                   **kwargs)


def test_batches_are_answered_in_order_with_per_item_results(ingest, ingest_server, ingest_key):
    with _ws(ingest_server, additional_headers={"X-API-Key": ingest_key.key}) as ws:
        ws.send(json.dumps({"id": 1, "type": "events", "events": [
            {"event": "signup", "distinct_id": "u1", "properties": {"plan": "pro"}},
            {"event": "", "distinct_id": "u1"}]}))
        ws.send(json.dumps({"id": "two", "type": "metrics", "points": [
            {"name": "cpu", "value": 0.5, "tags": {"host": "a"}}, {"name": "cpu", "value": "x"}]}))
        ws.send(gzip.compress(json.dumps({"id": 3, "type": "metrics", "points": [
            {"name": "cpu", "value": 0.75, "tags": {"host": "a"}}]}).encode()))
        answers = [json.loads(ws.recv(timeout=10)) for _ in range(3)]
    assert [(a["id"], a["status"], a["accepted"]) for a in answers] == [
        (1, 202, 1), ("two", 202, 1), (3, 202, 1)]
    assert [(r["index"], r["code"]) for r in answers[0]["rejected"]] == [(1, "MISSING_FIELD")]
    assert [(r["index"], r["code"]) for r in answers[1]["rejected"]] == [(1, "INVALID_VALUE")]
    event = Event.objects.get(project=ingest_key.project)
    assert (event.event, event.properties) == ("signup", {"plan": "pro"})
    assert sorted(MetricPoint.objects.values_list("value", flat=True)) == [0.5, 0.75]


def test_a_bad_batch_is_answered_and_the_socket_stays_open(ingest, ingest_server, ingest_key,
                                                           settings):
    with _ws(ingest_server, f"?api_key={ingest_key.key}") as ws:
        ws.send("{not json")
        bad_json = json.loads(ws.recv(timeout=10))
        ws.send(json.dumps({"id": 2, "type": "logs", "lines": []}))
        bad_type = json.loads(ws.recv(timeout=10))
        ws.send(json.dumps({"id": 3, "type": "metrics",
                            "points": [{"name": "n", "value": 1}] * 1001}))
        too_many = json.loads(ws.recv(timeout=10))
        ws.send(gzip.compress(json.dumps({"id": 4, "type": "metrics", "points": [],
                                          "padding": "x" * (1024 * 1024)}).encode()))
        too_big = json.loads(ws.recv(timeout=10))  # small on the wire, too big inflated
        ws.send(json.dumps({"id": 5, "type": "metrics", "points": [{"name": "ok", "value": 1}]}))
        fine = json.loads(ws.recv(timeout=10))
    assert (bad_json["id"], bad_json["status"], bad_json["code"]) == (None, 400, "INVALID_JSON")
    assert (bad_type["status"], bad_type["code"], list(bad_type["details"])) == (
        400, "VALIDATION_ERROR", ["type"])
    assert (too_many["status"], too_many["code"], too_many["details"]) == (
        400, "BATCH_TOO_LARGE", {"max_items": 1000, "items": 1001})
    assert (too_big["id"], too_big["status"], too_big["code"]) == (None, 413, "PAYLOAD_TOO_LARGE")
    assert (fine["id"], fine["status"], fine["accepted"]) == (5, 202, 1)
    assert MetricPoint.objects.count() == 1


def test_a_message_over_the_size_limit_closes_the_socket(ingest, ingest_server, ingest_key):
    with _ws(ingest_server, f"?api_key={ingest_key.key}") as ws:
        ws.send(json.dumps({"id": 1, "type": "metrics", "points": [{"name": "n", "value": 1}],
                            "padding": "x" * (1024 * 1024)}))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    assert MetricPoint.objects.count() == 0


def test_over_the_rate_a_batch_gets_429_with_retry_after(ingest, ingest_server, ingest_key):
    ingest_key.rate_limit_per_s = 5
    ingest_key.save()
    with _ws(ingest_server, additional_headers={"X-API-Key": ingest_key.key}) as ws:
        # The limit counts per wall-clock second: both batches go at the start of a fresh one
        # (sent across a boundary, the second would rightly be counted in the next second).
        time.sleep(1.02 - time.time() % 1)
        ws.send(json.dumps({"id": 1, "type": "metrics",
                            "points": [{"name": "n", "value": v} for v in range(5)]}))
        ws.send(json.dumps({"id": 2, "type": "metrics", "points": [{"name": "n", "value": 9}]}))
        first, second = (json.loads(ws.recv(timeout=10)) for _ in range(2))
    assert (first["status"], first["accepted"]) == (202, 5)
    assert (second["id"], second["status"], second["code"]) == (2, 429, "RATE_LIMITED")
    assert second["details"]["retry_after"] == 1
    assert MetricPoint.objects.count() == 5


def test_a_bad_key_or_origin_is_answered_then_closed(ingest, ingest_server, ingest_key):
    with _ws(ingest_server, additional_headers={"X-API-Key": "pk_wrong"}) as ws:
        answer = json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert (answer["status"], answer["code"]) == (401, "UNAUTHORIZED")
    assert closed.value.rcvd.code == 4401

    ingest_key.allowed_origins = ["https://shop.example.com"]
    ingest_key.save()
    with _ws(ingest_server, f"?api_key={ingest_key.key}",
             origin="https://evil.example.net") as ws:
        answer = json.loads(ws.recv(timeout=10))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert (answer["status"], answer["code"]) == (403, "ORIGIN_NOT_ALLOWED")
    assert closed.value.rcvd.code == 4403
    with _ws(ingest_server, f"?api_key={ingest_key.key}",
             origin="https://shop.example.com") as ws:
        ws.send(json.dumps({"id": 1, "type": "events", "events": [{"event": "e",
                                                                    "distinct_id": "d"}]}))
        assert json.loads(ws.recv(timeout=10))["status"] == 202
