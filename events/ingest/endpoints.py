"""The HTTP ingestion endpoints, on the shared skeleton of ``events.ingest.http``: the platform's
own API and the receivers of other protocols, at the paths their clients use.

- Own API: ``POST /api/v1/events/batch`` and ``POST /api/v1/metrics`` (``X-API-Key`` or
  ``api_key`` in the body).
- InfluxDB line protocol: ``POST /write`` (v1) and ``POST /api/v2/write`` (v2); the key is the
  token (``Authorization: Token``), or ``?p=`` / Basic auth's password (v1), or ``X-API-Key``;
  ``org``, ``bucket`` and ``db`` are ignored: the key says which project the points belong to.
- PostHog: ``/batch/``, ``/capture/``, ``/e/``, ``/i/v0/e/``; the key is the project API key the
  SDK sends (``api_key`` / ``token``).
- Segment: ``/v1/batch``, ``/v1/track``, ``/v1/identify``, ``/v1/page``, ``/v1/screen``,
  ``/v1/alias``, ``/v1/group``; the key is the write key (Basic auth's user name, or
  ``writeKey``).
- OpenTelemetry: ``POST /v1/metrics``, OTLP/HTTP protobuf or JSON.
- Prometheus remote write: ``POST /api/v1/prom/write``.
- Plausible: ``POST /api/event``; no key in the body: the site's domain finds it.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs

import orjson
from django.conf import settings
from django.http import HttpResponse

from analytics_site.errors import ApiError

from .. import catalog, selectors, services
from . import cumulative, intake
from .http import Call, Endpoint, Outcome, cors_headers, json_answer
from .receivers import influx, product


class OwnApi(Endpoint):
    """The platform's own batches: ``{"events": [...]}`` or ``{"points": [...]}``."""

    browsers = True
    message = False

    def __init__(self, kind: str):
        self.kind = kind
        self.unit = "events" if kind == "events" else "points"

    async def receive(self, call: Call) -> Outcome:
        payload = intake.parse_json(call.body())
        key = await call.authorize(call.request.headers.get("X-API-Key")
                                   or payload.get("api_key"))
        return Outcome(await intake.ingest(key=key, kind=self.kind, payload=payload,
                                           client=call.client()))

    def answer(self, call: Call, outcome: Outcome) -> HttpResponse:
        return json_answer(outcome.result.as_dict(), 202, call.cors)


# -- InfluxDB -------------------------------------------------------------------------------------
class InfluxWrite(Endpoint):
    source = "influx"

    async def receive(self, call: Call) -> Outcome:
        precision = call.request.GET.get("precision") or "ns"
        key = await call.authorize(call.header_key())
        try:
            text = call.body().decode()
        except UnicodeDecodeError:
            raise ApiError("Body is not UTF-8 text.", code="INVALID_BODY") from None
        try:
            parsed = influx.parse(text, precision)
        except influx.LineError as exc:
            raise ApiError(str(exc), code="VALIDATION_ERROR",
                           details={"precision": [str(exc)]}) from None
        intake.check_receiver_batch(parsed.columns)
        result = await intake.ingest_columns(key=key, columns=parsed.columns) \
            if len(parsed.columns) else None
        return Outcome(result, rejected=len(parsed.errors),
                       error=parsed.errors[-1][1] if parsed.errors else "",
                       context={"parsed": parsed})

    def answer(self, call: Call, outcome: Outcome) -> HttpResponse:
        parsed, result = outcome.context["parsed"], outcome.result
        problems = [{"line": line, "code": "INVALID_LINE", "message": message}
                    for line, message in parsed.errors]
        problems += [{"line": parsed.lines[r.index], "code": r.code, "message": r.message}
                     for r in (result.rejected if result else [])]
        if not problems:
            return HttpResponse(status=204)
        problems.sort(key=lambda p: p["line"])
        first = problems[0]
        accepted = result.accepted if result else 0
        return self.error(f"partial write: line {first['line']}: {first['message']} "
                          f"({len(problems)} rejected, {accepted} points kept)", "PARTIAL_WRITE",
                          400, {"accepted": accepted, "rejected": problems[:100]})


