"""The metric catalogue: definitions filled by each receiver from its own protocol's metadata
(real OTLP protobuf over the live server, a real Prometheus exporter scraped, StatsD packets to
``manage.py statsd``), people's edits that receivers then leave alone, the facts the data gives
(first and last seen, series, tag keys and top values), the API's scoping and errors, and
autocompletion's ranking."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from events import catalog, freshness, rollups
from events.ingest import scrape
from events.models import MetricDefinition, MetricSeries, ScrapeTarget
from events.query import suggest
from events.tests.test_statsd import _free_udp_tcp_port, _serve, _until, _wait_listening
from projects.models import IngestKey
from tests.server_fixtures import _free_port

pytestmark = pytest.mark.slow


def _definitions(project) -> dict[str, tuple[str, str, str, str]]:
    return {d.name: (d.description, d.unit, d.type, d.source)
            for d in MetricDefinition.objects.filter(project=project)}


# -- receivers ------------------------------------------------------------------------------------
def _otlp_request(description: str = "Time to first byte") -> bytes:
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    now = int(datetime.now(UTC).timestamp() * 1e9)
    gauge = scope.metrics.add(name="room.temperature", description="Lab temperature",
                              unit="Cel")
    gauge.gauge.data_points.add(as_double=21.5, time_unix_nano=now)
    queue = scope.metrics.add(name="queue.depth", description="Jobs waiting", unit="{jobs}")
    queue.sum.is_monotonic = False
    queue.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    queue.sum.data_points.add(as_int=3, time_unix_nano=now)
    orders = scope.metrics.add(name="orders", description="Orders placed", unit="1")
    orders.sum.is_monotonic = True
    orders.sum.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    orders.sum.data_points.add(as_int=2, time_unix_nano=now)
    latency = scope.metrics.add(name="http.latency", description=description, unit="ms")
    latency.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
    latency.histogram.data_points.add(count=4, sum=100.0, min=10.0, max=40.0,
                                      explicit_bounds=[20.0, 50.0], bucket_counts=[2, 2, 0],
                                      time_unix_nano=now)
    return request.SerializeToString()


def _send_otlp(ingest, project, body: bytes) -> None:
    response = ingest.post("/v1/metrics", content=body, headers={
        "Content-Type": "application/x-protobuf",
        "X-API-Key": IngestKey.objects.get(project=project).key})
    assert response.status_code == 200, response.text


def test_otlp_describes_its_metrics_with_their_units_and_types(ingest, make_project):
    project = make_project("Services")
    _send_otlp(ingest, project, _otlp_request())
    latency = ("Time to first byte", "ms", "distribution", "otlp")
    assert _definitions(project) == {
        "room.temperature": ("Lab temperature", "°C", "gauge", "otlp"),
        "queue.depth": ("Jobs waiting", "jobs", "gauge", "otlp"),
        "orders": ("Orders placed", "", "counter", "otlp"),
        "http.latency.count": ("Time to first byte", "count", "counter", "otlp"),
        "http.latency.sum": ("Time to first byte", "ms", "counter", "otlp"),
        "http.latency.min": latency, "http.latency.max": latency,
        "http.latency.p50": latency, "http.latency.p75": latency,
        "http.latency.p90": latency, "http.latency.p95": latency,
        "http.latency.p99": latency,
    }
    # Every name described is one the points were stored under.
    stored = set(MetricSeries.objects.filter(project=project).values_list("name", flat=True))
    assert set(_definitions(project)) == stored


def test_a_persons_edit_is_not_overwritten_by_a_receiver(ingest, make_project, token_client):
    project = make_project("Services")
    _send_otlp(ingest, project, _otlp_request())
    admin = project.memberships.get().user
    client = token_client(admin)
    response = client.patch(f"/api/v1/metrics/http.latency.p95/?project={project.pk}",
                            {"description": "p95 of the checkout API", "unit": "s"},
                            format="json")
    assert response.status_code == 200, response.json()
    # The exporter now says something else: the edited definition stays, the others follow.
    _send_otlp(ingest, project, _otlp_request(description="Latency, new wording"))
    found = _definitions(project)
    assert found["http.latency.p95"] == ("p95 of the checkout API", "s", "distribution",
                                         "otlp")
    assert found["http.latency.p50"] == ("Latency, new wording", "ms", "distribution", "otlp")
    edited = MetricDefinition.objects.get(project=project, name="http.latency.p95")
    assert edited.edited_by == admin and edited.edited_at is not None


def test_a_receivers_empty_field_does_not_blank_a_known_one(store, make_project):
    project = make_project("Fleet")
    store.run(catalog.describe(project_id=project.pk, source="otlp",
                               definitions={"jobs.done": ("Jobs finished", "count", "")}))
    store.run(catalog.describe(project_id=project.pk, source="statsd",
                               definitions={"jobs.done": ("", "", "counter")}))
    assert _definitions(project) == {"jobs.done": ("Jobs finished", "count", "counter", "otlp")}


def test_a_process_writes_a_definition_once_until_it_changes(store, make_project):
    project = make_project("Fleet")
    described = {"jobs.done": ("Jobs finished", "count", "counter"),
                 "jobs.queued": ("", "", "gauge")}
    assert store.run(catalog.describe(project_id=project.pk, source="otlp",
                                      definitions=described)) == 2
    # The next batches of the same metrics cost no statement ...
    assert store.run(catalog.describe(project_id=project.pk, source="otlp",
                                      definitions=described)) == 0
    # ... until what the metadata says changes.
    changed = {**described, "jobs.queued": ("Jobs waiting", "", "gauge")}
    assert store.run(catalog.describe(project_id=project.pk, source="otlp",
                                      definitions=changed)) == 1
    assert _definitions(project)["jobs.queued"] == ("Jobs waiting", "", "gauge", "otlp")


def test_a_receivers_write_makes_cached_answers_stale_and_a_repeat_does_not(store, make_project):
    """Answers are cached with their units under the catalogue's version."""
    project = make_project("Fleet")
    catalogue = lambda: freshness.marks(project.pk)[1]  # noqa: E731
    before = catalogue()
    store.run(catalog.describe(project_id=project.pk, source="otlp",
                               definitions={"jobs.done": ("", "count", "")}))
    assert catalogue() == before + 1
    catalog._memo.clear()  # another process, the same metadata: the upsert changes no row
    store.run(catalog.describe(project_id=project.pk, source="otlp",
                               definitions={"jobs.done": ("", "count", "")}))
    assert catalogue() == before + 1


