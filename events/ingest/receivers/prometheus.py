"""Prometheus: the text exposition format (what a scrape returns) and remote write (snappy
protobuf ``WriteRequest``), as the platform's metric points.

Labels are tags (``__name__`` is the metric name). Gauges and untyped samples are stored as
they are. Counters (``*_total``, counter families), histogram ``_count`` / ``_sum`` / ``_bucket``
and summary ``_count`` / ``_sum`` are running totals: stored as increases since the previous
report of the series (``counters``). A histogram's bucket increases also give ``name.p50`` …
``name.p99`` (linear inside a bucket); a summary's quantiles are stored as ``name.p50`` … (and
``name.max`` for quantile 1).

``# HELP`` and ``# TYPE`` (and OpenMetrics' ``# UNIT``, else the unit a name's suffix states:
``_seconds``, ``_bytes`` …) describe the names each family becomes, once per family: counters
(``name_total``, ``_count``, ``_sum``) as counters, gauges as gauges, a histogram's or summary's
percentiles as distributions. Remote write's metadata is not decoded.
"""

from __future__ import annotations

import math

import cramjam
import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from prometheus_client.parser import text_string_to_metric_families

from ...pointbatch import NO_TIME, Columns, sent_micros
from .otlp import QUANTILES, quantiles_from_buckets

CUMULATIVE_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
# The base units Prometheus' naming conventions put at the end of a name.
SUFFIX_UNITS = (("_seconds", "s"), ("_milliseconds", "ms"), ("_microseconds", "us"),
                ("_nanoseconds", "ns"), ("_bytes", "bytes"), ("_bits", "bits"),
                ("_percent", "%"), ("_celsius", "°C"), ("_hertz", "Hz"), ("_volts", "V"),
                ("_amperes", "A"), ("_watts", "W"))


class PrometheusError(ValueError):
    pass


# -- remote write: the message definitions of prometheus/prompb (types.proto, remote.proto) -----
def _messages():
    proto = descriptor_pb2.FileDescriptorProto(name="prompb_minimal.proto", package="prometheus",
                                               syntax="proto3")
    field = descriptor_pb2.FieldDescriptorProto

    def message(name, *fields):
        msg = proto.message_type.add(name=name)
        for number, (field_name, kind, label, type_name) in enumerate(fields, start=1):
            if field_name is None:
                continue
            added = msg.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                added.type_name = type_name

    optional, repeated = field.LABEL_OPTIONAL, field.LABEL_REPEATED
    message("Label", ("name", field.TYPE_STRING, optional, None),
            ("value", field.TYPE_STRING, optional, None))
    message("Sample", ("value", field.TYPE_DOUBLE, optional, None),
            ("timestamp", field.TYPE_INT64, optional, None))
    message("TimeSeries", ("labels", field.TYPE_MESSAGE, repeated, ".prometheus.Label"),
            ("samples", field.TYPE_MESSAGE, repeated, ".prometheus.Sample"))
    # WriteRequest: timeseries = 1, (2 reserved), metadata = 3 (not used here: skipped on parse)
    message("WriteRequest", ("timeseries", field.TYPE_MESSAGE, repeated, ".prometheus.TimeSeries"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(
        f"prometheus.{name}")) for name in ("Label", "Sample", "TimeSeries", "WriteRequest")}


MESSAGES = _messages()
WriteRequest = MESSAGES["WriteRequest"]


def decode_remote_write(body: bytes):
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:
        raise PrometheusError(f"body is not snappy-compressed: {str(exc)[:100]}") from None
    request = WriteRequest()
    try:
        request.ParseFromString(raw)
    except Exception as exc:
        raise PrometheusError(f"not a remote-write WriteRequest: {str(exc)[:100]}") from None
    return request


def _is_cumulative(name: str, family_type: str | None = None) -> bool:
    if family_type in ("counter",):
        return not name.endswith("_created")
    if family_type in ("histogram", "summary"):
        return name.endswith(("_count", "_sum", "_bucket"))
    return name.endswith(CUMULATIVE_SUFFIXES)


