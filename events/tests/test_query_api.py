"""The read API: POST /api/v1/query, the metric catalogue and live windows — scoped to the
caller's projects, with the engine's errors in the one error format."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from events import rollups

pytestmark = pytest.mark.slow


@pytest.fixture
def data(store, two_projects):
    project = two_projects["a"]
    now = datetime.now(UTC)
    store.points(project, [
        {"name": "http.latency_ms", "value": v, "tags": {"host": host, "env": "prod"},
         "timestamp": (now - timedelta(seconds=s)).isoformat()}
        for host, v, s in (("web-01", 10, 2), ("web-01", 30, 30), ("web-02", 50, 3),
                           ("web-02", 70, 400))])
    store.points(project, [{"name": "cpu.user", "value": 0.5, "tags": {"host": "web-01"}}])
    rollups.fold()
    return project


def test_query_answers_with_series_and_meta(data, two_projects, token_client):
    client = token_client(two_projects["a_viewer"])
    response = client.post("/api/v1/query", {
        "project": data.pk, "query": "max:http.latency_ms{env:prod} by {host}",
        "start": "now-1h", "step": "1h"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [(s["tags"], max(v for _, v in s["points"] if v is not None))
            for s in body["data"]] == [({"host": "web-02"}, 70.0), ({"host": "web-01"}, 30.0)]
    assert set(body["meta"]) >= {"table", "resolution", "cached", "took_ms", "series"}
    assert body["meta"]["series"] == 2


def test_a_cached_answer_is_the_same_json_as_the_one_computed(data, two_projects, token_client):
    """A cached series answer goes out as the JSON it was kept as (not decoded and encoded
    again): the same bytes for ``data``, the same values when pretty-printed."""
    import orjson

    client = token_client(two_projects["a_viewer"])
    asked = {"project": data.pk, "query": "max:http.latency_ms{env:prod} by {host}",
             "start": "now-1h", "step": "1h"}
    first = client.post("/api/v1/query", asked, format="json")
    second = client.post("/api/v1/query", asked, format="json")
    pretty = client.post("/api/v1/query", asked, format="json",
                         HTTP_ACCEPT="application/json; indent=2")
    assert [r.json()["meta"]["cached"] for r in (first, second, pretty)] == [False, True, True]
    data_of = [orjson.dumps(r.json()["data"]) for r in (first, second, pretty)]
    assert data_of[0] == data_of[1] == data_of[2]
    assert first.content.split(b',"meta":')[0] == second.content.split(b',"meta":')[0]
    assert b'\n  "data": [' in pretty.content
    assert len(second.json()["data"]) == 2


def test_query_errors_use_the_error_format(data, two_projects, token_client):
    client = token_client(two_projects["a_viewer"])
    syntax = client.post("/api/v1/query", {"project": data.pk,
                                           "query": "avg:cpu{host:web-1 env:prod}"},
                         format="json")
    assert syntax.status_code == 400
    assert syntax.json()["code"] == "QUERY_SYNTAX"
    assert syntax.json()["details"] == {"position": 19, "expected": ["}", ","]}
    named = client.post("/api/v1/query", {"project": data.pk, "queries": {"a": "avg:cpu{"},
                                          "formula": "a * 2"}, format="json")
    assert named.json()["details"]["query"] == "a"
    missing = client.post("/api/v1/query", {"query": "avg:cpu{}"}, format="json")
    assert (missing.status_code, list(missing.json()["details"])) == (400, ["project"])
    bad_range = client.post("/api/v1/query", {"project": data.pk, "query": "avg:cpu{}",
                                              "start": "yesterday"}, format="json")
    assert (bad_range.json()["code"], list(bad_range.json()["details"])) == (
        "INVALID_RANGE", ["start"])


def test_other_projects_are_not_found(data, two_projects, token_client):
    outsider = token_client(two_projects["b_admin"])
    for response in (
        outsider.post("/api/v1/query", {"project": data.pk, "query": "avg:cpu.user{}"},
                      format="json"),
        outsider.get(f"/api/v1/metrics/?project={data.pk}"),
        outsider.get(f"/api/v1/metrics/cpu.user/tags?project={data.pk}"),
        outsider.get(f"/api/v1/metrics/cpu.user/window?project={data.pk}"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
    anonymous = token_client(two_projects["a_viewer"])
    anonymous.credentials()
    assert anonymous.get(f"/api/v1/metrics/?project={data.pk}").status_code == 401


def test_metric_names_and_tags(data, two_projects, token_client):
    client = token_client(two_projects["a_viewer"])
    names = client.get(f"/api/v1/metrics/?project={data.pk}").json()["results"]
    undescribed = {"description": "", "unit": "", "type": "", "source": ""}
    assert names == [{"name": "cpu.user", "series": 1, **undescribed},
                     {"name": "http.latency_ms", "series": 2, **undescribed}]
    searched = client.get(f"/api/v1/metrics/?project={data.pk}&search=LATENCY").json()
    assert [n["name"] for n in searched["results"]] == ["http.latency_ms"]
    tags = client.get(f"/api/v1/metrics/http.latency_ms/tags?project={data.pk}").json()
    assert tags["tags"] == {"env": {"values": ["prod"], "more": False},
                            "host": {"values": ["web-01", "web-02"], "more": False}}
    unknown = client.get(f"/api/v1/metrics/nope/tags?project={data.pk}")
    assert unknown.status_code == 404


def test_window_stats_and_rates(data, two_projects, token_client):
    client = token_client(two_projects["a_viewer"])
    body = client.get(f"/api/v1/metrics/http.latency_ms/window?project={data.pk}"
                      "&window=5m").json()
    assert (body["count"], body["min"], body["max"], body["avg"]) == (3, 10.0, 50.0, 30.0)
    assert body["p95"] == 50.0
    assert body["rate"]["5s"] == pytest.approx(60 / 5)  # 10 and 50 in the last 5 s
    assert body["points_per_s"]["60s"] == pytest.approx(3 / 60)
    one_host = client.get(f"/api/v1/metrics/http.latency_ms/window?project={data.pk}"
                          "&window=1h&tags=host:web-02").json()
    assert (one_host["count"], one_host["series"]) == (2, 1)
    bad = client.get(f"/api/v1/metrics/http.latency_ms/window?project={data.pk}"
                     "&tags=host:a env:b")
    assert bad.json()["code"] == "QUERY_SYNTAX"
    assert bad.json()["details"]["position"] == 7


def test_the_schema_documents_the_query_api(client):
    schema = client.get("/api/schema/?format=json").json()
    assert {"/api/v1/query", "/api/v1/metrics/", "/api/v1/metrics/{name}/tags",
            "/api/v1/metrics/{name}/window"} <= set(schema["paths"])


@pytest.mark.parametrize(("method", "path", "payload", "field"), [
    ("get", "/api/v1/metrics/", {"search": "http\x00"}, "search"),
    ("get", "/api/v1/metrics/http%00/tags", {}, "name"),
    ("post", "/api/v1/query", {"query": "avg:cpu.user{host:$host}",
                               "variables": {"host": ["web\x00"]}}, "variables"),
    ("post", "/api/v1/query", {"queries": {"a\x00": "avg:cpu.user{}"}}, "queries"),
])
def test_nul_characters_are_refused_by_name(data, two_projects, token_client, method, path,
                                            payload, field):
    client = token_client(two_projects["a_viewer"])
    payload = {"project": data.pk, **payload}
    response = client.get(path, payload) if method == "get" else client.post(path, payload,
                                                                               format="json")
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert list(response.json()["details"]) == [field]


def test_a_range_with_an_offset_postgresql_refuses_is_read_in_utc(data, two_projects,
                                                                  token_client):
    client = token_client(two_projects["a_viewer"])
    start = (datetime.now(UTC) - timedelta(hours=1)).astimezone(
        timezone(timedelta(hours=21, minutes=2))).isoformat()
    response = client.post("/api/v1/query", {"project": data.pk, "query": "max:cpu.user{}",
                                             "start": start, "step": "1h"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["meta"]["start"].endswith("+00:00")


@pytest.mark.parametrize(("start", "code"), [(1e20, "INVALID_RANGE"), (-1e20, "INVALID_RANGE"),
                                             ("now-1d\x00", "VALIDATION_ERROR")])
def test_times_outside_the_calendar_are_a_400_naming_the_field(data, two_projects, token_client,
                                                               start, code):
    """Like any time the engine cannot read (INVALID_RANGE); text PostgreSQL could not even
    hold is refused before it (VALIDATION_ERROR)."""
    client = token_client(two_projects["a_viewer"])
    response = client.post("/api/v1/query", {"project": data.pk, "query": "max:cpu.user{}",
                                             "start": start}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert list(response.json()["details"]) == ["start"]
