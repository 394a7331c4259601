"""Prometheus: targets scraped by the worker's task from a real `prometheus_client` app on
loopback (counters as increases, gauges, histograms and summaries, `up` and the scrape duration,
target health for the admin), and remote write — snappy-compressed `WriteRequest`s built from
the protocol's message definitions — over the live server."""

import time
from datetime import UTC, datetime, timedelta

import cramjam
import pytest
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    start_http_server,
)

from events.ingest import scrape
from events.ingest.receivers import prometheus
from events.models import MetricPoint, MetricSeries, ScrapeTarget
from events.tests import recent
from projects.models import IngestKey
from tests.server_fixtures import _free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def project(ingest, make_project, settings):
    settings.SCRAPE_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the exporters here live on loopback
    return make_project("Infra")


def test_targets_are_scraped_with_counters_as_increases(project):
    registry = CollectorRegistry()
    requests = Counter("http_requests", "Requests", ["code"], registry=registry)
    temperature = Gauge("room_temperature", "Temperature", registry=registry)
    latency = Histogram("request_latency_seconds", "Latency", registry=registry,
                        buckets=(0.1, 0.2, 0.5, 1.0))
    sizes = Summary("payload_bytes", "Sizes", registry=registry)
    port = _free_port()
    server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        target = ScrapeTarget.objects.create(project=project, name="shop",
                                             url=f"http://127.0.0.1:{port}/metrics",
                                             labels={"env": "test"}, interval_s=15)
        dead = ScrapeTarget.objects.create(project=project, name="gone",
                                           url=f"http://127.0.0.1:{_free_port()}/metrics",
                                           timeout_s=1)
        requests.labels("200").inc(10)
        temperature.set(21.5)
        for value in (0.05, 0.15, 0.15, 0.3):
            latency.observe(value)
        sizes.observe(100)
        first = scrape.scrape_due()  # sets the counters' baselines
        assert sorted((r["up"], r["pk"]) for r in first) == [(False, dead.pk), (True, target.pk)]
        requests.labels("200").inc(5)
        for value in (0.15, 0.15, 0.15, 0.7):
            latency.observe(value)
        later = datetime.now(UTC) + timedelta(seconds=16)
        assert sorted(r["pk"] for r in scrape.scrape_due(later)) == sorted([target.pk, dead.pk])
        assert scrape.scrape_due(later) == []  # not due again before its interval
    finally:
        server.shutdown()
    assert recent.total(project, "sum:http_requests_total{code:200,job:shop,env:test}") == 5
    assert recent.values(project, "last:room_temperature{}") == [21.5]
    assert recent.total(project, "sum:request_latency_seconds_count{}") == 4
    [p50] = recent.values(project, "last:request_latency_seconds.p50{}")
    assert 0.1 < p50 <= 0.2  # 3 of the interval's 4 observations are in (0.1, 0.2]
    assert recent.total(project, "sum:payload_bytes_count{}") == 0  # no new observations
    up = {s.tags["job"]: s for s in MetricSeries.objects.filter(project=project, name="up")}
    assert set(up) == {"shop", "gone"} and up["shop"].tags["instance"] == f"127.0.0.1:{port}"
    assert recent.values(project, "min:up{job:shop}") == [1.0]
    assert recent.values(project, "max:up{job:gone}") == [0.0]
    assert recent.values(project, "max:scrape_duration_seconds{job:shop}")[0] < 5
    target.refresh_from_db()
    dead.refresh_from_db()
    assert (target.up, target.last_error) == (True, "")
    assert target.last_samples > 10 and target.last_duration_ms > 0
    assert (dead.up, dead.last_error.startswith("ConnectError")) == (False, True)