def series_key(name: str, tags: dict) -> str:
    return name + "|" + orjson.dumps(tags, option=orjson.OPT_SORT_KEYS).decode()


class Collected:
    """Points stored as they are, and running totals waiting for their increases."""

    def __init__(self):
        self.points: list[dict] = []
        self.totals: list[tuple[str, dict, float, float | None]] = []  # name, tags, value, ts
        self.samples = 0
        # what the metadata says of each name: (description, unit, type), for the catalogue
        self.definitions: dict[str, tuple[str, str, str]] = {}

    def add(self, name: str, tags: dict, value: float, timestamp: float | None,
            cumulative: bool) -> None:
        self.samples += 1
        if not math.isfinite(value):
            return
        if cumulative:
            self.totals.append((name, tags, value, timestamp))
        else:
            point = {"name": name, "value": value, "tags": tags}
            if timestamp is not None:
                point["timestamp"] = timestamp
            self.points.append(point)

    def entries(self) -> list[tuple[str, int, list[float], bool]]:
        return [(f"prom:{series_key(n, t)}", 0, [v], False) for n, t, v, _ in self.totals]

    def settle(self, increases: list[list[float] | None]) -> list[dict]:
        """The points, with the running totals' increases and bucket quantiles."""
        points = list(self.points)
        buckets: dict[tuple, list] = {}
        for (name, tags, _, timestamp), increase in zip(self.totals, increases, strict=True):
            if increase is None:
                continue
            if name.endswith("_bucket") and "le" in tags:
                rest = {k: v for k, v in tags.items() if k != "le"}
                key = (name[:-7], orjson.dumps(rest, option=orjson.OPT_SORT_KEYS), timestamp)
                buckets.setdefault(key, []).append((float(tags["le"]), increase[0]))
                continue
            point = {"name": name, "value": increase[0], "tags": tags}
            if timestamp is not None:
                point["timestamp"] = timestamp
            points.append(point)
        for (base, raw_tags, timestamp), cumulative in buckets.items():
            for q, value in _bucket_quantiles(cumulative).items():
                point = {"name": f"{base}.p{round(q * 100)}", "value": value,
                         "tags": orjson.loads(raw_tags)}
                if timestamp is not None:
                    point["timestamp"] = timestamp
                points.append(point)
        return points


def unit_of(family) -> str:
    if family.unit:
        return family.unit[:32]
    base = family.name.removesuffix("_total")
    return next((unit for suffix, unit in SUFFIX_UNITS if base.endswith(suffix)), "")


def _describe(out: Collected, family) -> None:
    name, text, unit = family.name, family.documentation, unit_of(family)
    if family.type == "counter":
        out.definitions[f"{name}_total"] = (text, unit, "counter")
    elif family.type == "gauge":
        out.definitions[name] = (text, unit, "gauge")
    elif family.type in ("histogram", "summary"):
        out.definitions[f"{name}_count"] = (text, "count", "counter")
        out.definitions[f"{name}_sum"] = (text, unit, "counter")
        if family.type == "histogram":
            for q in QUANTILES:
                out.definitions[f"{name}.p{round(q * 100)}"] = (text, unit, "distribution")
    elif text or unit:
        out.definitions[name] = (text, unit, "")


def collect_exposition(text: str, extra_tags: dict) -> Collected:
    out = Collected()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as exc:  # the parser raises ValueError and friends
        raise PrometheusError(f"not the Prometheus text format: {str(exc)[:200]}") from None
    for family in families:
        if family.samples:
            _describe(out, family)
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            tags = {**extra_tags, **sample.labels}
            if family.type == "summary" and "quantile" in sample.labels:
                quantile = float(tags.pop("quantile"))
                label = "max" if quantile >= 1 else f"p{round(quantile * 100)}"
                if f"{family.name}.{label}" not in out.definitions:  # once per quantile
                    out.definitions[f"{family.name}.{label}"] = (
                        family.documentation, unit_of(family), "distribution")
                out.add(f"{family.name}.{label}", tags, float(sample.value), sample.timestamp,
                        False)
                continue
            out.add(sample.name, tags, float(sample.value),
                    float(sample.timestamp) if sample.timestamp is not None else None,
                    _is_cumulative(sample.name, family.type))
    return out


