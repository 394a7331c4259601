"""The alerts REST API: CRUD with field-level errors, roles and project scoping, evaluate-now,
history, the 24 h backtest preview, silences and current alerts."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts.models import AlertRule
from events import rollups

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(two_projects, token_client):
    return {"editor": token_client(two_projects["a_editor"]),
            "viewer": token_client(two_projects["a_viewer"]),
            "outsider": token_client(two_projects["b_admin"]),
            "a": two_projects["a"], "b": two_projects["b"]}


RULE = {"name": "Errors", "query": "count:events{event:error}", "reducer": "sum",
        "window_minutes": 10, "condition": "gte", "threshold": 5, "severity": "critical",
        "labels": {"team": "checkout"}}


def test_create_read_update_delete(api):
    a = api["a"]
    created = api["editor"].post(f"/api/v1/projects/{a.pk}/alert-rules/", RULE, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["state"], body["for_seconds"], body["interval_seconds"], body["no_data"]) == (
        "new", 0, 60, "no_data")
    rule_id = body["id"]
    assert [r["name"] for r in api["viewer"].get(
        f"/api/v1/projects/{a.pk}/alert-rules/").json()] == ["Errors"]
    patched = api["editor"].patch(f"/api/v1/alert-rules/{rule_id}/", {"threshold": 10},
                                  format="json")
    assert patched.json()["threshold"] == 10.0 and patched.json()["query"] == RULE["query"]
    assert api["viewer"].patch(f"/api/v1/alert-rules/{rule_id}/", {"threshold": 1},
                               format="json").status_code == 403
    assert api["outsider"].get(f"/api/v1/alert-rules/{rule_id}/").status_code == 404
    assert api["outsider"].get(f"/api/v1/projects/{a.pk}/alert-rules/").status_code == 404
    assert api["editor"].delete(f"/api/v1/alert-rules/{rule_id}/").status_code == 204
    assert not AlertRule.objects.filter(pk=rule_id).exists()


@pytest.mark.parametrize(("change", "field", "code"), [
    ({"query": "count:events{event:"}, "query", "QUERY_SYNTAX"),
    ({"reducer": "median"}, "reducer", "VALIDATION_ERROR"),
    ({"condition": ">"}, "condition", "VALIDATION_ERROR"),
    ({"threshold": "high"}, "threshold", "VALIDATION_ERROR"),
    ({"window_minutes": 0}, "window_minutes", "VALIDATION_ERROR"),
    ({"interval_seconds": 5}, "interval_seconds", "VALIDATION_ERROR"),
    ({"labels": {"team": 5}}, "labels", "VALIDATION_ERROR"),
    ({"name": "x" * 101}, "name", "VALIDATION_ERROR"),
    ({"channels": [999999]}, "channels", "VALIDATION_ERROR"),
])
def test_bad_fields_are_named(api, change, field, code):
    response = api["editor"].post(f"/api/v1/projects/{api['a'].pk}/alert-rules/",
                                  {**RULE, **change}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    if code == "VALIDATION_ERROR":
        assert list(body["details"]) == [field]
    else:
        assert "position" in body["details"]
    assert AlertRule.objects.count() == 0


def test_a_channel_of_another_project_cannot_be_attached(api):
    b = api["b"]
    other = api["outsider"].post(f"/api/v1/projects/{b.pk}/notification-channels/", {
        "name": "mail", "kind": "email", "recipients": ["b@example.com"]}, format="json").json()
    response = api["editor"].post(f"/api/v1/projects/{api['a'].pk}/alert-rules/",
                                  {**RULE, "channels": [other["id"]]}, format="json")
    assert response.status_code == 400
    assert response.json()["details"] == {"channels": [f"Unknown channel {other['id']}."]}


def test_evaluate_now_history_and_current_alerts(api, store):
    a = api["a"]
    store.events(a, [{"event": "error", "distinct_id": f"u{i}"} for i in range(6)])
    rollups.fold()
    rule = api["editor"].post(f"/api/v1/projects/{a.pk}/alert-rules/", RULE,
                              format="json").json()
    evaluated = api["editor"].post(f"/api/v1/alert-rules/{rule['id']}/evaluate/").json()
    assert evaluated["state"] == "firing"
    assert [(i["state"], i["value"]) for i in evaluated["instances"]] == [("firing", 6.0)]
    history = api["viewer"].get(f"/api/v1/alert-rules/{rule['id']}/history/").json()
    assert [(h["previous"], h["status"], h["value"]) for h in history] == [
        ("ok", "firing", 6.0)]
    firing = api["viewer"].get(f"/api/v1/projects/{a.pk}/alerts/?state=firing").json()
    assert [i["rule"] for i in firing] == [rule["id"]]
    now = datetime.now(UTC)
    periods = api["viewer"].get(f"/api/v1/projects/{a.pk}/alert-events/", {
        "status": "firing", "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(minutes=1)).isoformat()}).json()
    assert [(p["query"], p["resolved_at"]) for p in periods] == [(RULE["query"], None)]
    assert api["viewer"].post(f"/api/v1/alert-rules/{rule['id']}/evaluate/").status_code == 403


def test_preview_shows_where_the_rule_would_have_fired(api, store):
    a = api["a"]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # Latency 500 ms from 3 h ago to 2 h ago, 50 ms otherwise (one point a minute, last 6 h).
    store.points(a, [{"name": "latency", "value": 500.0 if 120 <= m < 180 else 50.0,
                      "timestamp": (now - timedelta(minutes=m)).isoformat()}
                     for m in range(0, 360)])
    rollups.fold()
    response = api["viewer"].post(f"/api/v1/projects/{a.pk}/alert-rules/preview/", {
        "query": "avg:latency{}", "reducer": "avg", "window_minutes": 5, "condition": "gt",
        "threshold": 200, "for_seconds": 300}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["threshold"] == 200.0 and body["data"][0]["points"]
    [group] = body["fired"]
    assert body["reducer_label"] == "avg over 5 min"
    reduced = [v for _, v in group["reduced"] if v is not None]
    assert (max(reduced), min(reduced)) == (500.0, 50.0)  # the 5 min average, as compared
    [(start, end)] = group["periods"]
    start, end = (datetime.fromtimestamp(t / 1000, UTC) for t in (start, end))
    # The 5 min average crosses 200 within 2-3 minutes of the rise, then `for` adds 5 minutes.
    rise, fall = now - timedelta(minutes=179), now - timedelta(minutes=120)
    assert rise + timedelta(minutes=5) <= start <= rise + timedelta(minutes=9)
    assert fall <= end <= fall + timedelta(minutes=4)
    bad = api["viewer"].post(f"/api/v1/projects/{a.pk}/alert-rules/preview/", {
        "query": "avg:latency{", "threshold": 1}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "QUERY_SYNTAX"


def test_silences(api):
    a = api["a"]
    url = f"/api/v1/projects/{a.pk}/silences/"
    late = api["editor"].post(url, {"matchers": {"team": "checkout"}, "ends_at": "tomorrow",
                                    "reason": "deploy window"}, format="json")
    assert late.status_code == 400 and list(late.json()["details"]) == ["ends_at"]
    made = api["editor"].post(url, {"matchers": {"team": "checkout"}, "ends_at": "now+2h",
                                    "reason": "deploy window"}, format="json")
    assert made.status_code == 201, made.json()
    ends = datetime.fromisoformat(made.json()["ends_at"])
    assert timedelta(minutes=119) < ends - datetime.now(UTC) <= timedelta(hours=2)
    empty = api["editor"].post(url, {"ends_at": "now", "reason": "all"}, format="json")
    assert empty.status_code == 400 and list(empty.json()["details"]) == ["matchers"]
    assert [s["reason"] for s in api["viewer"].get(url).json()] == ["deploy window"]
    silence = f"/api/v1/silences/{made.json()['id']}/"
    assert api["editor"].delete(silence).status_code == 204
    ended = api["viewer"].get(silence)  # still listed, ended
    assert datetime.fromisoformat(ended.json()["ends_at"]) <= datetime.now(UTC)
    assert api["outsider"].get(f"/api/v1/silences/{made.json()['id']}/").status_code == 404


def test_operators_set_thresholds_in_the_admin(api, client, django_user_model):
    from django.utils import timezone

    rule = AlertRule.objects.create(project=api["a"], name="Disk", query="max:disk{}",
                                    threshold=0.9, next_evaluation_at=timezone.now()
                                    + timedelta(hours=1))
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root")
    client.force_login(admin)
    listing = client.get("/admin/alerts/alertrule/")
    assert listing.status_code == 200 and b"Disk" in listing.content
    form = client.get(f"/admin/alerts/alertrule/{rule.pk}/change/")
    assert form.status_code == 200
    response = client.post(f"/admin/alerts/alertrule/{rule.pk}/change/", {
        "project": api["a"].pk, "name": "Disk", "query": "max:disk{}", "reducer": "avg",
        "window_minutes": 5, "condition": "gt", "threshold": 0.95, "for_seconds": 0,
        "severity": "warning", "enabled": "on", "labels": "{}", "no_data": "no_data",
        "renotify_minutes": 0, "message": "{rule}", "interval_seconds": 60,
        "instances-TOTAL_FORMS": 0, "instances-INITIAL_FORMS": 0})
    assert response.status_code == 302, response.content[:2000]
    rule.refresh_from_db()
    assert rule.threshold == 0.95 and rule.next_evaluation_at is None  # applies next cycle
    refused = client.post("/admin/alerts/notificationchannel/add/", {
        "project": api["a"].pk, "name": "meta", "kind": "webhook", "recipients": "[]",
        "url": "http://169.254.169.254/", "secret": "", "timeout_s": 5, "enabled": "on"})
    assert refused.status_code == 200 and b"internal address" in refused.content


def test_a_nul_in_a_query_parameter_is_refused_by_name(api):
    a = api["a"]
    for path, params, field in (
            ("alerts", {"state": ["firing", "fir\x00ing"]}, "state"),
            ("alerts", {"state": "burning"}, "state"),
            ("alert-events", {"start": "now-1h\x00"}, "start"),
            ("alert-events", {"status": "firing\x00"}, "status")):
        response = api["viewer"].get(f"/api/v1/projects/{a.pk}/{path}/", params)
        assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
        assert list(response.json()["details"]) == [field]


def test_times_with_offsets_postgresql_refuses_are_converted_to_utc(api):
    a = api["a"]
    made = api["editor"].post(f"/api/v1/projects/{a.pk}/silences/", {
        "matchers": {"team": "checkout"}, "ends_at": "2999-01-01T00:00:00+21:02",
        "reason": "far east"}, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["ends_at"] == "2998-12-31T02:58:00Z"
    history = api["viewer"].get(f"/api/v1/projects/{a.pk}/alert-events/",
                                {"start": "2026-11-21T00:00:00+21:02", "end": "now"})
    assert (history.status_code, history.json()) == (200, [])


@pytest.mark.parametrize(("change", "field"), [
    ({"rule": "abc"}, "rule"),
    ({"ends_at": "9999-12-31T23:59:00-01:00"}, "ends_at"),
    ({"ends_at": "now+99999999999w"}, "ends_at"),
    ({"matchers": {"team\x00": "checkout"}}, "matchers"),
    ({"reason": "deploy\x00"}, "reason"),
])
def test_bad_silences_are_named(api, change, field):
    response = api["editor"].post(f"/api/v1/projects/{api['a'].pk}/silences/", {
        "matchers": {"team": "checkout"}, "ends_at": "now+1h", "reason": "deploy", **change},
        format="json")
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert list(response.json()["details"]) == [field]


@pytest.mark.parametrize(("change", "field"), [
    ({"labels": {"team\x00": "checkout"}}, "labels"),
    ({"message": "{rule} is \x00"}, "message"),
])
def test_nul_characters_in_rules_are_named(api, change, field):
    response = api["editor"].post(f"/api/v1/projects/{api['a'].pk}/alert-rules/",
                                  {**RULE, **change}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert list(response.json()["details"]) == [field]
