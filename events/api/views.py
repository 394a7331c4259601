"""Ingestion endpoints: ``POST /api/v1/events/batch`` and ``POST /api/v1/metrics``.

Plain async Django views, not DRF: they run on daphne's event loop and write through the async
pool, so one web process takes many batches at once. They own the HTTP part only — body limits,
gzip, where the key comes from, CORS — and hand the batch to ``events.intake``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from analytics_site.errors import ApiError, error_body

from .. import intake, services, sources
from ..ratelimit import client as redis_client

ALLOWED_HEADERS = "Content-Type, X-API-Key, Content-Encoding"


def _json(body: dict, status: int, headers: dict | None = None) -> JsonResponse:
    return JsonResponse(body, status=status, headers=headers or {},
                        json_dumps_params={"ensure_ascii": False})


def _read_body(request) -> bytes:
    limit = settings.INGEST_MAX_BODY_BYTES
    too_big = intake.too_big(limit)
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
        body = intake.inflate(body, limit)
    return body


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
        payload = intake.parse_json(_read_body(request))
        key = await intake.authorize(request.headers.get("X-API-Key") or payload.get("api_key"),
                                     origin)
        cors = _cors_headers(origin)
        client = services.Client(ip=_client_ip(request),
                                 user_agent=request.headers.get("User-Agent", "")[:1000])
        result = await intake.ingest(key=key, kind=kind, payload=payload, client=client)
        await _note_api(key, kind, result)
    except ApiError as exc:
        return _json(error_body(exc.message, exc.code, exc.details), exc.status,
                     {**cors, **exc.headers})
    return _json(result.as_dict(), 202, cors)


async def _note_api(key, kind: str, result) -> None:
    await sources.note(redis_client(), key.project_id, "api", accepted=result.accepted,
                       rejected=len(result.rejected),
                       error=result.rejected[-1].message if result.rejected else "",
                       unit="events" if kind == "events" else "points")


@csrf_exempt
async def events_batch(request):
    return await _ingest(request, "events")


@csrf_exempt
async def metrics(request):
    return await _ingest(request, "metrics")
