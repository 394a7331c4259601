"""The lean path: the ingestion endpoints served without Django's request machinery.

Every request through Django's ASGI handler crosses from the event loop into a worker thread and
back many times, even for an async view: the ``request_started`` and ``request_finished``
receivers, each ``MiddlewareMixin`` middleware's ``process_request`` and ``process_response``
(sessions, CSRF, authentication, messages, …), and the response's ``close``. The ingestion
endpoints (``events.ingest.http.Endpoint``: async views that authenticate by their key, read
nothing of a session and write through their own async pool) need none of that, and at thousands
of small batches a second those crossings cost more than the work.

Here such a request goes straight to its endpoint, on the event loop, wrapped in what still
applies: the request id and log line (``RequestLogMiddleware``), the CSP and Permissions-Policy
(``SecurityHeadersMiddleware``), Django's ``SecurityMiddleware`` headers and HTTPS redirect, and
the ``ALLOWED_HOSTS`` check. An endpoint's own errors keep its format; anything unexpected is the
API's 500 with the request id, logged like Django logs it. Every other request goes to Django.

Which paths: the URLconf's plain routes (no converters) whose view is marked ``lean``.
"""

from __future__ import annotations

import io
import logging

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import JsonResponse
from django.middleware.security import SecurityMiddleware
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from .errors import error_body
from .middleware import RequestLogMiddleware
from .security_headers import SecurityHeadersMiddleware

logger = logging.getLogger("analytics.errors")


def lean_routes(resolver: URLResolver | None = None, prefix: str = "") -> dict[str, object]:
    """``{"/api/v1/events/batch": view, …}``: every plain route to a view marked ``lean``."""
    found: dict[str, object] = {}
    for entry in (resolver or get_resolver()).url_patterns:
        if not isinstance(entry.pattern, RoutePattern) or "<" in str(entry.pattern):
            continue
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found.update(lean_routes(entry, route))
        elif isinstance(entry, URLPattern) and getattr(entry.callback, "lean", False):
            found.setdefault("/" + route, entry.callback)
    return found


def _body_limit() -> int:
    return max(settings.INGEST_MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


async def _read_body(receive) -> bytes | None:
    """The whole body, or None if the client went away. Past the limit the rest is dropped:
    the endpoint answers 413 for what it holds (daphne refuses most such bodies before)."""
    limit = _body_limit() + 1
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if size < limit:
            chunks.append(chunk[:limit - size])
            size += len(chunks[-1])
        if not message.get("more_body", False):
            return b"".join(chunks)


class _Guarded:
    """Django's ``SecurityMiddleware`` (headers, HTTPS redirect) and the Host check around an
    endpoint — both pure functions of the request, called here without a thread."""

    def __init__(self, view):
        self.view = view
        self.security = SecurityMiddleware(lambda request: None)

    async def __call__(self, request):
        try:
            request.get_host()
        except DisallowedHost:
            return JsonResponse(error_body("Bad request: the Host header is not allowed.",
                                           "BAD_REQUEST"), status=400)
        response = self.security.process_request(request)
        if response is None:
            response = await self.view(request)
        return self.security.process_response(request, response)


def _chain(view):
    guarded = _Guarded(view)

    async def endpoint(request):
        return await guarded(request)

    return RequestLogMiddleware(SecurityHeadersMiddleware(endpoint))


class LeanRouter:
    """ASGI app: the lean routes served here, everything else by ``django_app``."""

    def __init__(self, django_app):
        self.django_app = django_app
        self.routes = ({path: _chain(view) for path, view in lean_routes().items()}
                       if settings.INGEST_LEAN_PATH else {})

    async def __call__(self, scope, receive, send):
        chain = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if chain is None:
            return await self.django_app(scope, receive, send)
        body = await _read_body(receive)
        if body is None:
            return
        request = ASGIRequest(scope, io.BytesIO(body))
        try:
            response = await chain(request)
        except Exception:
            logger.exception("unhandled error on the lean path",
                             extra={"request_id": getattr(request, "request_id", None)})
            response = JsonResponse(error_body(
                "Internal error.", "INTERNAL_ERROR",
                {"request_id": getattr(request, "request_id", None)}), status=500)
        await self.django_app.send_response(response, send)
