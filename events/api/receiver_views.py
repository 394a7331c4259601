"""Endpoints of the compatible receivers, at the paths their clients use: InfluxDB's
``POST /write`` (v1) and ``POST /api/v2/write`` (v2); PostHog's ``/batch/``, ``/capture/``,
``/e/``, ``/i/v0/e/``; Segment's ``/v1/batch``, ``/v1/track``, ``/v1/identify``, ``/v1/page``,
``/v1/screen``, ``/v1/alias``, ``/v1/group``. Async views like the own ingestion endpoints: they
own the HTTP part (body limit, gzip / base64, where the key comes from, the answers the
protocol's clients expect) and hand the decoded items to ``events.intake``.

Influx: the ingest key is the token (``Authorization: Token <key>``, v2 clients), or ``?p=`` /
Basic auth's password (v1 clients), or ``X-API-Key``; ``org``, ``bucket`` and ``db`` are
ignored: the key says which project the points belong to. PostHog: the key is the project API
key the SDK sends (``api_key`` / ``token``). Segment: the key is the write key (Basic auth's
user name, or ``writeKey``)."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from analytics_site.errors import ApiError, error_body

from .. import intake, selectors, services, sources
from ..ratelimit import client as redis_client
from ..receivers import influx, product
from .views import _client_ip, _cors_headers, _preflight, _read_body


def _answer(message: str, code: str, status: int, details: dict | None = None,
            headers: dict | None = None) -> JsonResponse:
    # Our error shape, plus "message", which InfluxDB clients show.
    body = {**error_body(message, code, details or {}), "message": message}
    return JsonResponse(body, status=status, headers=headers or {})


async def _note(key, kind: str, result, *, rejected: int = 0, error: str = "",
                unit: str = "points") -> None:
    """Count the request for the Sources page."""

    if key is None:
        return
    accepted = result.accepted if result else 0
    rejected += len(result.rejected) if result else 0
    if not error and result and result.rejected:
        error = result.rejected[-1].message
    await sources.note(redis_client(), key.project_id, kind, accepted=accepted,
                       rejected=rejected, error=error, unit=unit)


def _key_of(request) -> str | None:
    """Token / Bearer, Basic auth's password, ``?p=`` (Influx v1) or ``X-API-Key``."""
    return intake.header_key(x_api_key=request.headers.get("X-API-Key"),
                             authorization=request.headers.get("Authorization"),
                             query=request.GET)


async def _write(request, default_precision: str):
    if request.method != "POST":
        return _answer("Use POST.", "METHOD_NOT_ALLOWED", 405, headers={"Allow": "POST"})
    precision = request.GET.get("precision") or default_precision
    try:
        key = await intake.authorize(_key_of(request), None)
        try:
            text = _read_body(request).decode()
        except UnicodeDecodeError:
            raise ApiError("Body is not UTF-8 text.", code="INVALID_BODY") from None
        try:
            parsed = influx.parse(text, precision)
        except influx.LineError as exc:
            raise ApiError(str(exc), code="VALIDATION_ERROR",
                           details={"precision": [str(exc)]}) from None
        intake.check_receiver_batch(parsed.points)
        result = await intake.ingest_points(key=key, items=parsed.points) if parsed.points \
            else None
    except ApiError as exc:
        return _answer(exc.message, exc.code, exc.status, exc.details, exc.headers)
    await _note(key, "influx", result, rejected=len(parsed.errors),
                error=parsed.errors[-1][1] if parsed.errors else "")
    problems = [{"line": line, "code": "INVALID_LINE", "message": message}
                for line, message in parsed.errors]
    problems += [{"line": parsed.lines[r.index], "code": r.code, "message": r.message}
                 for r in (result.rejected if result else [])]
    if not problems:
        return HttpResponse(status=204)
    problems.sort(key=lambda p: p["line"])
    first = problems[0]
    accepted = result.accepted if result else 0
    return _answer(f"partial write: line {first['line']}: {first['message']} "
                   f"({len(problems)} rejected, {accepted} points kept)", "PARTIAL_WRITE", 400,
                   {"accepted": accepted, "rejected": problems[:100]})


@csrf_exempt
async def write_v1(request):
    return await _write(request, "ns")


@csrf_exempt
async def write_v2(request):
    return await _write(request, "ns")


# -- product analytics SDKs -----------------------------------------------------------------------
def _posthog_body(request, body: bytes):
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
        import orjson

        return orjson.loads(text)
    except ValueError as exc:
        raise ApiError(f"Body is not valid JSON: {exc}.", code="INVALID_JSON") from None


