"""POST /api/v1/events/batch over real HTTP into real PostgreSQL."""

import gzip
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection

from events.models import Event, PersonAlias
from projects import services as project_services

pytestmark = pytest.mark.slow

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")


def _event(name="page_view", **extra):
    return {"event": name, "distinct_id": "anon-1", "session_id": "s-1", **extra}


def _post(client, key, events, *, headers=None, **body):
    return client.post("/api/v1/events/batch", json={"events": events, **body},
                       headers={"X-API-Key": key.key, "User-Agent": CHROME, **(headers or {})})


def test_batch_is_stored_with_what_the_server_adds(ingest, ingest_key):
    response = _post(ingest, ingest_key, [
        _event(page_url="https://shop.example.com/pricing?x=1",
               referrer="https://www.google.com/search?q=a", properties={"plan": "pro"}),
        _event("signup", properties={"source": "ad"}),
    ])
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "rejected": []}
    rows = list(Event.objects.filter(project=ingest_key.project).order_by("event").values())
    assert [r["event"] for r in rows] == ["page_view", "signup"]
    view = rows[0]
    assert (view["path"], view["referrer_domain"], view["browser"], view["os"],
            view["device_type"]) == ("/pricing", "google.com", "Chrome", "Windows", "desktop")
    assert view["properties"] == {"plan": "pro"}
    assert view["person_id"] == "anon-1" and view["session_id"] == "s-1"
    assert len(view["ip_hash"]) == 32
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(e)::text FROM events_event e")
        assert all("127.0.0.1" not in row[0] for row in cursor.fetchall())


def test_a_bad_item_never_costs_the_good_ones(ingest, ingest_key):
    response = _post(ingest, ingest_key, [
        _event("ok-1"),
        {"event": "", "distinct_id": "a"},
        _event("bad-time", timestamp="yesterday-ish"),
        "not an object",
        _event("bad-props", properties=[1, 2]),
        _event("ok-2"),
    ])
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (1, "MISSING_FIELD"), (2, "INVALID_TIMESTAMP"), (3, "INVALID_ITEM"), (4, "INVALID_FIELD")]
    assert body["rejected"][0]["message"] == "event: required."
    assert sorted(Event.objects.values_list("event", flat=True)) == ["ok-1", "ok-2"]


def test_resent_uuid_is_stored_once(ingest, ingest_key):
    batch = [_event(uuid=str(uuid.uuid4())) for _ in range(5)]
    for _ in range(3):
        response = _post(ingest, ingest_key, batch)
        assert response.json() == {"accepted": 5, "rejected": []}
    twice_in_one = str(uuid.uuid4())
    _post(ingest, ingest_key, [_event(uuid=twice_in_one), _event(uuid=twice_in_one)])
    assert Event.objects.count() == 6


def test_client_clock_skew_is_corrected_and_the_original_kept(ingest, ingest_key):
    # The client's clock runs 1 hour ahead: it says the event happened at 12:00 and was sent at
    # 12:00:30, so on the server's clock it happened 30 s before the server received it.
    client_time = datetime.now(UTC) + timedelta(hours=1)
    before = datetime.now(UTC)
    _post(ingest, ingest_key, [_event(timestamp=client_time.isoformat())],
          sent_at=(client_time + timedelta(seconds=30)).isoformat())
    after = datetime.now(UTC)
    row = Event.objects.get()
    assert row.client_timestamp == client_time.replace(microsecond=client_time.microsecond)
    assert before - timedelta(seconds=30, milliseconds=50) <= row.timestamp
    assert row.timestamp <= after - timedelta(seconds=30) + timedelta(milliseconds=50)
    assert row.received_at - row.timestamp == timedelta(seconds=30)


def test_times_far_in_the_future_are_clamped_and_epoch_forms_accepted(ingest, ingest_key):
    future = datetime.now(UTC) + timedelta(days=2)
    ten_minutes_ago = datetime.now(UTC) - timedelta(minutes=10)
    _post(ingest, ingest_key, [
        _event("future", timestamp=future.isoformat()),
        _event("epoch-s", timestamp=ten_minutes_ago.timestamp()),
        _event("epoch-ms", timestamp=int(ten_minutes_ago.timestamp() * 1000)),
    ])
    rows = {r.event: r for r in Event.objects.all()}
    assert rows["future"].timestamp == rows["future"].received_at
    assert rows["future"].client_timestamp.date() == future.date()
    for name in ("epoch-s", "epoch-ms"):
        assert abs(rows[name].timestamp - ten_minutes_ago) < timedelta(milliseconds=2)


def test_data_older_than_raw_retention_is_rejected_late_data_within_it_kept(ingest, ingest_key):
    response = _post(ingest, ingest_key, [
        _event("late", timestamp=(datetime.now(UTC) - timedelta(days=6)).isoformat()),
        _event("too-old", timestamp=(datetime.now(UTC) - timedelta(days=8)).isoformat()),
    ])
    assert response.json()["accepted"] == 1
    assert response.json()["rejected"][0]["code"] == "TOO_OLD"
    assert list(Event.objects.values_list("event", flat=True)) == ["late"]


