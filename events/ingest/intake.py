"""One batch from any transport (HTTP, WebSocket, and the compatible receivers to come): the key
and its origin, the items out of the payload, the key's rate, then the write path.

Transports own their framing only — body limits, compression, JSON, where the key comes from —
and call ``authorize`` once per request or connection and ``ingest`` once per batch. Faults are
``ApiError`` with the status each transport reports in its own way.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Sized
from dataclasses import replace
from datetime import datetime

import orjson
from django.conf import settings

from analytics_site.errors import ApiError, RateLimited

from .. import selectors, services
from ..pointbatch import Columns
from ..validation import ItemError, parse_time
from . import ratelimit

KINDS = {"events": "events", "metrics": "points"}


def parse_json(body: bytes | str) -> dict:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(f"Body is not valid JSON: {exc.msg}.", code="INVALID_JSON",
                       details={"position": exc.pos}) from None
    if not isinstance(payload, dict):
        raise ApiError("Body must be a JSON object.", code="VALIDATION_ERROR")
    return payload


def too_big(limit: int) -> ApiError:
    return ApiError(f"Request body is larger than {limit} bytes.", code="PAYLOAD_TOO_LARGE",
                    status=413, details={"max_bytes": limit})


def inflate(body: bytes, limit: int, *, wbits: int = 31) -> bytes:
    """A gzip body (``wbits=31``; 47 also takes zlib), every member of it — gzip files may be
    concatenated, and a reader that stops after the first drops the rest silently — never
    inflating past ``limit`` bytes (a small bomb must not cost memory)."""
    out = bytearray()
    data = body
    while data:
        inflater = zlib.decompressobj(wbits=wbits)
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
        except zlib.error:
            raise ApiError("Body is not valid gzip.", code="INVALID_BODY") from None
        if len(out) > limit or inflater.unconsumed_tail:
            raise too_big(limit)
        if not inflater.eof:
            raise ApiError("Body is not valid gzip: it ends inside a member.",
                           code="INVALID_BODY")
        data = inflater.unused_data
        if data.strip(b"\x00") == b"":  # padding after the last member
            break
    return bytes(out)


def parse_authorization(header: str | None) -> tuple[str, str]:
    """(scheme, credentials) of an Authorization header; Basic credentials decoded to
    ``user:password`` ("" when they do not decode)."""
    scheme, _, credentials = (header or "").partition(" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    if scheme == "basic" and credentials:
        try:
            credentials = base64.b64decode(credentials).decode()
        except (ValueError, UnicodeDecodeError):
            credentials = ""
    return scheme, credentials


def header_key(*, x_api_key: str | None, authorization: str | None, query) -> str | None:
    """The ingest key a request carries outside its body, where the clients of every protocol
    put it: ``Authorization: Token`` / ``Bearer`` (Influx v2, OTLP exporters, remote write),
    Basic auth's password or ``?p=`` (Influx v1), ``?api_key=``, ``X-API-Key``. ``query`` is a
    mapping of names to a value or a list of values."""
    scheme, credentials = parse_authorization(authorization)
    if scheme in ("token", "bearer") and credentials:
        return credentials
    if scheme == "basic" and credentials:
        return credentials.partition(":")[2] or None
    for name in ("p", "api_key"):
        value = query.get(name)
        value = value[-1] if isinstance(value, list) and value else value
        if isinstance(value, str) and value:
            return value
    return x_api_key or None


async def authorize(raw_key, origin: str | None) -> services.IngestKey:
    """The active key with this value, if the browser origin (when there is one) may use it."""
    key = await selectors.ingest_key(raw_key) if isinstance(raw_key, str) else None
    if key is None:
        raise ApiError("Missing or invalid ingest key (X-API-Key header or api_key field).",
                       code="UNAUTHORIZED", status=401)
    if origin and key.allowed_origins and origin.lower() not in key.allowed_origins:
        raise ApiError(f"Origin {origin[:200]} is not allowed for this key.",
                       code="ORIGIN_NOT_ALLOWED", status=403, details={"origin": origin[:200]})
    await services.note_key_used(key.id)
    return key


async def take_rate(key: services.IngestKey, items: int) -> None:
    """Spend ``items`` of the key's rate, or raise RateLimited (429 with Retry-After)."""
    wait = await ratelimit.take(key_id=key.id, items=max(items, 1),
                                limit_per_s=key.rate_limit_per_s)
    if wait is not None:
        raise RateLimited(f"Over this key's rate of {key.rate_limit_per_s} items per second.",
                          retry_after=max(1, round(wait + 0.4999)),
                          details={"limit_per_s": key.rate_limit_per_s})


def check_receiver_batch(points: Sized) -> None:
    """One request of another format may carry at most RECEIVER_MAX_POINTS points."""
    limit = settings.RECEIVER_MAX_POINTS
    if len(points) > limit:
        raise ApiError(f"At most {limit} points per request; got {len(points)}.",
                       code="BATCH_TOO_LARGE", details={"max_items": limit})


async def ingest_points(*, key: services.IngestKey, items: list) -> services.Result:
    """Points a receiver decoded from one request (``check_receiver_batch`` first)."""
    await take_rate(key, len(items))
    return await services.record_points(key=key, items=items)


async def ingest_columns(*, key: services.IngestKey, columns: Columns) -> services.Result:
    """Points a receiver decoded into columns (``check_receiver_batch`` first)."""
    await take_rate(key, len(columns))
    return await services.record_columns(key=key, columns=columns)


async def store_points(*, key: services.IngestKey, items: list) -> services.Result:
    """Points a process of our own produced (a StatsD flush, a scrape): any number, written in
    chunks of RECEIVER_MAX_POINTS; rejected indexes refer to ``items``."""
    total = services.Result(accepted=0, stored=0)
    size = settings.RECEIVER_MAX_POINTS
    for first in range(0, len(items), size):
        part = await ingest_points(key=key, items=items[first:first + size])
        total.accepted += part.accepted
        total.stored += part.stored
        total.rejected += [replace(r, index=r.index + first) for r in part.rejected]
    return total


async def ingest(*, key: services.IngestKey, kind: str, payload: dict,
                 client: services.Client) -> services.Result:
    items = _items(payload, kind)
    await take_rate(key, len(items))
    if kind == "events":
        return await services.ingest_events(key=key, items=items, sent_at=_sent_at(payload),
                                            client=client)
    return await services.record_points(key=key, items=items)


def _items(payload: dict, kind: str) -> list:
    field = KINDS[kind]
    if kind == "metrics" and field not in payload and "name" in payload:
        items = [payload]  # a single point
    else:
        items = payload.get(field)
    if not isinstance(items, list):
        raise ApiError(f"Body needs a list under {field!r}.", code="VALIDATION_ERROR",
                       details={field: ["A list is required."]})
    if len(items) > settings.INGEST_MAX_BATCH:
        raise ApiError(f"At most {settings.INGEST_MAX_BATCH} {field} per request; "
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
        raise ApiError(exc.message, code="VALIDATION_ERROR",
                       details={"sent_at": [exc.message]}) from None