# -- product analytics SDKs -----------------------------------------------------------------------
class ProductEvents(Endpoint):
    """Events from a product-analytics SDK: ``decode`` gives (items, key, sent_at)."""

    browsers = True
    unit = "events"
    ok_body: dict = {}

    def decode(self, call: Call, body: bytes) -> tuple[list, str | None, str | None]:
        raise NotImplementedError

    async def receive(self, call: Call) -> Outcome:
        try:
            items, raw_key, sent_at = self.decode(call, call.body())
        except product.PayloadError as exc:
            raise ApiError(str(exc), code="VALIDATION_ERROR") from None
        key = await call.authorize(raw_key or call.request.headers.get("X-API-Key"))
        if len(items) > settings.INGEST_MAX_BATCH:
            raise ApiError(f"At most {settings.INGEST_MAX_BATCH} events per request; got "
                           f"{len(items)}.", code="BATCH_TOO_LARGE",
                           details={"max_items": settings.INGEST_MAX_BATCH})
        payload = {"events": items, **({"sent_at": sent_at} if sent_at else {})}
        result = await intake.ingest(key=key, kind="events", payload=payload,
                                     client=call.client())
        return Outcome(result, context={"items": items})

    def answer(self, call: Call, outcome: Outcome) -> HttpResponse:
        result = outcome.result
        if outcome.context["items"] and not result.accepted:
            first = result.rejected[0]
            return self.error(f"No event was accepted: item {first.index}: {first.message}",
                              "VALIDATION_ERROR", 400,
                              {"rejected": [r.as_dict() for r in result.rejected[:100]]},
                              call.cors)
        return json_answer({**self.ok_body, **result.as_dict()}, 200, call.cors)


class PostHogCapture(ProductEvents):
    source = "posthog"
    ok_body = {"status": 1}

    def decode(self, call: Call, body: bytes):
        return product.posthog_events(posthog_body(call.request, body))


def posthog_body(request, body: bytes):
    """PostHog's SDKs send JSON, gzip (``?compression=gzip-js`` or Content-Encoding), or base64
    JSON (raw, or in a ``data`` form field)."""
    compression = request.GET.get("compression", "")
    if compression == "gzip-js":
        body = intake.inflate(body, settings.INGEST_MAX_BODY_BYTES)
    elif compression and compression != "base64":
        raise ApiError(f"compression={compression[:20]} is not supported: send JSON, gzip-js "
                       "or base64.", code="UNSUPPORTED_MEDIA_TYPE", status=415)
    text = body.strip()
    if text.startswith(b"data="):
        text = parse_qs(text.decode("latin-1")).get("data", [""])[0].encode()
    if text[:1] not in (b"{", b"["):
        try:
            text = base64.b64decode(text + b"=" * (-len(text) % 4), validate=False)
        except (binascii.Error, ValueError):
            raise ApiError("Body is neither JSON nor base64 JSON.", code="INVALID_BODY") from None
    try:
        return orjson.loads(text)
    except ValueError as exc:
        raise ApiError(f"Body is not valid JSON: {exc}.", code="INVALID_JSON") from None


class SegmentEndpoint(ProductEvents):
    source = "segment"
    ok_body = {"success": True}

    def __init__(self, kind: str | None):
        self.kind = kind  # None: /v1/batch

    def decode(self, call: Call, body: bytes):
        payload = intake.parse_json(body)
        items, key, sent_at = product.segment_events(payload, self.kind)
        return items, segment_key(call, payload) or key, sent_at


def segment_key(call: Call, payload) -> str | None:
    """Segment's write key: Basic auth's user name, or ``writeKey`` in the body."""
    scheme, credentials = intake.parse_authorization(call.request.headers.get("Authorization"))
    if scheme == "basic" and credentials:
        return credentials.partition(":")[0] or None
    return payload.get("writeKey") if isinstance(payload, dict) else None


# -- OpenTelemetry --------------------------------------------------------------------------------
class OtlpMetrics(Endpoint):
    """OTLP/HTTP, protobuf (``application/x-protobuf``) or JSON; the key in ``X-API-Key`` or
    ``Authorization: Bearer`` (the exporter's headers)."""

    source = "otlp"

    async def receive(self, call: Call) -> Outcome:
        from .receivers import otlp  # protobuf decoders: ~0.1 s to import, only when used

        content_type = call.request.headers.get("Content-Type", "application/x-protobuf").lower()
        key = await call.authorize(call.header_key())
        try:
            decoded = otlp.flatten(otlp.decode(call.body(), content_type))
        except otlp.OtlpError as exc:
            raise ApiError(str(exc), code="INVALID_BODY") from None
        columns = await cumulative.settle(decoded, key.project_id)
        intake.check_receiver_batch(columns)
        result = await intake.ingest_columns(key=key, columns=columns) if len(columns) else None
        await catalog.describe(project_id=key.project_id, source="otlp",
                               definitions=decoded.definitions)
        return Outcome(result, rejected=decoded.rejected,
                       error=decoded.errors[-1] if decoded.errors else "",
                       context={"decoded": decoded, "json": "json" in content_type})

    def answer(self, call: Call, outcome: Outcome) -> HttpResponse:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceResponse,
        )

        decoded, result = outcome.context["decoded"], outcome.result
        problems = list(decoded.errors)
        problems += [f"{decoded.columns.name_at(r.index)}: {r.message}" for r in
                     (result.rejected if result else [])]
        rejected = decoded.rejected + (len(result.rejected) if result else 0)
        answer = ExportMetricsServiceResponse()
        if rejected:
            answer.partial_success.rejected_data_points = rejected
            answer.partial_success.error_message = "; ".join(problems[:20])[:1000]
        if outcome.context["json"]:
            from google.protobuf import json_format

            return HttpResponse(json_format.MessageToJson(answer), status=200,
                                content_type="application/json")
        return HttpResponse(answer.SerializeToString(), status=200,
                            content_type="application/x-protobuf")


