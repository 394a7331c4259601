"""OpenTelemetry metrics (OTLP/HTTP, protobuf or JSON) as the platform's metric points.

What each kind becomes (resource attributes and point attributes are the tags; dots in
attribute keys are kept, other characters outside the tag alphabet become ``_``):

- **Gauge** and **non-monotonic Sum** (an UpDownCounter): a point of the metric's name per data
  point, the value as is.
- **Monotonic Sum** (a Counter): the engine adds points (``sum:`` / ``rate:``), so each point is
  the increase since the previous report: DELTA temporality as sent; CUMULATIVE converted — the
  previous total of the series is subtracted (``counters``: a new start time or a smaller total
  is a reset); the first report of a cumulative series only sets the baseline unless its start
  time is within the last 10 minutes (a process that just started: all it counted is new).
- **Histogram** and **ExponentialHistogram**: ``name.count`` and ``name.sum`` (increases, as
  above), ``name.min`` / ``name.max`` when sent, and ``name.p50``, ``name.p75``, ``name.p90``,
  ``name.p95``, ``name.p99`` estimated from the interval's buckets (linear within a bucket).
- **Summary**: ``name.count``, ``name.sum`` and ``name.pNN`` for the quantiles it carries.

Each metric's description and unit (UCUM, as OTLP sends it: ``By`` becomes ``bytes``, ``1`` no
unit, ``{request}/s`` ``req/s``) describe the names it becomes, with a type: gauge (gauges and
up-down counters), counter (monotonic sums, and ``.count`` / ``.sum``), distribution (a
histogram's or summary's percentiles, min and max).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2

from ...pointbatch import NO_TIME, Columns, micros_of_ns

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99)
FRESH_START_NS = 10 * 60 * 10**9
TAG_CHARS = re.compile(r"[^A-Za-z0-9_.:/-]")


class OtlpError(ValueError):
    pass


def decode(body: bytes, content_type: str) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    try:
        if "json" in content_type:
            json_format.Parse(body.decode(), request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
        raise OtlpError(f"not an OTLP ExportMetricsServiceRequest: {str(exc)[:200]}") from None
    return request


def _value(any_value) -> str | None:
    kind = any_value.WhichOneof("value")
    if kind in ("string_value", "bool_value", "int_value", "double_value"):
        value = getattr(any_value, kind)
        return ("true" if value else "false") if kind == "bool_value" else str(value)
    return None  # arrays, maps and bytes make no tag


def quantiles_from_buckets(bounds: list[tuple[float, float, float]]) -> dict[float, float]:
    """``bounds``: (lower, upper, count) per bucket in order. Linear inside a bucket."""
    total = sum(c for _, _, c in bounds)
    if total <= 0:
        return {}
    found = {}
    for q in QUANTILES:
        rank, seen = q * total, 0.0
        for lower, upper, count in bounds:
            if count and seen + count >= rank:
                lower = upper if math.isinf(lower) else lower
                upper = lower if math.isinf(upper) else upper
                found[q] = lower + (upper - lower) * ((rank - seen) / count)
                break
            seen += count
    return found


@dataclass
class Decoded:
    """A request's points as ``Columns`` (numbered in the order they were read), the running
    totals that become points once their increases are known, and the metadata."""

    columns: Columns = field(default_factory=Columns)
    # cumulative series whose increase needs the previous report: (state key, start ns,
    # values, templates: per value a point's (label, µs) or a histogram bucket's
    # (group, lower, upper)) — resolved by ``settle``
    cumulative: list[tuple[str, int, list[float], list[tuple]]] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    # what the metadata says of each name: (description, unit, type), for the catalogue
    definitions: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    # a histogram data point whose quantiles come from its buckets' increases: (name, tags
    # read, µs) per group number
    groups: list[tuple[str, tuple, int]] = field(default_factory=list)
    # label numbers by (name, tags as read): each series of the request checked once
    codes: dict[tuple[str, tuple], int] = field(default_factory=dict)

    def label(self, name: str, tags: tuple) -> int:
        """The number of the series ``name`` with ``tags`` ((key, value) pairs as read, later
        ones winning) in ``columns``."""
        code = self.codes.get((name, tags))
        if code is None:
            code = self.codes[(name, tags)] = self.columns.raw_label(name, dict(tags))
        return code

    def add(self, code: int, value: float, micros: int) -> None:
        self.columns.append(code, value, micros)

    def add_quantiles(self, group: int, bounds: list[tuple[float, float, float]]) -> None:
        """The quantiles a histogram data point's bucket increases give (``bounds``)."""
        name, tags, micros = self.groups[group]
        for q, value in quantiles_from_buckets(bounds).items():
            self.add(self.label(f"{name}.p{round(q * 100)}", tags), value, micros)

    def entries(self) -> list[tuple[str, int, list[float], bool]]:
        """The running totals for ``events.ingest.cumulative``: (state key, start, totals,
        whether the series' process just started — then everything it counted is new)."""
        now_ns = time.time_ns()
        return [(f"otlp:{key}", start, values, bool(start) and now_ns - start < FRESH_START_NS)
                for key, start, values, _ in self.cumulative]

    def settle(self, increases: list[list[float] | None]) -> Columns:
        """The columns, with the points of the running totals' ``increases`` (per
        ``cumulative`` entry, None when it only set a baseline) and the quantiles estimated
        from histogram buckets."""
        buckets: dict[int, list[tuple[float, float, float]]] = {}
        for (_, _, _, templates), values in zip(self.cumulative, increases, strict=True):
            if values is None:
                continue
            for template, value in zip(templates, values, strict=True):
                if len(template) == 2:
                    self.add(template[0], value, template[1])
                else:
                    group, lower, upper = template
                    buckets.setdefault(group, []).append((lower, upper, value))
        for group, bounds in buckets.items():
            self.add_quantiles(group, bounds)
        return self.columns