def test_a_scraped_exporter_describes_its_families(ingest, make_project, settings):
    settings.SCRAPE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    project = make_project("Infra")
    registry = CollectorRegistry()
    Counter("http_requests", "Requests served", ["code"], registry=registry).labels("200").inc()
    Gauge("queue_size_bytes", "Bytes waiting", registry=registry).set(5)
    Histogram("request_latency_seconds", "Request latency", registry=registry,
              buckets=(0.1, 1.0)).observe(0.3)
    port = _free_port()
    server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        ScrapeTarget.objects.create(project=project, name="shop",
                                    url=f"http://127.0.0.1:{port}/metrics")
        [report] = scrape.scrape_due()
        assert report["up"], report
    finally:
        server.shutdown()
    found = _definitions(project)
    latency = ("Request latency", "s", "distribution", "prometheus")
    assert {name: found[name] for name in (
        "http_requests_total", "queue_size_bytes", "request_latency_seconds_count",
        "request_latency_seconds_sum", "request_latency_seconds.p50",
        "request_latency_seconds.p99", "up", "scrape_duration_seconds")} == {
        "http_requests_total": ("Requests served", "", "counter", "prometheus"),
        "queue_size_bytes": ("Bytes waiting", "bytes", "gauge", "prometheus"),
        "request_latency_seconds_count": ("Request latency", "count", "counter", "prometheus"),
        "request_latency_seconds_sum": ("Request latency", "s", "counter", "prometheus"),
        "request_latency_seconds.p50": latency, "request_latency_seconds.p99": latency,
        "up": ("1 if the target answered the last scrape, 0 if not", "", "gauge",
               "prometheus"),
        "scrape_duration_seconds": ("How long the last scrape took", "s", "gauge",
                                    "prometheus"),
    }