class RemoteWrite:
    """A remote-write request's samples as ``Columns`` (numbered in the order they were read),
    and its running totals waiting for their increases. Each series is read once: its labels,
    whether it is a running total, and for a histogram bucket its family and bound."""

    def __init__(self):
        self.columns = Columns()
        self.codes: dict[tuple, int] = {}  # label numbers by the labels as sent
        # per label number: (state key, bucket: (base name, other labels, bound) or None),
        # or None for a series stored as it is
        self.totalled: list[tuple[str, tuple | None] | None] = []
        self.totals: list[tuple[int, float, int]] = []  # label number, total, µs

    def label(self, labels: tuple) -> int:
        """The number of the series with these (name, value) label pairs."""
        code = self.codes.get(labels)
        if code is None:
            tags = dict(labels)
            name = tags.pop("__name__", "")
            code = self.codes[labels] = self.columns.raw_label(name, tags)
            self.totalled.append(_totalled(name, tags) if _is_cumulative(name) else None)
        return code

    def entries(self) -> list[tuple[str, int, list[float], bool]]:
        return [(self.totalled[code][0], 0, [value], False) for code, value, _ in self.totals]

    def settle(self, increases: list[list[float] | None]) -> Columns:
        """The columns, with the running totals' increases and bucket quantiles."""
        buckets: dict[tuple, list] = {}
        for (code, _, micros), increase in zip(self.totals, increases, strict=True):
            if increase is None:
                continue
            bucket = self.totalled[code][1]
            if bucket is None:
                self.columns.append(code, increase[0], micros)
            else:
                base, rest, bound = bucket
                buckets.setdefault((base, rest, micros), []).append((bound, increase[0]))
        for (base, rest, micros), cumulative in buckets.items():
            for q, value in _bucket_quantiles(cumulative).items():
                code = self.label((("__name__", f"{base}.p{round(q * 100)}"), *rest))
                self.columns.append(code, value, micros)
        return self.columns


def _totalled(name: str, tags: dict) -> tuple[str, tuple | None]:
    bucket = None
    if name.endswith("_bucket") and "le" in tags:
        try:
            bound = float(tags["le"])
        except ValueError:  # not a bound: stored as the running total it is
            bound = None
        if bound is not None:
            # the family's other labels, sorted: one group whatever order they were sent in
            bucket = (name[:-7], tuple(sorted((k, v) for k, v in tags.items() if k != "le")),
                      bound)
    return f"prom:{series_key(name, tags)}", bucket


def _bucket_quantiles(cumulative: list[tuple[float, float]]) -> dict[float, float]:
    """Quantiles from the increases of a histogram's cumulative buckets ((bound, count))."""
    cumulative.sort()
    per_bucket, lower, seen = [], 0.0, 0.0
    for upper, count in cumulative:
        per_bucket.append((lower, upper, max(0.0, count - seen)))
        lower, seen = upper, count
    return quantiles_from_buckets(per_bucket)


def collect_remote_write(request) -> RemoteWrite:
    out = RemoteWrite()
    for series in request.timeseries:
        code = out.label(tuple((label.name, label.value) for label in series.labels))
        totalled = out.totalled[code] is not None
        for sample in series.samples:
            value = sample.value
            if value - value != 0.0:  # NaN (Prometheus' stale marker) or ±inf: no point
                continue
            micros = sent_micros(sample.timestamp * 1000) if sample.timestamp else NO_TIME
            if totalled:
                out.totals.append((code, value, micros))
            else:
                out.columns.append(code, value, micros)
    return out
