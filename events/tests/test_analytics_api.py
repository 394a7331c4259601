"""Event analytics reports over a small known dataset: KPIs against the previous period,
breakdowns, sessions and identified users."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from events import rollups

pytestmark = pytest.mark.slow

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/130.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"


@pytest.fixture
def shop(store, two_projects):
    project = two_projects["a"]
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = now - timedelta(minutes=50)

    def at(seconds, base=t0):
        return (base + timedelta(seconds=seconds)).isoformat()

    site = "https://shop.example"
    store.events(project, [  # the previous period: one bounce
        {"event": "page_view", "distinct_id": "old", "session_id": "s0", "timestamp":
         at(0, now - timedelta(minutes=90)), "page_url": f"{site}/"}], user_agent=CHROME)
    store.events(project, [
        {"event": "page_view", "distinct_id": "anon-1", "session_id": "s1", "timestamp": at(0),
         "page_url": f"{site}/"},
        {"event": "page_view", "distinct_id": "anon-1", "session_id": "s1", "timestamp": at(60),
         "page_url": f"{site}/pricing"},
        {"event": "signup", "distinct_id": "anon-1", "session_id": "s1", "timestamp": at(90)},
        {"event": "$identify", "distinct_id": "u-1", "session_id": "s1", "timestamp": at(120),
         "properties": {"$anon_distinct_id": "anon-1"}},
        {"event": "page_view", "distinct_id": "u-9", "session_id": "s3", "timestamp": at(600),
         "page_url": f"{site}/pricing"},
        {"event": "purchase", "distinct_id": "u-9", "session_id": "s3", "timestamp": at(630)},
    ], user_agent=CHROME)
    store.events(project, [
        {"event": "page_view", "distinct_id": "anon-2", "session_id": "s2", "timestamp": at(300),
         "page_url": f"{site}/", "referrer": "https://www.google.com/search?q=shop"},
    ], user_agent=FIREFOX)
    rollups.fold()
    return project


def _get(client, project, report, **params):
    query = "&".join(f"{k}={v}" for k, v in {"project": project.pk, "start": "now-1h",
                                              **params}.items())
    response = client.get(f"/api/v1/analytics/{report}?{query}")
    assert response.status_code == 200, response.json()
    return response.json()


def test_overview_kpis_against_the_previous_period(shop, two_projects, token_client):
    body = _get(token_client(two_projects["a_viewer"]), shop, "overview")
    assert {k: body[k]["value"] for k in ("events", "sessions", "users", "pageviews")} == {
        "events": 7, "sessions": 3, "users": 3, "pageviews": 4}
    assert body["bounce_rate"]["value"] == pytest.approx(1 / 3)
    assert body["avg_session_duration_s"]["value"] == pytest.approx(50.0)
    assert body["top_event"] == {"event": "page_view", "count": 4}
    assert body["events"] == {"value": 7, "previous": 1, "change": 6.0}
    assert body["bounce_rate"]["previous"] == 1.0


def test_breakdowns(shop, two_projects, token_client):
    client = token_client(two_projects["a_viewer"])
    pages = _get(client, shop, "top-pages")["results"]
    assert [(p["value"], p["events"], p["users"]) for p in pages] == [
        ("/", 2, 2), ("/pricing", 2, 2)]
    events = _get(client, shop, "top-events", limit=2)["results"]
    assert [(e["value"], e["events"]) for e in events] == [("page_view", 4), ("$identify", 1)]
    browsers = _get(client, shop, "browsers")["results"]
    assert [(b["value"], b["events"], b["sessions"]) for b in browsers] == [
        ("Chrome", 6, 2), ("Firefox", 1, 1)]
    referrers = _get(client, shop, "top-referrers")["results"]
    assert [(r["value"], r["users"]) for r in referrers] == [("google.com", 1)]
    devices = _get(client, shop, "devices")["results"]
    assert [(d["value"], d["events"]) for d in devices] == [("desktop", 7)]


def test_sessions_and_users(shop, two_projects, token_client):
    client = token_client(two_projects["a_viewer"])
    sessions = _get(client, shop, "sessions")
    assert (sessions["count"], sessions["avg_duration_s"]) == (3, 50.0)
    assert {b["bucket"]: b["sessions"] for b in sessions["duration"] if b["sessions"]} == {
        "0-10s": 1, "30-60s": 1, "1-3m": 1}
    assert {b["bucket"]: b["sessions"] for b in sessions["pages_per_session"]
            if b["sessions"]} == {"1": 2, "2": 1}
    users = _get(client, shop, "users")
    assert users["count"] == 1
    assert [(u["user_id"], u["events"]) for u in users["results"]] == [("u-1", 4)]
    assert _get(client, shop, "users", search="nobody")["results"] == []
    bad = client.get(f"/api/v1/analytics/users?project={shop.pk}&ordering=random")
    assert (bad.status_code, list(bad.json()["details"])) == (400, ["ordering"])


def test_timeseries_and_errors(shop, two_projects, token_client):
    client = token_client(two_projects["a_viewer"])
    series = _get(client, shop, "timeseries", interval="hour", start="now-3h")
    assert sum(p["events"] for p in series["points"]) == 8  # with the previous-period one
    assert sum(p["pageviews"] for p in series["points"]) == 5
    assert client.get(f"/api/v1/analytics/nope?project={shop.pk}").status_code == 404
    outsider = token_client(two_projects["b_admin"])
    assert outsider.get(f"/api/v1/analytics/overview?project={shop.pk}").status_code == 404


def test_overview_over_whole_hours_and_partial_ends_matches_the_events(store, two_projects,
                                                                        token_client):
    project = two_projects["a"]
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)

    def event(name, minutes, distinct, session):
        return {"event": name, "distinct_id": distinct, "session_id": session,
                "timestamp": (hour + timedelta(minutes=minutes)).isoformat()}

    store.events(project, [
        event("page_view", -10, "v1", "a"),     # partial hour before the first whole one
        event("click", -5, "v1", "a"),
        event("page_view", 30, "v2", "b"),      # whole hours
        event("page_view", 95, "v3", "c"),
        event("signup", 100, "v3", "c"),
        event("page_view", 150, "v4", "d"),     # partial hour at the end
        event("page_view", 200, "v5", "e"),     # after the range
    ])
    store.events(project, [{"event": "$identify", "distinct_id": "v3", "session_id": "c",
                            "timestamp": (hour + timedelta(minutes=101)).isoformat(),
                            "properties": {"$anon_distinct_id": "v1"}}])
    rollups.fold()
    start, end = hour - timedelta(minutes=20), hour + timedelta(minutes=160)
    body = token_client(two_projects["a_viewer"]).get(
        f"/api/v1/analytics/overview?project={project.pk}&start={start.isoformat()}"
        f"&end={end.isoformat()}".replace("+", "%2B")).json()
    values = {k: body[k]["value"] for k in ("events", "pageviews", "sessions", "users")}
    assert values == {"events": 7, "pageviews": 4, "sessions": 4, "users": 3}  # v1 is v3
    assert body["top_event"] == {"event": "page_view", "count": 4}
    assert body["bounce_rate"]["value"] == pytest.approx(2 / 4)  # b and d
    assert body["avg_session_duration_s"]["value"] == pytest.approx((300 + 0 + 360 + 0) / 4)


@pytest.mark.parametrize("report", ["overview", "timeseries", "top-pages", "sessions", "users"])
def test_a_range_with_an_offset_postgresql_refuses_is_read_in_utc(shop, two_projects,
                                                                  token_client, report):
    client = token_client(two_projects["a_viewer"])
    now = datetime.now(UTC).replace(microsecond=0)
    far_east = timezone(timedelta(hours=21, minutes=2))

    def answer(zone):
        response = client.get(f"/api/v1/analytics/{report}", {
            "project": shop.pk, "start": (now - timedelta(hours=2)).astimezone(zone).isoformat(),
            "end": now.astimezone(zone).isoformat()})
        assert response.status_code == 200, response.json()
        body = response.json()
        for name in ("cached", "took_ms"):  # the second call may come from the cache
            body.get("meta", {}).pop(name, None)
        return body

    assert answer(far_east) == answer(UTC)


@pytest.mark.parametrize(("params", "field"), [
    ({"start": "now-1d\x00"}, "start"),
    ({"start": "9999-12-31T23:00:00-05:00"}, "start"),
    ({"search": "u-\x00"}, "search"),
])
def test_bad_parameters_are_named(shop, two_projects, token_client, params, field):
    client = token_client(two_projects["a_viewer"])
    response = client.get("/api/v1/analytics/users", {"project": shop.pk, **params})
    assert response.status_code == 400
    assert list(response.json()["details"]) == [field]