UCUM_UNITS = {"1": "", "%": "%", "ns": "ns", "us": "us", "ms": "ms", "s": "s", "min": "min",
              "h": "h", "d": "d", "By": "bytes", "KiBy": "KiB", "MiBy": "MiB", "GiBy": "GiB",
              "TiBy": "TiB", "kBy": "KB", "MBy": "MB", "GBy": "GB", "bit": "bits",
              "bit/s": "bits/s", "By/s": "bytes/s", "KiBy/s": "KiB/s", "MiBy/s": "MiB/s",
              "Cel": "°C", "Hz": "Hz", "W": "W", "V": "V", "A": "A",
              "{request}/s": "req/s", "{requests}/s": "req/s"}


def unit_of(ucum: str) -> str:
    """OTLP's unit (UCUM) as the catalogue's: the known ones translated, an annotation
    (``{packets}``) as its word, anything else as sent (up to 32 characters)."""
    ucum = ucum.strip()
    if ucum in UCUM_UNITS:
        return UCUM_UNITS[ucum]
    if ucum.startswith("{") and ucum.endswith("}"):
        return ucum[1:-1][:32]
    return ucum[:32]


def _describe(out: Decoded, metric, kind: str | None) -> None:
    """Once per metric (not per point): the names it becomes, described."""
    name, text, unit = metric.name, metric.description, unit_of(metric.unit)
    if kind == "gauge" or (kind == "sum" and not metric.sum.is_monotonic):
        out.definitions[name] = (text, unit, "gauge")
    elif kind == "sum":
        out.definitions[name] = (text, unit, "counter")
    elif kind in ("histogram", "exponential_histogram", "summary"):
        out.definitions[f"{name}.count"] = (text, "count", "counter")
        out.definitions[f"{name}.sum"] = (text, unit, "counter")
        if kind == "summary":  # the quantiles it carries (its first point's)
            points = metric.summary.data_points
            stats = [f"p{round(v.quantile * 100):d}" if v.quantile < 1 else "max"
                     for v in (points[0].quantile_values if points else ())]
        else:
            stats = [*(f"p{round(q * 100)}" for q in QUANTILES), "min", "max"]
        for stat in stats:
            out.definitions[f"{name}.{stat}"] = (text, unit, "distribution")


def _series_key(name: str, tags: tuple) -> str:
    return name + "|" + orjson.dumps(dict(tags), option=orjson.OPT_SORT_KEYS).decode()


def _explicit_buckets(dp) -> list[tuple[float, float, float]]:
    bounds = list(dp.explicit_bounds)
    if len(dp.bucket_counts) > len(bounds) + 1:
        raise ValueError(f"{len(dp.bucket_counts)} bucket counts for {len(bounds)} bounds "
                         "(at most one more count than bounds)")
    edges = [-math.inf, *bounds, math.inf]
    return [(edges[i], edges[i + 1], float(c)) for i, c in enumerate(dp.bucket_counts)]


def _exponential_buckets(dp) -> list[tuple[float, float, float]]:
    base = 2.0 ** (2.0 ** -dp.scale)  # floats: a scale or offset out of range overflows
    buckets = []
    for i, count in reversed(list(enumerate(dp.negative.bucket_counts))):
        index = dp.negative.offset + i
        buckets.append((-(base ** (index + 1)), -(base ** index), float(count)))
    if dp.zero_count:
        buckets.append((-dp.zero_threshold, dp.zero_threshold, float(dp.zero_count)))
    for i, count in enumerate(dp.positive.bucket_counts):
        index = dp.positive.offset + i
        buckets.append((base ** index, base ** (index + 1), float(count)))
    return buckets


