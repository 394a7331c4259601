"""OpenTelemetry metrics over OTLP/HTTP on the live server, sent by the real `opentelemetry-sdk`
with its OTLP HTTP exporter: counters (cumulative, turned into increases), up-down counters and
gauges as values, explicit and exponential histograms as count / sum / min / max and estimated
percentiles, resource attributes as tags; JSON bodies too; bad bodies and keys refused."""

import time

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from events.ingest.receivers import otlp
from events.models import MetricSeries
from events.tests import recent
from projects.models import IngestKey

pytestmark = pytest.mark.slow


@pytest.fixture
def project(ingest, make_project):
    return make_project("Services")


def _key(project) -> str:
    return IngestKey.objects.get(project=project).key


def test_the_opentelemetry_sdk_exports_every_kind(ingest_server, project):
    exporter = OTLPMetricExporter(endpoint=f"{ingest_server}/v1/metrics",
                                  headers={"x-api-key": _key(project)})
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        resource=Resource.create({"service.name": "checkout", "host.name": "web-1"}),
        metric_readers=[reader],
        views=[View(instrument_name="payload.size",
                    aggregation=ExponentialBucketHistogramAggregation())])
    meter = provider.get_meter("shop")
    orders = meter.create_counter("orders")
    queue = meter.create_up_down_counter("queue.depth")
    temperature = meter.create_gauge("room.temperature")
    latency = meter.create_histogram("http.latency", unit="ms")
    size = meter.create_histogram("payload.size", unit="By")

    orders.add(3, {"region": "eu"})
    queue.add(5)
    queue.add(-2)
    temperature.set(21.5, {"room": "lab"})
    for value in range(1, 101):
        latency.record(value)
        size.record(value * 10)
    assert provider.force_flush()
    orders.add(2, {"region": "eu"})  # cumulative total 5: an increase of 2
    assert provider.force_flush()
    provider.shutdown()

    assert recent.total(project, "sum:orders{region:eu}") == 5.0
    series = MetricSeries.objects.get(project=project, name="orders")
    assert series.tags["service.name"] == "checkout" and series.tags["host.name"] == "web-1"
    assert recent.last(project, "last:queue.depth{}") == 3.0
    assert recent.last(project, "last:room.temperature{room:lab}") == 21.5
    assert recent.total(project, "sum:http.latency.count{}") == 100.0
    assert recent.total(project, "sum:http.latency.sum{}") == 5050.0
    assert min(recent.values(project, "min:http.latency.min{}")) == 1.0
    assert max(recent.values(project, "max:http.latency.max{}")) == 100.0
    # Default buckets ..., 25, 50, 75, 100, ...: the median lies in (25, 50].
    p50 = recent.last(project, "last:http.latency.p50{}")
    assert 45 <= p50 <= 55
    p99 = recent.last(project, "last:http.latency.p99{}")
    assert 75 < p99 <= 100
    size_p50 = recent.last(project, "last:payload.size.p50{}")
    assert abs(size_p50 - 500) / 500 < 0.05  # exponential buckets: within a few percent
    assert recent.total(project, "sum:payload.size.count{}") == 100.0


def test_json_bodies_and_partial_success(ingest, project):
    request = ExportMetricsServiceRequest()
    metric = request.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "disk.free"
    point = metric.gauge.data_points.add()
    point.as_double = 12.5
    bad = request.resource_metrics[0].scope_metrics[0].metrics.add()
    bad.name = "bad name with spaces"
    bad.gauge.data_points.add().as_int = 1
    response = ingest.post("/v1/metrics", content=json_format.MessageToJson(request),
                           headers={"Content-Type": "application/json",
                                    "Authorization": f"Bearer {_key(project)}"})
    assert response.status_code == 200
    answer = json_format.Parse(response.text, ExportMetricsServiceResponse())
    assert answer.partial_success.rejected_data_points == 1
    assert answer.partial_success.error_message.startswith("bad name with spaces: name:")
    assert recent.last(project, "last:disk.free{}") == 12.5


def test_bad_bodies_and_keys(ingest, project):
    refused = ingest.post("/v1/metrics", content=b"\x00\x01", headers={
        "Content-Type": "application/x-protobuf"})
    assert refused.status_code == 401
    junk = ingest.post("/v1/metrics", content=b"\xff\xff\xff", headers={
        "Content-Type": "application/x-protobuf", "X-API-Key": _key(project)})
    assert junk.status_code == 400 and junk.json()["code"] == "INVALID_BODY"