def test_identify_links_the_anonymous_id_from_then_on(ingest, ingest_key):
    _post(ingest, ingest_key, [_event("page_view")])
    _post(ingest, ingest_key, [{"event": "$identify", "distinct_id": "user-42",
                                "properties": {"$anon_distinct_id": "anon-1"}}])
    _post(ingest, ingest_key, [_event("click")])  # a tab still sending as anon-1
    alias = PersonAlias.objects.get(project=ingest_key.project)
    assert (alias.distinct_id, alias.person_id) == ("anon-1", "user-42")
    persons = dict(Event.objects.values_list("event", "person_id"))
    assert persons == {"page_view": "anon-1", "$identify": "user-42", "click": "user-42"}


def test_mobile_user_agent_is_parsed(ingest, ingest_key):
    _post(ingest, ingest_key, [_event()], headers={"User-Agent": IPHONE})
    row = Event.objects.get()
    assert (row.browser, row.os, row.device_type) == ("Mobile Safari", "iOS", "mobile")


def test_sendbeacon_body_key_and_gzip_body(ingest, ingest_key):
    body = {"api_key": ingest_key.key, "events": [_event("beacon")]}
    response = ingest.post("/api/v1/events/batch", content=orjson.dumps(body),
                           headers={"Content-Type": "text/plain"})
    assert response.status_code == 202
    zipped = gzip.compress(orjson.dumps({"events": [_event("zipped")]}))
    response = ingest.post("/api/v1/events/batch", content=zipped, headers={
        "X-API-Key": ingest_key.key, "Content-Encoding": "gzip",
        "Content-Type": "application/json"})
    assert response.status_code == 202
    assert sorted(Event.objects.values_list("event", flat=True)) == ["beacon", "zipped"]


def _error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code", "details"}
    assert body["code"] == code
    return body


def test_whole_request_faults(ingest, ingest_key):
    bad_key = ingest.post("/api/v1/events/batch", json={"events": [_event()]},
                          headers={"X-API-Key": "pk_nope"})
    _error(bad_key, 401, "UNAUTHORIZED")
    bad_json = ingest.post("/api/v1/events/batch", content=b'{"events": [',
                           headers={"X-API-Key": ingest_key.key})
    assert _error(bad_json, 400, "INVALID_JSON")["details"] == {"position": 12}
    big = ingest.post("/api/v1/events/batch", content=b" " * (1024 * 1024 + 1),
                      headers={"X-API-Key": ingest_key.key})
    assert _error(big, 413, "PAYLOAD_TOO_LARGE")["details"] == {"max_bytes": 1048576}
    many = _post(ingest, ingest_key, [_event()] * 1001)
    assert _error(many, 400, "BATCH_TOO_LARGE")["details"] == {"max_items": 1000, "items": 1001}
    not_list = ingest.post("/api/v1/events/batch", json={"events": {}},
                           headers={"X-API-Key": ingest_key.key})
    _error(not_list, 400, "VALIDATION_ERROR")
    assert ingest.get("/api/v1/events/batch").status_code == 405
    assert Event.objects.count() == 0


def test_rotated_and_revoked_keys_stop_working(ingest, ingest_key):
    old = ingest_key.key
    project_services.rotate_ingest_key(key=ingest_key)
    response = ingest.post("/api/v1/events/batch", json={"events": [_event()]},
                           headers={"X-API-Key": old})
    _error(response, 401, "UNAUTHORIZED")
    assert _post(ingest, ingest_key, [_event()]).status_code == 202
    project_services.revoke_ingest_key(key=ingest_key)
    _error(_post(ingest, ingest_key, [_event()]), 401, "UNAUTHORIZED")


def test_over_the_keys_rate_is_429_with_retry_after(ingest, ingest_key):
    ingest_key.rate_limit_per_s = 5
    ingest_key.save()
    response = _post(ingest, ingest_key, [_event()] * 6)  # 6 items in one second, limit 5
    body = _error(response, 429, "RATE_LIMITED")
    assert response.headers["Retry-After"] == "1"
    assert body["details"] == {"retry_after": 1, "limit_per_s": 5}
    assert Event.objects.count() == 0


def test_browser_origins_are_checked_and_cors_answered(ingest, ingest_key):
    ingest_key.allowed_origins = ["https://shop.example.com"]
    ingest_key.save()
    preflight = ingest.options("/api/v1/events/batch", headers={
        "Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    allowed = _post(ingest, ingest_key, [_event()], headers={"Origin": "https://shop.example.com"})
    assert allowed.status_code == 202
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    denied = _post(ingest, ingest_key, [_event()], headers={"Origin": "https://evil.example"})
    body = _error(denied, 403, "ORIGIN_NOT_ALLOWED")
    assert body["details"] == {"origin": "https://evil.example"}
    assert "Access-Control-Allow-Origin" not in denied.headers
    assert Event.objects.count() == 1


def test_the_keys_last_use_is_recorded(ingest, ingest_key):
    assert ingest_key.last_used_at is None
    _post(ingest, ingest_key, [_event()])
    ingest_key.refresh_from_db()
    assert ingest_key.last_used_at is not None