class _Reader:
    """What repeats across the data points of a request, read once: tag keys as the tag
    alphabet allows them, a data point's time in µs."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.last_ns, self.last_micros = 0, NO_TIME

    def tags(self, attributes, tags: tuple = ()) -> tuple:
        """``tags`` followed by the attributes' (key, value) pairs (a value of another kind
        than text, bool or number makes no tag)."""
        pairs = list(tags)
        for kv in attributes:
            value = kv.value.string_value or _value(kv.value)
            if value:
                key = self.keys.get(kv.key)
                if key is None:
                    key = self.keys[kv.key] = _tag_key(kv.key)
                pairs.append((key, value[:200]))
        return tuple(pairs)

    def micros(self, time_ns: int) -> int:
        if time_ns != self.last_ns:
            self.last_ns = time_ns
            self.last_micros = micros_of_ns(time_ns) if time_ns else NO_TIME
        return self.last_micros


def _tag_key(key: str) -> str:
    key = TAG_CHARS.sub("_", key)
    if not key[:1].isalpha() and not key.startswith("_"):
        key = f"_{key}"
    return key[:100]


def flatten(request: ExportMetricsServiceRequest) -> Decoded:
    out, reader = Decoded(), _Reader()
    for resource_metrics in request.resource_metrics:
        resource_tags = reader.tags(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                try:
                    _flatten_metric(out, reader, metric, kind, resource_tags)
                    _describe(out, metric, kind)
                except (ValueError, OverflowError) as exc:
                    out.rejected += 1
                    out.errors.append(f"{metric.name}: {exc}")
    return out


def _increases(out: Decoded, temporality: int, name: str, tags: tuple, start_ns: int,
               values: list[float], templates: list[tuple]) -> None:
    """``values`` are counts (per the templates' order) of one data point."""
    if temporality == DELTA:
        _settle_now(out, values, templates)
    elif all(value - value == 0.0 for value in values):  # finite (inf - inf and nan are nan)
        out.cumulative.append((_series_key(name, tags), start_ns, values, templates))
    else:  # a running total that is not a number sets nothing: refused, and said so
        out.rejected += 1
        out.errors.append(f"{name}: a running total (count, sum or value) must be a finite "
                          "number")


def _settle_now(out: Decoded, values: list[float], templates: list[tuple]) -> None:
    bounds = []
    for template, value in zip(templates, values, strict=True):
        if len(template) == 2:
            out.add(template[0], value, template[1])
        else:
            bounds.append((template[1], template[2], value))
    if bounds:
        out.add_quantiles(templates[-1][0], bounds)


def _flatten_metric(out: Decoded, reader: _Reader, metric, kind: str | None,
                    resource_tags: tuple) -> None:
    name = metric.name
    if kind in ("gauge", "sum"):
        data = getattr(metric, kind)
        monotonic = kind == "sum" and data.is_monotonic
        for dp in data.data_points:
            value = dp.as_double
            if not value and dp.WhichOneof("value") == "as_int":
                value = float(dp.as_int)
            tags = reader.tags(dp.attributes, resource_tags)
            code = out.label(name, tags)
            micros = reader.micros(dp.time_unix_nano)
            if monotonic:
                _increases(out, data.aggregation_temporality, name, tags,
                           dp.start_time_unix_nano, [value], [(code, micros)])
            else:
                out.add(code, value, micros)
    elif kind in ("histogram", "exponential_histogram"):
        data = getattr(metric, kind)
        for dp in data.data_points:
            tags = reader.tags(dp.attributes, resource_tags)
            buckets = _explicit_buckets(dp) if kind == "histogram" else _exponential_buckets(dp)
            micros = reader.micros(dp.time_unix_nano)
            for extreme in ("min", "max"):
                if dp.HasField(extreme):
                    out.add(out.label(f"{name}.{extreme}", tags), getattr(dp, extreme), micros)
            # count, sum, then one template per bucket (its quantiles come from the buckets'
            # increases)
            group = len(out.groups)
            out.groups.append((name, tags, micros))
            templates = [(out.label(f"{name}.count", tags), micros),
                         (out.label(f"{name}.sum", tags), micros),
                         *((group, lower, upper) for lower, upper, _ in buckets)]
            values = [float(dp.count), dp.sum if dp.HasField("sum") else 0.0,
                      *(count for _, _, count in buckets)]
            _increases(out, data.aggregation_temporality, name, tags, dp.start_time_unix_nano,
                       values, templates)
    elif kind == "summary":
        for dp in metric.summary.data_points:
            tags = reader.tags(dp.attributes, resource_tags)
            micros = reader.micros(dp.time_unix_nano)
            for quantile in dp.quantile_values:
                label = f"p{round(quantile.quantile * 100):d}" if quantile.quantile < 1 \
                    else "max"
                out.add(out.label(f"{name}.{label}", tags), quantile.value, micros)
            # Summaries are cumulative by definition.
            _increases(out, CUMULATIVE, name, tags, dp.start_time_unix_nano,
                       [float(dp.count), dp.sum],
                       [(out.label(f"{name}.count", tags), micros),
                        (out.label(f"{name}.sum", tags), micros)])
    elif kind is not None:
        raise ValueError(f"unsupported metric kind {kind}")
