"""Ingestion endpoints: ``POST /api/v1/events/batch`` and ``POST /api/v1/metrics``.

Plain async Django views, not DRF: they run on daphne's event loop and write through the async
pool, so one web process takes many batches at once. They own the HTTP part only — body limits,
JSON, the ingest key, origin checks and CORS, the rate limit — and hand the items to
``events.services``, which validates each item and stores the batch.
"""

from __future__ import annotations

import zlib
from datetime import datetime

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from analytics_site.errors import ApiError, RateLimited, error_body

from .. import ratelimit, selectors, services
from ..validation import ItemError, parse_time

ALLOWED_HEADERS = "Content-Type, X-API-Key, Content-Encoding"


class _Fault(ApiError):
    pass


def _json(body: dict, status: int, headers: dict | None = None) -> JsonResponse:
    return JsonResponse(body, status=status, headers=headers or {},
                        json_dumps_params={"ensure_ascii": False})


def _read_body(request) -> bytes:
    limit = settings.INGEST_MAX_BODY_BYTES
    too_big = _Fault(f"Request body is larger than {limit} bytes.", code="PAYLOAD_TOO_LARGE",
                     status=413, details={"max_bytes": limit})
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise too_big
    try:
        body = request.body
    except RequestDataTooBig:
        raise too_big from None
    if len(body) > limit:
        raise too_big
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error:
            raise _Fault("Body is not valid gzip.", code="INVALID_BODY") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise too_big
    return body


def _parse_json(body: bytes):
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _Fault(f"Body is not valid JSON: {exc.msg}.", code="INVALID_JSON",
                     details={"position": exc.pos}) from None


def _client_ip(request) -> str:
    # daphne --proxy-headers puts the forwarded address here when a proxy sends it.
    return request.META.get("REMOTE_ADDR") or ""


def _cors_headers(origin: str | None) -> dict:
    if not origin:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Expose-Headers": "Retry-After"}


def _preflight(request) -> HttpResponse:
    response = HttpResponse(status=204)
    origin = request.headers.get("Origin")
    if origin:
        for name, value in _cors_headers(origin).items():
            response[name] = value
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response["Access-Control-Max-Age"] = "86400"
    return response


async def _ingest(request, kind: str):
    if request.method == "OPTIONS":
        return _preflight(request)
    if request.method != "POST":
        return _json(error_body("Use POST.", "METHOD_NOT_ALLOWED"), 405, {"Allow": "POST"})
    origin = request.headers.get("Origin")
    cors = {}
    try:
        payload = _parse_json(_read_body(request))
        if not isinstance(payload, dict):
            raise _Fault("Body must be a JSON object.", code="VALIDATION_ERROR")
        raw_key = request.headers.get("X-API-Key") or payload.get("api_key")
        key = await selectors.ingest_key(raw_key) if isinstance(raw_key, str) else None
        if key is None:
            raise _Fault("Missing or invalid ingest key (X-API-Key header or api_key field).",
                         code="UNAUTHORIZED", status=401)
        if origin and key.allowed_origins and origin.lower() not in key.allowed_origins:
            raise _Fault(f"Origin {origin[:200]} is not allowed for this key.",
                         code="ORIGIN_NOT_ALLOWED", status=403,
                         details={"origin": origin[:200]})
        cors = _cors_headers(origin)
        items = _items(payload, kind)
        wait = await ratelimit.take(key_id=key.id, items=max(len(items), 1),
                                    limit_per_s=key.rate_limit_per_s)
        if wait is not None:
            retry_after = max(1, round(wait + 0.4999))
            raise RateLimited(f"Over this key's rate of {key.rate_limit_per_s} items per second.",
                              retry_after=retry_after,
                              details={"limit_per_s": key.rate_limit_per_s})
        client = services.Client(ip=_client_ip(request),
                                 user_agent=request.headers.get("User-Agent", "")[:1000])
        if kind == "events":
            result = await services.ingest_events(key=key, items=items,
                                                  sent_at=_sent_at(payload), client=client)
        else:
            result = await services.record_points(key=key, items=items)
    except ApiError as exc:
        return _json(error_body(exc.message, exc.code, exc.details), exc.status,
                     {**cors, **exc.headers})
    return _json(result.as_dict(), 202, cors)


def _items(payload: dict, kind: str) -> list:
    field = "events" if kind == "events" else "points"
    if kind == "metrics" and field not in payload and "name" in payload:
        items = [payload]  # a single point
    else:
        items = payload.get(field)
    if not isinstance(items, list):
        raise _Fault(f"Body needs a list under {field!r}.", code="VALIDATION_ERROR",
                     details={field: ["A list is required."]})
    if len(items) > settings.INGEST_MAX_BATCH:
        raise _Fault(f"At most {settings.INGEST_MAX_BATCH} {field} per request; "
                     f"got {len(items)}.", code="BATCH_TOO_LARGE",
                     details={"max_items": settings.INGEST_MAX_BATCH, "items": len(items)})
    return items


def _sent_at(payload: dict) -> datetime | None:
    value = payload.get("sent_at")
    if value is None:
        return None
    try:
        return parse_time(value, "sent_at")
    except ItemError as exc:
        raise _Fault(exc.message, code="VALIDATION_ERROR",
                     details={"sent_at": [exc.message]}) from None


@csrf_exempt
async def events_batch(request):
    return await _ingest(request, "events")


@csrf_exempt
async def metrics(request):
    return await _ingest(request, "metrics")
