"""The OpenAPI schema documents the error answers of every operation, derived from the view.

drf-spectacular documents the success answer a view declares; every operation can also answer
in the one error format (``analytics_site.errors``). Which error statuses an operation can give
follows from what the view is, so a new view is covered without a decorator:

- 400 when it takes a body or query parameters (validation, malformed JSON, query errors);
- 401 and 403 when it needs a login (no or a bad token; a role or token scope too small);
- 404 when it names something by id: path parameters, or a ``project`` parameter or field;
- 409 when it changes state (a unique name or member already there, the last admin, a
  concurrent change);
- 413 and 415 when it takes a body (too large; not JSON);
- 429 everywhere (throttling is global) and 503 everywhere (PostgreSQL or Redis unavailable),
  both with ``Retry-After``;
- 504 when the view runs the query engine, which it says with ``runs_queries = True``.

A status the view already documents itself is left as the view put it. Time fields that also
read ``now-1h`` (``analytics_site.fields``) are documented as strings, not as date-times.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_basic_type
from drf_spectacular.types import OpenApiTypes
from rest_framework.permissions import AllowAny
from rest_framework.serializers import BaseSerializer

# Every code the API answers with, by status (README, "API").
CODES_BY_STATUS: dict[int, tuple[str, ...]] = {
    400: ("VALIDATION_ERROR", "INVALID_JSON", "BAD_REQUEST", "QUERY_SYNTAX", "QUERY_INVALID",
          "INVALID_RANGE", "QUERY_TOO_LARGE", "WEBHOOK_URL_REFUSED"),
    401: ("UNAUTHORIZED",),
    403: ("FORBIDDEN",),
    404: ("NOT_FOUND",),
    405: ("METHOD_NOT_ALLOWED",),
    406: ("NOT_ACCEPTABLE",),
    409: ("CONFLICT",),
    413: ("PAYLOAD_TOO_LARGE",),
    415: ("UNSUPPORTED_MEDIA_TYPE",),
    429: ("RATE_LIMITED",),
    500: ("INTERNAL_ERROR",),
    503: ("UNAVAILABLE",),
    504: ("QUERY_TIMEOUT",),
}

ERROR_CODES = sorted({code for codes in CODES_BY_STATUS.values() for code in codes})

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error of the API has this shape, with the HTTP status that fits.",
    "properties": {
        "error": {"type": "string", "description": "A message for people."},
        "code": {"type": "string", "enum": ERROR_CODES,
                 "description": "A stable code for programs."},
        "details": {"type": "object", "additionalProperties": True,
                    "description": "Per field messages (`{\"name\": [\"...\"]}`), the position "
                                   "of a query error, `retry_after`, `request_id`…"},
    },
    "required": ["error", "code", "details"],
}

_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer", "minimum": 1}, "required": True,
                                "description": "Seconds to wait before trying again."}}
_WWW_AUTHENTICATE = {"WWW-Authenticate": {"schema": {"type": "string"},
                                          "description": 'Bearer realm="api"'}}

# status: (component name, description, headers)
RESPONSES: dict[int, tuple[str, str, dict]] = {
    400: ("BadRequest", "The request is not valid: a field or parameter (named in `details`), "
          "malformed JSON, or a query the engine refuses (with its position).", {}),
    401: ("Unauthorized", "No credentials, or a token that is unknown, revoked or expired.",
          _WWW_AUTHENTICATE),
    403: ("Forbidden", "The role in the project or the token's scope is too small for this "
          "(or, with a session, the CSRF token is missing).", {}),
    404: ("NotFound", "Not found, or not in a project the caller is a member of.", {}),
    409: ("Conflict", "The change conflicts with existing data or the current state.", {}),
    413: ("PayloadTooLarge", "The request body is larger than the limit (`details.max_bytes`).",
          {}),
    415: ("UnsupportedMediaType", "The body is not `application/json`.", {}),
    429: ("RateLimited", "Too many requests; retry after `Retry-After` seconds.", _RETRY_AFTER),
    503: ("Unavailable", "Storage (PostgreSQL or Redis) is unavailable; retry after "
          "`Retry-After` seconds.", _RETRY_AFTER),
    504: ("QueryTimeout", "The query took longer than the statement timeout; narrow the range, "
          "add filters or use a larger step.", {}),
}

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


class ErrorDocumentingAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus the error answers each operation can give."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = self._register(ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, schema=ERROR_SCHEMA, object="Error"))
        responses = operation["responses"]
        for status in self.error_statuses(operation):
            name, description, headers = RESPONSES[status]
            component = self._register(ResolvedComponent(
                name=name, type=ResolvedComponent.RESPONSE, object=name, schema={
                    "description": f"{description} Codes: "
                                   f"{', '.join(f'`{c}`' for c in CODES_BY_STATUS[status])}.",
                    **({"headers": headers} if headers else {}),
                    "content": {"application/json": {"schema": error.ref}},
                }))
            responses.setdefault(str(status), component.ref)
        return operation

    def _register(self, component: ResolvedComponent) -> ResolvedComponent:
        self.registry.register_on_missing(component)
        return component

    def error_statuses(self, operation: dict) -> list[int]:
        parameters = operation.get("parameters", [])
        in_path = any(p["in"] == "path" for p in parameters)
        in_query = any(p["in"] == "query" for p in parameters)
        has_body = "requestBody" in operation
        authenticated = not all(isinstance(p, type) and issubclass(p, AllowAny)
                                for p in self.view.permission_classes)
        names_project = any(p["name"] == "project" for p in parameters) or (
            has_body and "project" in self._request_fields())
        runs_queries = getattr(self.view, "runs_queries", False)
        statuses = [429, 503]
        if has_body or in_query:
            statuses.append(400)
        if authenticated:
            statuses += [401, 403]
        if in_path or names_project:
            statuses.append(404)
        if authenticated and self.method in _WRITES and not runs_queries:
            statuses.append(409)  # a POST that runs a query only reads
        if has_body:
            statuses += [413, 415]
        if runs_queries:
            statuses.append(504)
        return sorted(statuses)

    def _request_fields(self) -> set[str]:
        serializer = self.get_request_serializer()
        if isinstance(serializer, type) and issubclass(serializer, BaseSerializer):
            serializer = serializer()
        fields = getattr(serializer, "fields", None)
        return set(fields) if fields is not None else set()


class MomentFieldExtension(OpenApiSerializerFieldExtension):
    """A time field that also reads relative forms (``now-1h``) is a string, not a date-time:
    the schema must not make clients (or a fuzzer) believe those are invalid."""

    target_class = "analytics_site.fields.UTCDateTimeField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        if self.target.parse is None:
            return build_basic_type(OpenApiTypes.DATETIME)
        return {"type": "string", "description": f"A time: {self.target.forms}."}