def _write_request(series: list[tuple[dict, list[tuple[float, int]]]]) -> bytes:
    request = prometheus.WriteRequest()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name, value in labels.items():
            ts.labels.add(name=name, value=value)
        for value, at in samples:
            ts.samples.add(value=value, timestamp=at)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def test_remote_write(ingest, project):
    key = IngestKey.objects.get(project=project).key
    now_ms = int(time.time() * 1000)
    body = _write_request([
        ({"__name__": "node_load1", "instance": "db-1"}, [(0.5, now_ms - 30000),
                                                           (0.75, now_ms)]),
        ({"__name__": "node_cpu_seconds_total", "cpu": "0"}, [(100.0, now_ms - 30000),
                                                               (160.0, now_ms)]),
    ])
    response = ingest.post("/api/v1/prom/write", content=body, headers={
        "Authorization": f"Bearer {key}", "Content-Encoding": "snappy",
        "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0"})
    assert response.status_code == 204, response.text
    # One hourly bucket; two when the 30 s between the samples cross an hour (failed CI once).
    assert recent.values(project, "last:node_load1{instance:db-1}") in ([0.75], [0.5, 0.75])
    # The first sample sets the counter's baseline; the second is an increase of 60.
    assert recent.total(project, "sum:node_cpu_seconds_total{cpu:0}") == 60
    junk = ingest.post("/api/v1/prom/write", content=b"not snappy",
                       headers={"Authorization": f"Bearer {key}"})
    assert junk.status_code == 400 and junk.json()["code"] == "INVALID_BODY"
    assert ingest.post("/api/v1/prom/write", content=body).status_code == 401


def _points(project, name: str) -> list[tuple[dict, datetime, float]]:
    return sorted((series.tags, point["timestamp"], point["value"])
                  for series in MetricSeries.objects.filter(project=project, name=name)
                  for point in MetricPoint.objects.filter(series_id=series.id)
                  .values("timestamp", "value"))


def test_remote_write_samples_exactly(ingest, project):
    """Times to the millisecond, stale markers (NaN) skipped, a histogram's buckets as
    percentiles, a bad name refused alone and named, and no series for a running total that
    only set its baseline."""
    key = IngestKey.objects.get(project=project).key
    now_ms = int(time.time() * 1000)
    at = datetime.fromtimestamp(now_ms // 1000, UTC) + timedelta(milliseconds=now_ms % 1000)
    buckets = [("0.1", 0), ("0.5", 10), ("1", 20), ("+Inf", 20)]
    # one family whatever order its labels come in (the +Inf bucket's are sent reversed)
    labelled = [({"__name__": "rt_seconds_bucket", "job": "a", "le": le} if le != "+Inf" else
                 {"le": le, "job": "a", "__name__": "rt_seconds_bucket"}, count)
                for le, count in buckets]

    def post(step: int, extra=()):
        return ingest.post("/api/v1/prom/write", headers={"Authorization": f"Bearer {key}"},
                           content=_write_request([
            ({"__name__": "queue_depth", "queue": "a"}, [(3.0, now_ms), (float("nan"), now_ms)]),
            *((labels, [(count * step, now_ms + step)]) for labels, count in labelled),
            ({"__name__": "jobs_total"}, [(5.0 * step, now_ms + step)]), *extra]))

    assert post(1).status_code == 204
    assert _points(project, "queue_depth") == [({"queue": "a"}, at, 3.0)]
    # a sender one precision step off (µs for ms) is read as every epoch time is
    micro = ingest.post("/api/v1/prom/write", headers={"Authorization": f"Bearer {key}"},
                        content=_write_request([({"__name__": "clock_us"},
                                                 [(1.0, now_ms * 1000)])]))
    assert micro.status_code == 204
    assert _points(project, "clock_us") == [({}, at, 1.0)]
    assert not MetricSeries.objects.filter(project=project, name="jobs_total").exists()
    refused = post(2, [({"__name__": "9bad", "x": "y"}, [(1.0, now_ms)])])
    assert refused.status_code == 400
    answer = refused.json()
    assert answer["code"] == "PARTIAL_WRITE" and answer["details"]["accepted"] > 0
    assert answer["error"].startswith("1 samples rejected, e.g. 9bad: name:")
    # the second report's increases: 5 jobs; 10 observations up to 0.5 s, 10 more up to 1 s
    assert _points(project, "jobs_total") == [({}, at + timedelta(milliseconds=2), 5.0)]
    [(_, _, p50)] = _points(project, "rt_seconds.p50")
    [(_, _, p90)] = _points(project, "rt_seconds.p90")
    assert (p50, p90) == (0.5, 0.9)