def test_quantiles_from_buckets():
    buckets = [(float("-inf"), 10.0, 0.0), (10.0, 20.0, 50.0), (20.0, 30.0, 50.0),
               (30.0, float("inf"), 0.0)]
    assert otlp.quantiles_from_buckets(buckets) == {
        0.5: 20.0, 0.75: 25.0, 0.9: 28.0, 0.95: 29.0, 0.99: 29.8}
    assert otlp.quantiles_from_buckets([(0.0, 1.0, 0.0)]) == {}


def test_delta_temporality_is_stored_as_sent(ingest_server, project):
    from opentelemetry.sdk.metrics import Counter, Histogram
    from opentelemetry.sdk.metrics.export import AggregationTemporality

    delta = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}
    exporter = OTLPMetricExporter(endpoint=f"{ingest_server}/v1/metrics",
                                  headers={"x-api-key": _key(project)},
                                  preferred_temporality=delta)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    meter = provider.get_meter("jobs")
    done = meter.create_counter("jobs.done")
    took = meter.create_histogram("jobs.seconds")
    done.add(3)
    took.record(2.0)
    assert provider.force_flush()
    done.add(4)
    took.record(4.0)
    assert provider.force_flush()
    provider.shutdown()
    assert recent.total(project, "sum:jobs.done{}") == 7
    assert recent.total(project, "sum:jobs.seconds.count{}") == 2
    assert recent.total(project, "sum:jobs.seconds.sum{}") == 6.0


def test_protobuf_points_exactly(ingest, project):
    """Times in exact microseconds (nanoseconds rounded half to even), a point's attribute over
    the resource's of the same key, keys outside the tag alphabet mended, a bad name refused
    alone and named, and no series for a cumulative counter's first report (its baseline)."""
    from datetime import UTC, datetime, timedelta

    from events.models import MetricPoint

    second = int(time.time()) - 60
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    resource.resource.attributes.add(key="host").value.string_value = "from-resource"
    resource.resource.attributes.add(key="service.name").value.string_value = "shop"
    metrics = resource.scope_metrics.add().metrics
    gauge = metrics.add(name="queue.depth").gauge
    for nanos, value, queue in ((second * 10**9 + 1_500, 1.0, "a"),
                                (second * 10**9 + 2_500, 2.0, "b"),
                                (second * 10**9 + 2_501, 3.0, "c")):
        point = gauge.data_points.add(time_unix_nano=nanos, as_int=int(value))
        point.attributes.add(key="host").value.string_value = "web-1"
        point.attributes.add(key="queue name").value.string_value = queue
    counter = metrics.add(name="jobs.done").sum
    counter.is_monotonic, counter.aggregation_temporality = True, 2  # cumulative
    counter.data_points.add(time_unix_nano=second * 10**9, as_int=7)
    broken = metrics.add(name="broken.total").sum
    broken.is_monotonic, broken.aggregation_temporality = True, 2
    broken.data_points.add(time_unix_nano=second * 10**9, as_double=float("nan"))
    metrics.add(name="9bad").gauge.data_points.add(as_double=1.0)
    response = ingest.post("/v1/metrics", content=request.SerializeToString(), headers={
        "Content-Type": "application/x-protobuf", "X-API-Key": _key(project)})
    assert response.status_code == 200
    answer = ExportMetricsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_data_points == 2
    assert answer.partial_success.error_message.startswith(
        "broken.total: a running total (count, sum or value) must be a finite number; "
        "9bad: name:")
    at = datetime.fromtimestamp(second, UTC)
    stored = sorted((s.tags["queue_name"], p["timestamp"], p["value"], s.tags["host"],
                     s.tags["service.name"])
                    for s in MetricSeries.objects.filter(project=project, name="queue.depth")
                    for p in MetricPoint.objects.filter(series_id=s.id).values("timestamp",
                                                                               "value"))
    us = timedelta(microseconds=1)
    assert stored == [("a", at + 2 * us, 1.0, "web-1", "shop"),
                      ("b", at + 2 * us, 2.0, "web-1", "shop"),
                      ("c", at + 3 * us, 3.0, "web-1", "shop")]
    assert not MetricSeries.objects.filter(project=project, name="jobs.done").exists()
