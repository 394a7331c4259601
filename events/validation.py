"""Item-level validation of ingested events and metric points.

Each item is checked on its own: a bad one becomes a rejection ``{"index", "code", "message"}``
and never costs the good items beside it. Whole-request faults (bad JSON, too many items) are
raised by the caller as ``ApiError``.
"""

from __future__ import annotations

import math
import re
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

MAX_NAME = 200
MAX_ID = 200
MAX_URL = 2048
MAX_PROPERTIES_BYTES = 32 * 1024
MAX_TAGS = 32
MAX_TAG_KEY = 100
MAX_TAG_VALUE = 200
METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,199}$")
TAG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,99}$")
FUTURE_CLAMP = timedelta(minutes=5)


class ItemError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Rejected:
    index: int
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"index": self.index, "code": self.code, "message": self.message}


@dataclass
class EventItem:
    index: int
    uuid: uuidlib.UUID
    event: str
    distinct_id: str
    session_id: str | None
    timestamp: datetime
    client_timestamp: datetime | None
    properties: dict
    page_url: str | None
    referrer: str | None


@dataclass
class PointItem:
    index: int
    name: str
    value: float
    tags: dict[str, str]
    tags_key: str
    timestamp: datetime


@dataclass
class Parsed:
    items: list = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def parse_time(value: Any, what: str = "timestamp") -> datetime:
    """ISO 8601 (with a zone, or UTC) or epoch seconds / milliseconds."""
    if isinstance(value, bool):
        raise ItemError("INVALID_TIMESTAMP", f"{what}: a boolean is not a time.")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ItemError("INVALID_TIMESTAMP", f"{what}: not a finite number.")
        seconds = value / 1000 if abs(value) >= 1e11 else value  # epoch ms vs s
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ItemError("INVALID_TIMESTAMP", f"{what}: {value} is out of range.") from None
    if isinstance(value, str) and 0 < len(value) <= 64:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ItemError("INVALID_TIMESTAMP",
                    f"{what}: expected ISO 8601 or epoch seconds/milliseconds.")


def corrected_time(*, timestamp: datetime | None, sent_at: datetime | None,
                   received_at: datetime) -> datetime:
    """Event time on the server's clock: receive time - (sent_at - timestamp), clamped to at most
    5 minutes ahead of the receive time."""
    if timestamp is None:
        return received_at
    moment = received_at - (sent_at - timestamp) if sent_at is not None else timestamp
    if moment > received_at + FUTURE_CLAMP:
        return received_at
    return moment


def _text(item: dict, key: str, limit: int, *, required: bool = False) -> str | None:
    value = item.get(key)
    if value is None or value == "":
        if required:
            raise ItemError("MISSING_FIELD", f"{key}: required.")
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and key != "event":
        value = str(value)  # numeric ids are common in SDKs
    if not isinstance(value, str):
        raise ItemError("INVALID_FIELD", f"{key}: must be a string.")
    if len(value) > limit:
        raise ItemError("FIELD_TOO_LONG", f"{key}: at most {limit} characters.")
    return value


def parse_event(index: int, item: Any, *, sent_at: datetime | None, received_at: datetime,
                oldest: datetime) -> EventItem:
    if not isinstance(item, dict):
        raise ItemError("INVALID_ITEM", "An event must be a JSON object.")
    name = _text(item, "event", MAX_NAME, required=True)
    distinct_id = _text(item, "distinct_id", MAX_ID, required=True)
    session_id = _text(item, "session_id", MAX_ID)
    raw_uuid = item.get("uuid")
    if raw_uuid in (None, ""):
        event_uuid = uuidlib.uuid4()
    else:
        try:
            event_uuid = uuidlib.UUID(str(raw_uuid))
        except ValueError:
            raise ItemError("INVALID_UUID", "uuid: not a UUID.") from None
    properties = item.get("properties") or {}
    if not isinstance(properties, dict):
        raise ItemError("INVALID_FIELD", "properties: must be a JSON object.")
    if len(orjson.dumps(properties)) > MAX_PROPERTIES_BYTES:
        raise ItemError("FIELD_TOO_LONG",
                        f"properties: at most {MAX_PROPERTIES_BYTES} bytes of JSON.")
    client_ts = parse_time(item["timestamp"]) if item.get("timestamp") is not None else None
    moment = corrected_time(timestamp=client_ts, sent_at=sent_at, received_at=received_at)
    if moment < oldest:
        raise ItemError("TOO_OLD", f"timestamp: older than the project's raw retention "
                                   f"({oldest:%Y-%m-%d %H:%M} UTC).")
    return EventItem(
        index=index, uuid=event_uuid, event=name, distinct_id=distinct_id, session_id=session_id,
        timestamp=moment, client_timestamp=client_ts, properties=properties,
        page_url=_text(item, "page_url", MAX_URL), referrer=_text(item, "referrer", MAX_URL),
    )


