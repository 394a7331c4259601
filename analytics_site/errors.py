"""The one error format of the API: ``{"error": "<message>", "code": "<CODE>", "details": {}}``.

Services raise :class:`ApiError` (or a subclass with its own code); DRF's exceptions and Django's
404 / 413 / 500 are mapped here, in one place, and so are the storage faults a client can only
wait out: PostgreSQL or Redis unreachable (503 ``UNAVAILABLE`` with ``Retry-After``) and a
statement cancelled by its timeout (504 ``QUERY_TIMEOUT``). A response never carries a stack
trace: unexpected exceptions are logged with the request id and answered with
``INTERNAL_ERROR``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg
import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger("analytics.errors")


class ApiError(Exception):
    """An error a client can act on. Raise it from services; the handler renders it."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 details: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details or {}
        self.headers = headers or {}


class ValidationFailed(ApiError):
    status = 400
    code = "VALIDATION_ERROR"


class NotFound(ApiError):
    status = 404
    code = "NOT_FOUND"


class Forbidden(ApiError):
    status = 403
    code = "FORBIDDEN"


class Conflict(ApiError):
    status = 409
    code = "CONFLICT"


class RateLimited(ApiError):
    status = 429
    code = "RATE_LIMITED"

    def __init__(self, message: str = "Rate limit exceeded.", *, retry_after: int,
                 details: dict[str, Any] | None = None):
        super().__init__(message, details={"retry_after": retry_after, **(details or {})},
                         headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(ApiError):
    status = 503
    code = "UNAVAILABLE"

    def __init__(self, message: str, *, retry_after: int = 5):
        super().__init__(message, details={"retry_after": retry_after},
                         headers={"Retry-After": str(retry_after)})


def error_body(message: str, code: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": message, "code": code, "details": details or {}}


_DRF_CODES: list[tuple[type[Exception], str]] = [
    (drf.ValidationError, "VALIDATION_ERROR"),
    (drf.ParseError, "INVALID_JSON"),
    (drf.AuthenticationFailed, "UNAUTHORIZED"),
    (drf.NotAuthenticated, "UNAUTHORIZED"),
    (drf.PermissionDenied, "FORBIDDEN"),
    (drf.NotFound, "NOT_FOUND"),
    (drf.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (drf.NotAcceptable, "NOT_ACCEPTABLE"),
    (drf.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (drf.Throttled, "RATE_LIMITED"),
]


def _flatten(detail: Any) -> Any:
    """DRF's ErrorDetail tree as plain JSON: ``{"field": ["message", ...]}``."""
    if isinstance(detail, dict):
        return {str(key): _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _validation_message(details: Any) -> str:
    if isinstance(details, dict) and details:
        field, messages = next(iter(details.items()))
        first = messages[0] if isinstance(messages, list) and messages else messages
        if isinstance(first, dict):
            return "Invalid input."
        prefix = "" if field == "non_field_errors" else f"{field}: "
        return f"{prefix}{first}"
    if isinstance(details, list) and details:
        return str(details[0])
    return "Invalid input."


def api_exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER."""
    request = context.get("request")
    if isinstance(exc, ApiError):
        return Response(error_body(exc.message, exc.code, exc.details), status=exc.status,
                        headers=exc.headers)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoValidationError):  # a model's full_clean() in a service
        exc = drf.ValidationError(exc.message_dict if hasattr(exc, "error_dict")
                                  else exc.messages)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("Request body is too large.", "PAYLOAD_TOO_LARGE",
                       {"max_bytes": _max_body()}),
            status=413,
        )
    if isinstance(exc, IntegrityError):
        return Response(error_body("The change conflicts with existing data.", "CONFLICT"),
                        status=409)
    if isinstance(exc, OperationalError | InterfaceError | psycopg.OperationalError
                  | redis.ConnectionError | redis.TimeoutError):  # psycopg's: a read replica
        return _storage_fault(exc, request)
    if isinstance(exc, drf.APIException):
        code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), "BAD_REQUEST")
        headers = {}
        if isinstance(exc, drf.Throttled):
            wait = int(exc.wait or 1) + (1 if exc.wait and exc.wait % 1 else 0)
            headers["Retry-After"] = str(max(wait, 1))
            body = error_body("Rate limit exceeded.", code, {"retry_after": max(wait, 1)})
        elif isinstance(exc, drf.ValidationError):
            details = _flatten(exc.detail)
            if not isinstance(details, dict):
                details = {"non_field_errors": details}
            body = error_body(_validation_message(details), code, details)
        else:
            body = error_body(str(exc.detail), code)
        if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
            exc.status_code = 401
        return Response(body, status=exc.status_code, headers=headers)
    logger.exception(
        "unhandled API error",
        extra={"request_id": getattr(request, "request_id", None)},
    )
    return Response(error_body("Internal error.", "INTERNAL_ERROR",
                               {"request_id": getattr(request, "request_id", None)}), status=500)


def _storage_fault(exc: Exception, request) -> Response:
    from django.conf import settings

    extra = {"request_id": getattr(request, "request_id", None)}
    if isinstance(exc.__cause__, psycopg.errors.QueryCanceled):
        logger.warning("statement timeout", extra=extra)
        return Response(error_body(
            f"The query took longer than {settings.QUERY_TIMEOUT_S:g} s; narrow the range.",
            "QUERY_TIMEOUT", {"timeout_s": settings.QUERY_TIMEOUT_S}), status=504)
    logger.warning("storage unavailable", exc_info=exc, extra=extra)
    unavailable = ServiceUnavailable("Storage is unavailable; retry later.")
    return Response(error_body(unavailable.message, unavailable.code, unavailable.details),
                    status=unavailable.status, headers=unavailable.headers)


def _max_body() -> int:
    from django.conf import settings

    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


# Paths whose clients read JSON, not pages: the API and the receivers of other protocols
# (PostHog's, Segment's, InfluxDB's, OTLP's), whose SDKs parse every answer.
_JSON_PREFIXES = ("/api/", "/v1/", "/i/v0/")
_JSON_PATHS = {"/write", "/batch", "/batch/", "/capture", "/capture/", "/e", "/e/"}
# The data of a public dashboard's panels too (the dashboard's own page is a page).
_PUBLIC_PANEL = re.compile(r"^/public/dashboards/[^/]+/panels/")


def _is_api(request) -> bool:
    return (request.path.startswith(_JSON_PREFIXES) or request.path in _JSON_PATHS
            or _PUBLIC_PANEL.match(request.path) is not None)


def json_or_html_404(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("Not found.", "NOT_FOUND"), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_or_html_500(request):
    if _is_api(request):
        return JsonResponse(
            error_body("Internal error.", "INTERNAL_ERROR",
                       {"request_id": getattr(request, "request_id", None)}),
            status=500,
        )
    from django.views.defaults import server_error

    return server_error(request)


def json_or_html_400(request, exception=None):
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse(
                error_body("Request body is too large.", "PAYLOAD_TOO_LARGE",
                           {"max_bytes": _max_body()}),
                status=413,
            )
        return JsonResponse(error_body("Bad request.", "BAD_REQUEST"), status=400)
    from django.views.defaults import bad_request

    return bad_request(request, exception)


def json_or_html_403(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("Forbidden.", "FORBIDDEN"), status=403)
    from django.views.defaults import permission_denied

    return permission_denied(request, exception)


def or_404(call, *args, **kwargs):
    """For HTML views: run a scoped lookup, turning its ApiError into the page's own answer —
    404 (not yours, or not there) or 403 (your role is too small)."""
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    try:
        return call(*args, **kwargs)
    except ApiError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from None
        if exc.status == 403:
            raise PermissionDenied(exc.message) from None
        raise
