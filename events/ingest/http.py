"""What every HTTP ingestion endpoint shares: one request skeleton.

An ``Endpoint`` is a plain async Django view (not DRF: it runs on daphne's event loop and writes
through the async pool, so one web process takes many batches at once). The skeleton does the
method check (and the browsers' preflight), reads the body within ``INGEST_MAX_BODY_BYTES``
(gzip inflated, every member of it), turns any ``ApiError`` into an answer in the endpoint's
format, and counts what was received for the Sources page. An endpoint says only what is its
own: where its key comes from, how its body decodes, and what its clients expect as an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse

from analytics_site.errors import ApiError, error_body

from .. import services
from . import intake, sources
from .ratelimit import client as redis_client

ALLOWED_HEADERS = "Content-Type, X-API-Key, Content-Encoding"


def read_body(request) -> bytes:
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


def client_ip(request) -> str:
    # daphne --proxy-headers puts the forwarded address here when a proxy sends it.
    return request.META.get("REMOTE_ADDR") or ""


def cors_headers(origin: str | None) -> dict:
    if not origin:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin",
            "Access-Control-Expose-Headers": "Retry-After"}


def preflight(request) -> HttpResponse:
    response = HttpResponse(status=204)
    origin = request.headers.get("Origin")
    if origin:
        for name, value in cors_headers(origin).items():
            response[name] = value
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response["Access-Control-Max-Age"] = "86400"
    return response


def json_answer(body: dict, status: int, headers: dict | None = None) -> JsonResponse:
    return JsonResponse(body, status=status, headers=headers or {},
                        json_dumps_params={"ensure_ascii": False})


class Call:
    """One request to an endpoint: the request, the browser's origin (for endpoints browsers
    post to), the key once authorized, and the CORS headers the answer carries from then on."""

    def __init__(self, request, *, browsers: bool):
        self.request = request
        self.origin = request.headers.get("Origin") if browsers else None
        self.key: services.IngestKey | None = None
        self.cors: dict = {}

    def body(self) -> bytes:
        return read_body(self.request)

    def header_key(self) -> str | None:
        """The key outside the body, wherever this protocol's clients put it."""
        return intake.header_key(x_api_key=self.request.headers.get("X-API-Key"),
                                 authorization=self.request.headers.get("Authorization"),
                                 query=self.request.GET)

    async def authorize(self, raw_key) -> services.IngestKey:
        self.key = await intake.authorize(raw_key, self.origin)
        self.cors = cors_headers(self.origin)
        return self.key

    def client(self) -> services.Client:
        return services.Client(ip=client_ip(self.request),
                               user_agent=self.request.headers.get("User-Agent", "")[:1000])


@dataclass
class Outcome:
    """What a request left: the write path's result (None when nothing reached it), what the
    decoder refused before validation, and whatever the answer needs."""

    result: services.Result | None = None
    rejected: int = 0
    error: str = ""
    context: dict[str, Any] = field(default_factory=dict)


class Endpoint:
    source = "api"  # its row on the Sources page
    unit = "points"
    browsers = False  # browsers post here: preflight, Origin, CORS
    message = True  # error bodies also carry "message", which InfluxDB and SDK clients show

    async def receive(self, call: Call) -> Outcome:
        raise NotImplementedError

    def answer(self, call: Call, outcome: Outcome) -> HttpResponse:
        raise NotImplementedError

    def error(self, message: str, code: str, status: int, details: dict | None = None,
              headers: dict | None = None) -> JsonResponse:
        body = error_body(message, code, details or {})
        if self.message:
            body["message"] = message
        return json_answer(body, status, headers)

    async def __call__(self, request) -> HttpResponse:
        if request.method == "OPTIONS" and self.browsers:
            return preflight(request)
        if request.method != "POST":
            return self.error("Use POST.", "METHOD_NOT_ALLOWED", 405, headers={"Allow": "POST"})
        call = Call(request, browsers=self.browsers)
        try:
            outcome = await self.receive(call)
        except ApiError as exc:
            return self.error(exc.message, exc.code, exc.status, exc.details,
                              {**call.cors, **exc.headers})
        await self.count(call, outcome)
        return self.answer(call, outcome)

    async def count(self, call: Call, outcome: Outcome) -> None:
        """What this request delivered, for the Sources page."""
        if call.key is None:
            return
        result = outcome.result
        rejected = outcome.rejected + (len(result.rejected) if result else 0)
        error = outcome.error or (result.rejected[-1].message if result and result.rejected
                                  else "")
        await sources.note(redis_client(), call.key.project_id, self.source,
                           accepted=result.accepted if result else 0, rejected=rejected,
                           error=error, unit=self.unit)

    def view(self):
        """The Django view (ingestion is authenticated by its key: no CSRF)."""
        async def view(request):
            return await self(request)

        view.csrf_exempt = True
        view.lean = True  # served past Django's middleware: analytics_site.lean
        view.__name__ = type(self).__name__
        return view