def test_statsd_types_describe_its_metrics(transactional_db, make_project):
    project = make_project("Fleet")
    port = _free_udp_tcp_port()
    proc = _serve("--key", IngestKey.objects.get(project=project).key, "--port", str(port),
                  "--flush", "1")
    try:
        _wait_listening(port, proc)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"page.views:1|c\nqueue.size:4|g\ndb.query:12|ms\n"
                       b"payload:512|h\nusers.unique:ann|s", ("127.0.0.1", port))
        _until(lambda: "users.unique" in _definitions(project))
    finally:
        proc.terminate()
        proc.wait(30)
    found = _definitions(project)
    assert {name: found[name][1:3] for name in (
        "page.views", "queue.size", "db.query", "db.query.count", "db.query.sum",
        "db.query.p95", "payload", "payload.max", "users.unique")} == {
        "page.views": ("", "counter"), "queue.size": ("", "gauge"),
        "db.query": ("ms", "distribution"), "db.query.count": ("count", "counter"),
        "db.query.sum": ("ms", "counter"), "db.query.p95": ("ms", "distribution"),
        "payload": ("", "distribution"), "payload.max": ("", "distribution"),
        "users.unique": ("", "set")}
    assert {source for _, _, _, source in found.values()} == {"statsd"}


# -- one metric's page ----------------------------------------------------------------------------
@pytest.fixture
def fleet(store, two_projects):
    project = two_projects["a"]
    now = datetime.now(UTC).replace(microsecond=0)
    store.points(project, [
        {"name": "cpu.user", "value": v, "tags": tags, "timestamp": (now - timedelta(
            seconds=s)).isoformat()}
        for v, s, tags in ((1.0, 30, {"host": "web-01", "env": "prod"}),
                           (2.0, 20, {"host": "web-02", "env": "prod"}),
                           (3.0, 10, {"host": "web-03", "env": "dev"}),
                           (4.0, 5, {"host": "web-03"}))])
    store.points(project, [{"name": name, "value": 1.0, "tags": {"region": region}}
                           for name in ("cpu.system", "db.cpu_time", "http.latency",
                                        "CPU.temp", "disk.used")
                           for region in ("eu", "us")])
    rollups.fold()
    return {"project": project, "last": now - timedelta(seconds=5)}


def test_a_metrics_page_holds_its_definition_and_what_the_data_says(fleet, two_projects,
                                                                     token_client):
    project = fleet["project"]
    catalog.edit_definition(project=project, name="cpu.user", user=two_projects["a_editor"],
                            description="CPU time in user mode", unit="%", type="gauge")
    body = token_client(two_projects["a_viewer"]).get(
        f"/api/v1/metrics/cpu.user/?project={project.pk}").json()
    first = min(MetricSeries.objects.filter(project=project, name="cpu.user")
                .values_list("created_at", flat=True))
    edited = MetricDefinition.objects.get(project=project, name="cpu.user")
    assert body == {
        "name": "cpu.user", "description": "CPU time in user mode", "unit": "%",
        "type": "gauge", "source": "", "edited_by": "a_editor",
        "edited_at": edited.edited_at.isoformat(), "updated_at": edited.updated_at.isoformat(),
        "first_seen": first.isoformat(), "last_seen": fleet["last"].isoformat(), "series": 4,
        "tags": [{"key": "env", "values": 2, "top": [{"value": "prod", "series": 2},
                                                     {"value": "dev", "series": 1}]},
                 {"key": "host", "values": 3, "top": [{"value": "web-03", "series": 2},
                                                      {"value": "web-01", "series": 1},
                                                      {"value": "web-02", "series": 1}]}]}