def _segment_key(request, payload) -> str | None:
    """Segment's write key: Basic auth's user name, or ``writeKey`` in the body."""
    scheme, credentials = intake.parse_authorization(request.headers.get("Authorization"))
    if scheme == "basic" and credentials:
        return credentials.partition(":")[0] or None
    return payload.get("writeKey") if isinstance(payload, dict) else None


async def _events(request, decode, ok_body: dict, kind: str):
    if request.method == "OPTIONS":
        return _preflight(request)
    if request.method != "POST":
        return _answer("Use POST.", "METHOD_NOT_ALLOWED", 405, headers={"Allow": "POST"})
    origin = request.headers.get("Origin")
    cors = {}
    try:
        body = _read_body(request)
        items, raw_key, sent_at = decode(body)
        key = await intake.authorize(raw_key or request.headers.get("X-API-Key"), origin)
        cors = _cors_headers(origin)
        if len(items) > settings.INGEST_MAX_BATCH:
            raise ApiError(f"At most {settings.INGEST_MAX_BATCH} events per request; got "
                           f"{len(items)}.", code="BATCH_TOO_LARGE",
                           details={"max_items": settings.INGEST_MAX_BATCH})
        client = services.Client(ip=_client_ip(request),
                                 user_agent=request.headers.get("User-Agent", "")[:1000])
        payload = {"events": items}
        if sent_at:
            payload["sent_at"] = sent_at
        result = await intake.ingest(key=key, kind="events", payload=payload, client=client)
    except product.PayloadError as exc:
        return _answer(str(exc), "VALIDATION_ERROR", 400, headers=cors)
    except ApiError as exc:
        return _answer(exc.message, exc.code, exc.status, exc.details, {**cors, **exc.headers})
    await _note(key, kind, result, unit="events")
    if items and not result.accepted:
        first = result.rejected[0]
        return _answer(f"No event was accepted: item {first.index}: {first.message}",
                       "VALIDATION_ERROR", 400, {"rejected": [r.as_dict()
                                                              for r in result.rejected[:100]]},
                       cors)
    return JsonResponse({**ok_body, **result.as_dict()}, status=200, headers=cors)


@csrf_exempt
async def posthog_capture(request):
    def decode(body):
        return product.posthog_events(_posthog_body(request, body))

    return await _events(request, decode, {"status": 1}, "posthog")


def segment_endpoint(kind: str | None):
    @csrf_exempt
    async def view(request):
        def decode(body):
            payload = _json_object(body)
            items, key, sent_at = product.segment_events(payload, kind)
            return items, _segment_key(request, payload) or key, sent_at

        return await _events(request, decode, {"success": True}, "segment")

    view.__name__ = f"segment_{kind or 'batch'}"
    return view


def _json_object(body: bytes):
    return intake.parse_json(body)


# -- OpenTelemetry --------------------------------------------------------------------------------
def _otlp_answer(rejected: int, message: str, as_json: bool) -> HttpResponse:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceResponse,
    )

    answer = ExportMetricsServiceResponse()
    if rejected:
        answer.partial_success.rejected_data_points = rejected
        answer.partial_success.error_message = message[:1000]
    if as_json:
        from google.protobuf import json_format

        return HttpResponse(json_format.MessageToJson(answer), status=200,
                            content_type="application/json")
    return HttpResponse(answer.SerializeToString(), status=200,
                        content_type="application/x-protobuf")


@csrf_exempt
async def otlp_metrics(request):
    """``POST /v1/metrics``: OTLP/HTTP, protobuf (``application/x-protobuf``) or JSON; the
    ingest key in ``X-API-Key`` or ``Authorization: Bearer`` (the exporter's headers)."""

    from ..receivers import otlp  # protobuf decoders: ~0.1 s to import, only when used

    if request.method != "POST":
        return _answer("Use POST.", "METHOD_NOT_ALLOWED", 405, headers={"Allow": "POST"})
    content_type = request.headers.get("Content-Type", "application/x-protobuf").lower()
    as_json = "json" in content_type
    try:
        key = await intake.authorize(_key_of(request), None)
        try:
            decoded = otlp.flatten(otlp.decode(_read_body(request), content_type))
        except otlp.OtlpError as exc:
            raise ApiError(str(exc), code="INVALID_BODY") from None
        increases = await otlp.apply_cumulative(decoded, redis_client(), key.project_id)
        points = otlp.settle(decoded, increases)
        intake.check_receiver_batch(points)
        result = await intake.ingest_points(key=key, items=points) if points else None
    except ApiError as exc:
        return _answer(exc.message, exc.code, exc.status, exc.details, exc.headers)
    await _note(key, "otlp", result, rejected=decoded.rejected,
                error=decoded.errors[-1] if decoded.errors else "")
    problems = list(decoded.errors)
    problems += [f"{points[r.index]['name']}: {r.message}" for r in
                 (result.rejected if result else [])]
    rejected = decoded.rejected + (len(result.rejected) if result else 0)
    return _otlp_answer(rejected, "; ".join(problems[:20]), as_json)


