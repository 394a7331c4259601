"""InfluxDB line protocol over the live server: the real `influxdb-client` (v2 API) writes points
that the query engine reads back; v1 `/write` with its precision units and key in `p`; escaping;
bad lines reported by number while the good ones are kept; the key required."""

from datetime import UTC, datetime, timedelta

import pytest
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from events import query as engine
from events.ingest.receivers import influx
from events.models import MetricSeries
from projects.models import IngestKey

pytestmark = pytest.mark.slow


@pytest.fixture
def project(ingest, make_project):
    return make_project("Fleet")


def _key(project) -> str:
    return IngestKey.objects.get(project=project).key


def _last(project, query, minutes=10):
    answer = engine.execute(project, query=query, start=f"now-{minutes}m", end="now",
                            step="1m", use_cache=False, table="raw")
    return {tuple(sorted(s["tags"].items())): [v for _, v in s["points"] if v is not None]
            for s in answer["data"]}


def test_the_influxdb_client_writes_points_the_engine_reads(ingest_server, project):
    now = datetime.now(UTC).replace(microsecond=0)
    with InfluxDBClient(url=ingest_server, token=_key(project), org="any") as client:
        client.write_api(write_options=SYNCHRONOUS).write(bucket="telegraf", record=[
            Point("cpu").tag("host", "web-1").field("usage_idle", 91.5)
            .field("usage_user", 4).field("note", "ok").time(now, WritePrecision.S),
            Point("cpu").tag("host", "web-2").field("usage_idle", 80.25)
            .time(now - timedelta(seconds=30), WritePrecision.S),
            "mem,host=web-1 used=1024i,up=true",
        ])
    assert _last(project, "avg:cpu.usage_idle{} by {host}") == {
        (("host", "web-1"),): [91.5], (("host", "web-2"),): [80.25]}
    assert _last(project, "last:cpu.usage_user{}") == {(): [4.0]}
    assert _last(project, "last:mem.used{}") == {(): [1024.0]}
    assert _last(project, "last:mem.up{}") == {(): [1.0]}
    assert not MetricSeries.objects.filter(project=project, name="cpu.note").exists()


def test_v1_write_with_precision_and_the_key_in_p(ingest, project):
    at = int((datetime.now(UTC) - timedelta(minutes=2)).timestamp())
    response = ingest.post("/write", params={"db": "telegraf", "p": _key(project),
                                             "precision": "s"},
                           content=f"disk,path=/var free=10u {at}\n".encode())
    assert response.status_code == 204, response.text
    series = MetricSeries.objects.get(project=project, name="disk.free")
    assert series.tags == {"path": "/var"}
    answer = engine.execute(project, query="last:disk.free{}", start=at - 60, end=at + 60,
                            step="1m", use_cache=False, table="raw")
    points = [(t, v) for t, v in answer["data"][0]["points"] if v is not None]
    assert points == [(at // 60 * 60 * 1000, 10.0)]


def test_bad_lines_are_reported_by_number_and_the_rest_kept(ingest, project):
    body = ("ok,host=a value=1\n"
            "broken line\n"
            "ok,host=b value=2\n"
            "weather\\,x temp=3\n"  # a comma in the measurement: not a metric name here
            "ok,host=c value=abc\n")
    response = ingest.post("/api/v2/write", params={"org": "x", "bucket": "y"},
                           headers={"Authorization": f"Token {_key(project)}"}, content=body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == "PARTIAL_WRITE"
    assert answer["message"] == answer["error"]
    assert answer["message"].startswith("partial write: line 2: invalid field 'line'")
    assert answer["details"]["accepted"] == 2
    assert [(r["line"], r["code"]) for r in answer["details"]["rejected"]] == [
        (2, "INVALID_LINE"), (4, "INVALID_NAME"), (5, "INVALID_LINE")]
    assert sorted(s.tags["host"] for s in MetricSeries.objects.filter(
        project=project, name="ok.value")) == ["a", "b"]


def test_a_key_is_required(ingest, project):
    for headers in ({}, {"Authorization": "Token pk_nope"}):
        response = ingest.post("/api/v2/write", headers=headers, content=b"m v=1")
        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHORIZED"
    with InfluxDBClient(url=ingest.base_url.__str__().rstrip("/"), token="pk_nope",
                        org="x") as client, pytest.raises(ApiException) as refused:
        client.write_api(write_options=SYNCHRONOUS).write(bucket="b", record="m v=1")
    assert refused.value.status == 401
    assert ingest.post("/api/v2/write", params={"precision": "weeks"},
                       headers={"X-API-Key": _key(project)}, content=b"m v=1").status_code == 400


@pytest.mark.parametrize(("line", "expected"), [
    ('cpu\\ load,host=a\\,b\\=c\\ d value=1.5 1000000000',
     [{"name": "cpu load.value", "value": 1.5, "tags": {"host": "a,b=c d"}, "timestamp": 1.0}]),
    ('m,t=x f\\,1=2i,s="a, \\"b\\" c=d",g=-3e2',
     [{"name": "m.f,1", "value": 2.0, "tags": {"t": "x"}},
      {"name": "m.g", "value": -300.0, "tags": {"t": "x"}}]),
    ("m b1=t,b2=FALSE", [{"name": "m.b1", "value": 1.0, "tags": {}},
                         {"name": "m.b2", "value": 0.0, "tags": {}}]),
])
def test_escaping_and_value_types(line, expected):
    parsed = influx.parse(line, "ns")
    assert parsed.errors == [] and parsed.points == expected


@pytest.mark.parametrize(("line", "message"), [
    ("m", "expected fields after the measurement and tags"),
    ("m,t v=1", "invalid tag 't'"),
    ('m s="open', "unterminated string field value"),
    ("m v=1u2", "invalid field value '1u2'"),
    ("m v=-1u", "unsigned field value '-1u' is negative"),
    ("m v=1 soon", "invalid timestamp 'soon'"),
])
def test_bad_lines_say_what_is_wrong(line, message):
    assert influx.parse(line).errors == [(1, message)]


def test_precisions():
    for precision, raw, seconds in (("s", 5, 5.0), ("ms", 5000, 5.0), ("us", 5_000_000, 5.0),
                                    ("h", 2, 7200.0)):
        assert influx.parse(f"m v=1 {raw}", precision).points[0]["timestamp"] == seconds
    with pytest.raises(influx.LineError):
        influx.parse("m v=1", "weeks")