def test_the_list_searches_names_and_descriptions(fleet, two_projects, token_client):
    project = fleet["project"]
    catalog.edit_definition(project=project, name="disk.used", user=two_projects["a_admin"],
                            description="Bytes used on the data volume", unit="bytes",
                            type="gauge")
    client = token_client(two_projects["a_viewer"])
    found = client.get(f"/api/v1/metrics/?project={project.pk}&search=VOLUME").json()
    assert found == {"results": [{"name": "disk.used", "series": 2,
                                  "description": "Bytes used on the data volume",
                                  "unit": "bytes", "type": "gauge", "source": ""}]}
    by_name = client.get(f"/api/v1/metrics/?project={project.pk}&search=cpu&limit=2").json()
    assert [m["name"] for m in by_name["results"]] == ["CPU.temp", "cpu.system"]


# -- editing --------------------------------------------------------------------------------------
def test_editors_edit_viewers_are_refused_and_others_do_not_see_it(fleet, two_projects,
                                                                   token_client):
    project = fleet["project"]
    url = f"/api/v1/metrics/cpu.user/?project={project.pk}"
    edit = {"description": "CPU", "unit": "ms", "type": "rate"}
    viewer = token_client(two_projects["a_viewer"]).patch(url, edit, format="json")
    assert (viewer.status_code, viewer.json()["code"]) == (403, "FORBIDDEN")
    outsider = token_client(two_projects["b_admin"]).patch(url, edit, format="json")
    assert (outsider.status_code, outsider.json()["code"]) == (404, "NOT_FOUND")
    assert token_client(two_projects["b_admin"]).get(url).status_code == 404
    assert not MetricDefinition.objects.exists()
    editor = token_client(two_projects["a_editor"])
    answer = editor.patch(url, edit, format="json")
    assert answer.status_code == 200, answer.json()
    assert (answer.json()["description"], answer.json()["unit"], answer.json()["type"],
            answer.json()["edited_by"]) == ("CPU", "ms", "rate", "a_editor")
    partial = editor.patch(url, {"unit": "my widgets/s"}, format="json").json()
    assert (partial["description"], partial["unit"]) == ("CPU", "my widgets/s")
    unknown = editor.patch(f"/api/v1/metrics/nope/?project={project.pk}", edit, format="json")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize(("edit", "field"), [
    ({"unit": "u" * 33}, "unit"), ({"unit": "m\ts"}, "unit"), ({"unit": ["ms"]}, "unit"),
    ({"type": "histogram"}, "type"), ({"type": 5}, "type"),
    ({"description": "x" * 2001}, "description"), ({"description": "a\x00b"}, "description")])
def test_a_bad_edit_is_a_400_naming_the_field(fleet, two_projects, token_client, edit, field):
    response = token_client(two_projects["a_editor"]).patch(
        f"/api/v1/metrics/cpu.user/?project={fleet['project'].pk}", edit, format="json")
    body = response.json()
    assert (response.status_code, set(body), list(body["details"])) == (
        400, {"error", "code", "details"}, [field])
    assert not MetricDefinition.objects.exists()


# -- autocompletion -------------------------------------------------------------------------------
def _suggest(client, project, **params) -> list:
    response = client.get("/api/v1/query/autocomplete", {"project": project.pk, **params})
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def test_metric_names_complete_prefix_matches_first(fleet, two_projects, token_client):
    project = fleet["project"]
    catalog.edit_definition(project=project, name="cpu.user", user=two_projects["a_admin"],
                            description="User CPU", unit="%", type="gauge")
    client = token_client(two_projects["a_viewer"])
    found = _suggest(client, project, kind="metric", q="cpu")
    # Prefix matches (any case, in byte order of the lowered name), then the others.
    assert [s["value"] for s in found] == ["cpu.system", "CPU.temp", "cpu.user", "db.cpu_time"]
    assert found[2] == {"value": "cpu.user", "description": "User CPU", "unit": "%",
                        "type": "gauge"}
    assert found[1] == {"value": "CPU.temp", "description": "", "unit": "", "type": ""}
    assert [s["value"] for s in _suggest(client, project, kind="metric", q="U.", limit=2)] \
        == ["cpu.system", "CPU.temp"]
    assert [s["value"] for s in _suggest(client, project, kind="metric", q="")] == [
        "cpu.system", "CPU.temp", "cpu.user", "db.cpu_time", "disk.used", "http.latency"]
    assert [s["value"] for s in _suggest(client, project, kind="metric", q="SE")] == [
        "cpu.user", "disk.used"]
    # LIKE's wildcards are plain characters here.
    assert _suggest(client, project, kind="metric", q="%") == []
    assert [s["value"] for s in _suggest(client, project, kind="metric", q="_")] == [
        "db.cpu_time"]