def parse_events(items: list, *, sent_at: datetime | None, received_at: datetime,
                 oldest: datetime) -> Parsed:
    parsed = Parsed()
    seen: set[uuidlib.UUID] = set()
    for index, item in enumerate(items):
        try:
            event = parse_event(index, item, sent_at=sent_at, received_at=received_at,
                                oldest=oldest)
        except ItemError as exc:
            parsed.rejected.append(Rejected(index, exc.code, exc.message))
            continue
        if event.uuid in seen:
            continue  # the same event twice in one batch: stored once, like a retry
        seen.add(event.uuid)
        parsed.items.append(event)
    return parsed


def tags_key(tags: dict[str, str]) -> str:
    """Series identity: the tags as JSON with sorted keys."""
    return orjson.dumps(tags, option=orjson.OPT_SORT_KEYS).decode()


def parse_point(index: int, item: Any, *, received_at: datetime,
                oldest: datetime) -> PointItem:
    if not isinstance(item, dict):
        raise ItemError("INVALID_ITEM", "A point must be a JSON object.")
    name = item.get("name")
    if not isinstance(name, str) or not METRIC_NAME.match(name):
        raise ItemError("INVALID_NAME", "name: must match ^[A-Za-z_][A-Za-z0-9_.:-]{0,199}$.")
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ItemError("INVALID_VALUE", "value: must be a finite number.")
    raw_tags = item.get("tags") or {}
    if not isinstance(raw_tags, dict):
        raise ItemError("INVALID_TAGS", "tags: must be a JSON object of strings.")
    if len(raw_tags) > MAX_TAGS:
        raise ItemError("TOO_MANY_TAGS", f"tags: at most {MAX_TAGS}.")
    tags: dict[str, str] = {}
    for key, tag_value in raw_tags.items():
        if not TAG_KEY.match(key):
            raise ItemError("INVALID_TAGS", f"tags: key {key[:50]!r} must match "
                                            "^[A-Za-z_][A-Za-z0-9_.:/-]{0,99}$.")
        if isinstance(tag_value, bool) or not isinstance(tag_value, str | int | float):
            raise ItemError("INVALID_TAGS", f"tags.{key}: must be a string.")
        tag_value = str(tag_value)
        if not tag_value or len(tag_value) > MAX_TAG_VALUE:
            raise ItemError("INVALID_TAGS", f"tags.{key}: 1 to {MAX_TAG_VALUE} characters.")
        tags[key] = tag_value
    if item.get("timestamp") is None:
        moment = received_at
    else:
        moment = parse_time(item["timestamp"])
        if moment > received_at + FUTURE_CLAMP:
            moment = received_at
    if moment < oldest:
        raise ItemError("TOO_OLD", "timestamp: older than the project's raw retention.")
    return PointItem(index=index, name=name, value=float(value), tags=tags,
                     tags_key=tags_key(tags), timestamp=moment)


def parse_points(items: list, *, received_at: datetime, oldest: datetime) -> Parsed:
    parsed = Parsed()
    for index, item in enumerate(items):
        try:
            parsed.items.append(parse_point(index, item, received_at=received_at,
                                            oldest=oldest))
        except ItemError as exc:
            parsed.rejected.append(Rejected(index, exc.code, exc.message))
    return parsed