# -- Prometheus remote write ----------------------------------------------------------------------
@csrf_exempt
async def prometheus_remote_write(request):
    """``POST /api/v1/prom/write``: a snappy-compressed protobuf ``WriteRequest`` (Prometheus'
    ``remote_write`` with ``authorization: {credentials: pk_…}`` or basic auth's password)."""

    from ..receivers import counters, prometheus  # loaded when first used (~0.1 s)

    if request.method != "POST":
        return _answer("Use POST.", "METHOD_NOT_ALLOWED", 405, headers={"Allow": "POST"})
    try:
        key = await intake.authorize(_key_of(request), None)
        try:
            collected = prometheus.collect_remote_write(
                prometheus.decode_remote_write(_read_body(request)))
        except prometheus.PrometheusError as exc:
            raise ApiError(str(exc), code="INVALID_BODY") from None
        increases = await counters.increases(redis_client(), key.project_id,
                                             collected.entries())
        points = collected.settle(increases)
        intake.check_receiver_batch(points)
        result = await intake.ingest_points(key=key, items=points) if points else None
    except ApiError as exc:
        return _answer(exc.message, exc.code, exc.status, exc.details, exc.headers)
    await _note(key, "prom_remote_write", result)
    if result and result.rejected:
        first = result.rejected[0]
        return _answer(f"{len(result.rejected)} samples rejected, e.g. "
                       f"{points[first.index]['name']}: {first.message}", "PARTIAL_WRITE", 400,
                       {"accepted": result.accepted,
                        "rejected": [r.as_dict() for r in result.rejected[:100]]})
    return HttpResponse(status=204)


# -- Plausible ------------------------------------------------------------------------------------
@csrf_exempt
async def plausible_event(request):
    """``POST /api/event``: Plausible's events API. No key in the body: the site's ``domain``
    finds the ingest key whose allowed origins include ``https://<domain>`` (or ``http://``);
    ``X-API-Key`` works too. Visitors are counted without cookies, like Plausible: a daily
    salted hash of the domain, IP and user agent."""
    if request.method == "OPTIONS":
        return _preflight(request)
    if request.method != "POST":
        return _answer("Use POST.", "METHOD_NOT_ALLOWED", 405, headers={"Allow": "POST"})

    origin = request.headers.get("Origin")
    cors = _cors_headers(origin)
    ip = _client_ip(request)
    user_agent = request.headers.get("User-Agent", "")[:1000]
    try:
        payload = intake.parse_json(_read_body(request))
        domain = product.plausible_event(payload, "")[1]
        raw_key = request.headers.get("X-API-Key")
        key = await intake.authorize(raw_key, origin) if raw_key else \
            await selectors.ingest_key_for_site(domain)
        if key is not None:
            await services.note_key_used(key.id)
        if key is None:
            raise ApiError(f"No ingest key allows the site {domain[:100]!r}: add "
                           f"https://{domain[:100]} to a key's allowed origins, or send "
                           "X-API-Key.", code="UNAUTHORIZED", status=401)
        visitor = await services.anonymous_visitor_id(scope=domain, ip=ip,
                                                      user_agent=user_agent)
        item, _ = product.plausible_event(payload, visitor)
        result = await intake.ingest(key=key, kind="events", payload={"events": [item]},
                                     client=services.Client(ip=ip, user_agent=user_agent))
    except product.PayloadError as exc:
        return _answer(str(exc), "VALIDATION_ERROR", 400, headers=cors)
    except ApiError as exc:
        return _answer(exc.message, exc.code, exc.status, exc.details, {**cors, **exc.headers})
    await _note(key, "plausible", result, unit="events")
    if result.rejected:
        first = result.rejected[0]
        return _answer(first.message, first.code, 400, headers=cors)
    return HttpResponse("ok", status=202, content_type="text/plain", headers=cors)