# -- Prometheus remote write ----------------------------------------------------------------------
class PrometheusRemoteWrite(Endpoint):
    """A snappy-compressed protobuf ``WriteRequest`` (Prometheus' ``remote_write`` with
    ``authorization: {credentials: pk_…}`` or basic auth's password)."""

    source = "prom_remote_write"

    async def receive(self, call: Call) -> Outcome:
        from .receivers import prometheus  # loaded when first used (~0.1 s)

        key = await call.authorize(call.header_key())
        try:
            collected = prometheus.collect_remote_write(
                prometheus.decode_remote_write(call.body()))
        except prometheus.PrometheusError as exc:
            raise ApiError(str(exc), code="INVALID_BODY") from None
        columns = await cumulative.settle(collected, key.project_id)
        intake.check_receiver_batch(columns)
        result = await intake.ingest_columns(key=key, columns=columns) if len(columns) else None
        return Outcome(result, context={"columns": columns})

    def answer(self, call: Call, outcome: Outcome) -> HttpResponse:
        result, columns = outcome.result, outcome.context["columns"]
        if result and result.rejected:
            first = result.rejected[0]
            return self.error(f"{len(result.rejected)} samples rejected, e.g. "
                              f"{columns.name_at(first.index)}: {first.message}", "PARTIAL_WRITE",
                              400, {"accepted": result.accepted,
                                    "rejected": [r.as_dict() for r in result.rejected[:100]]})
        return HttpResponse(status=204)


# -- Plausible ------------------------------------------------------------------------------------
class PlausibleEvent(Endpoint):
    """Plausible's events API. No key in the body: the site's ``domain`` finds the ingest key
    whose allowed origins include ``https://<domain>`` (or ``http://``); ``X-API-Key`` works
    too. Visitors are counted without cookies, like Plausible: a daily salted hash of the
    domain, IP and user agent."""

    source = "plausible"
    unit = "events"
    browsers = True

    async def receive(self, call: Call) -> Outcome:
        call.cors = cors_headers(call.origin)  # the script posts from the site, key or not
        client = call.client()
        payload = intake.parse_json(call.body())
        try:
            domain = product.plausible_event(payload, "")[1]
            raw_key = call.request.headers.get("X-API-Key")
            if raw_key:
                key = await call.authorize(raw_key)
            else:
                key = await selectors.ingest_key_for_site(domain)
                if key is not None:
                    await services.note_key_used(key.id)
                    call.key = key
            if key is None:
                raise ApiError(f"No ingest key allows the site {domain[:100]!r}: add "
                               f"https://{domain[:100]} to a key's allowed origins, or send "
                               "X-API-Key.", code="UNAUTHORIZED", status=401)
            visitor = await services.anonymous_visitor_id(scope=domain, ip=client.ip,
                                                          user_agent=client.user_agent)
            item, _ = product.plausible_event(payload, visitor)
        except product.PayloadError as exc:
            raise ApiError(str(exc), code="VALIDATION_ERROR") from None
        result = await intake.ingest(key=key, kind="events", payload={"events": [item]},
                                     client=client)
        return Outcome(result)

    def answer(self, call: Call, outcome: Outcome) -> HttpResponse:
        if outcome.result.rejected:
            first = outcome.result.rejected[0]
            return self.error(first.message, first.code, 400, headers=call.cors)
        return HttpResponse("ok", status=202, content_type="text/plain", headers=call.cors)


events_batch = OwnApi("events").view()
metrics = OwnApi("metrics").view()
write_v1 = InfluxWrite().view()
write_v2 = InfluxWrite().view()
posthog_capture = PostHogCapture().view()
otlp_metrics = OtlpMetrics().view()
prometheus_remote_write = PrometheusRemoteWrite().view()
plausible_event = PlausibleEvent().view()


def segment_endpoint(kind: str | None):
    return SegmentEndpoint(kind).view()