def test_tag_keys_and_values_complete(fleet, two_projects, token_client):
    project = fleet["project"]
    client = token_client(two_projects["a_viewer"])
    assert _suggest(client, project, kind="tag_key", metric="cpu.user", q="") == [
        {"value": "env", "values": 2}, {"value": "host", "values": 3}]
    assert _suggest(client, project, kind="tag_key", metric="cpu.user", q="N") == [
        {"value": "env", "values": 2}]
    assert _suggest(client, project, kind="tag_value", metric="cpu.user", key="host",
                    q="03") == [{"value": "web-03", "series": 2}]
    assert _suggest(client, project, kind="tag_value", metric="cpu.user", key="env",
                    q="") == [{"value": "dev", "series": 1}, {"value": "prod", "series": 2}]
    missing = client.get("/api/v1/query/autocomplete",
                         {"project": project.pk, "kind": "tag_value", "metric": "cpu.user"})
    assert (missing.status_code, list(missing.json()["details"])) == (400, ["key"])
    outsider = token_client(two_projects["b_admin"]).get(
        "/api/v1/query/autocomplete", {"project": project.pk, "kind": "metric"})
    assert outsider.status_code == 404


def test_function_names_complete(fleet, two_projects, token_client):
    client = token_client(two_projects["a_viewer"])
    found = _suggest(client, fleet["project"], kind="function", q="avg")
    assert [(s["value"], s["kind"]) for s in found][:2] == [("avg", "aggregation"),
                                                            ("moving_avg", "function")]
    assert [s["value"] for s in _suggest(client, fleet["project"], kind="function",
                                         q="CLAMP")] == ["clamp_max", "clamp_min"]
    assert found[1]["signature"] == "moving_avg(q, N)"
    assert suggest.FUNCTIONS  # the spec's registry was found (the fallback is aggregations)


# -- hostile input --------------------------------------------------------------------------------
PARAMS = st.dictionaries(
    st.sampled_from(["project", "kind", "q", "metric", "key", "limit", "search"]),
    st.text(max_size=30) | st.sampled_from(["metric", "tag_key", "tag_value", "function",
                                            "\x00", "-1", "0", "101", "9" * 30, "%", "_",
                                            "cpu.user", "host"]),
    max_size=6)
NAMES = st.text(min_size=1, max_size=40) | st.sampled_from(
    ["cpu.user", "a" * 300, "%00", "..", "cpu.user\x00"])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(params=PARAMS, name=NAMES, body=st.dictionaries(
    st.sampled_from(["description", "unit", "type", "name"]),
    st.none() | st.integers() | st.text(max_size=40) | st.lists(st.text(max_size=3)),
    max_size=3))
def test_no_parameters_make_a_server_error(fleet, two_projects, token_client, params, name,
                                           body):
    client = token_client(two_projects["a_editor"])
    project = fleet["project"].pk
    params = {"project": project, **params} if "project" not in params else params
    path = f"/api/v1/metrics/{quote(name, safe='')}/"
    for response in (client.get("/api/v1/query/autocomplete", params),
                     client.get("/api/v1/metrics/", params),
                     client.get(path, {"project": project}),
                     client.patch(f"{path}?project={project}", body, format="json")):
        assert response.status_code < 500, response.content[:500]
        if response.status_code >= 400:
            assert set(response.json()) == {"error", "code", "details"}
