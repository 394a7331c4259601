"""Item-level validation of ingested events and metric points.

Each item is checked on its own: a bad one becomes a rejection ``{"index", "code", "message"}``
and never costs the good items beside it. Whole-request faults (bad JSON, too many items) are
raised by the caller as ``ApiError``.
"""

from __future__ import annotations

import math
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from .names import METRIC_NAME, TAG_KEY
from .pointbatch import (
    EARLIEST,
    EARLIEST_US,
    FUTURE_CLAMP,
    LATEST,
    LATEST_US,
    NO_TIME,
    Columns,
    micros_of,
)

MAX_NAME = 200
MAX_ID = 200
MAX_URL = 2048
MAX_PROPERTIES_BYTES = 32 * 1024
MAX_TAGS = 32
MAX_TAG_KEY = 100
MAX_TAG_VALUE = 200
NUL_MESSAGE = "may not contain the NUL character (\\u0000), which PostgreSQL cannot store"


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
class Parsed:
    items: list = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def parse_time(value: Any, what: str = "timestamp") -> datetime:
    """ISO 8601 (with a zone, or UTC) or epoch seconds / milliseconds, as a UTC instant between
    1970 and 3000. Normalised to UTC here: PostgreSQL refuses offsets beyond ±15:59 that Python
    accepts (up to ±23:59)."""
    if isinstance(value, bool):
        raise ItemError("INVALID_TIMESTAMP", f"{what}: a boolean is not a time.")
    parsed = None
    if isinstance(value, int | float):
        try:
            if not math.isfinite(value):
                raise ItemError("INVALID_TIMESTAMP", f"{what}: not a finite number.")
            seconds = value / 1000 if abs(value) >= 1e11 else value  # epoch ms vs s
            parsed = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ItemError("INVALID_TIMESTAMP",
                            f"{what}: {str(value)[:40]} is out of range.") from None
    elif isinstance(value, str) and 0 < len(value) <= 64:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
            parsed = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        except (ValueError, OverflowError):
            parsed = None
    if parsed is None:
        raise ItemError("INVALID_TIMESTAMP",
                        f"{what}: expected ISO 8601 or epoch seconds/milliseconds.")
    if not EARLIEST <= parsed < LATEST:
        raise ItemError("INVALID_TIMESTAMP", f"{what}: {parsed:%Y-%m-%d} is out of range "
                                             "(1970 to 2999).")
    return parsed


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
        try:
            value = str(value)  # numeric ids are common in SDKs
        except ValueError:  # an integer of more than 4,300 digits
            raise ItemError("FIELD_TOO_LONG", f"{key}: at most {limit} characters.") from None
    if not isinstance(value, str):
        raise ItemError("INVALID_FIELD", f"{key}: must be a string.")
    if len(value) > limit:
        raise ItemError("FIELD_TOO_LONG", f"{key}: at most {limit} characters.")
    if "\x00" in value:
        raise ItemError("INVALID_FIELD", f"{key}: {NUL_MESSAGE}.")
    return value


def _nul_in(value: Any) -> str | None:
    """The path of the first key or string holding a NUL, walked without recursion."""
    stack = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path
        elif isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in key:
                    return f"{path}.{key!r}"
                stack.append((inner, f"{path}.{key}"))
        elif isinstance(item, list):
            stack.extend((inner, f"{path}[{n}]") for n, inner in enumerate(item))
    return None


def check_properties(properties: dict, what: str = "properties") -> None:
    """What PostgreSQL's jsonb and our encoder can take: at most MAX_PROPERTIES_BYTES of JSON,
    nesting within orjson's 255 levels, integers within 64 bits, no NUL anywhere."""
    try:
        dumped = orjson.dumps(properties)
    except orjson.JSONEncodeError as exc:
        why = "nested too deeply" if "Recursion" in str(exc) else str(exc)
        raise ItemError("INVALID_FIELD", f"{what}: {why}.") from None
    if len(dumped) > MAX_PROPERTIES_BYTES:
        raise ItemError("FIELD_TOO_LONG", f"{what}: at most {MAX_PROPERTIES_BYTES} bytes of JSON.")
    if b"\\u0000" in dumped:  # orjson's escape of NUL; confirmed by the walk (a "\\u0000" text)
        where = _nul_in(properties)
        if where is not None:
            raise ItemError("INVALID_FIELD", f"{what}{where}: {NUL_MESSAGE}.")


def parse_event(index: int, item: Any, *, sent_at: datetime | None, received_at: datetime,
                oldest: datetime) -> EventItem:
    if isinstance(item, ItemError):  # a receiver's decoder already knew this one is bad
        raise item
    if not isinstance(item, dict):
        raise ItemError("INVALID_ITEM", "An event must be a JSON object.")
    name = _text(item, "event", MAX_NAME, required=True)
    distinct_id = _text(item, "distinct_id", MAX_ID, required=True)
    session_id = _text(item, "session_id", MAX_ID)
    raw_uuid = item.get("uuid")
    if raw_uuid is None or raw_uuid == "":
        event_uuid = uuidlib.uuid4()
    else:
        try:
            if not isinstance(raw_uuid, str) or len(raw_uuid) > 64:
                raise ValueError
            event_uuid = uuidlib.UUID(raw_uuid)
        except ValueError:
            raise ItemError("INVALID_UUID", "uuid: not a UUID.") from None
    properties = item.get("properties") or {}
    if not isinstance(properties, dict):
        raise ItemError("INVALID_FIELD", "properties: must be a JSON object.")
    check_properties(properties)
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


# Names and tag sets found valid before: the points of one series repeat them in every batch, and
# a set or dict look-up is cheaper than the checks. Bounded: emptied when full. A remembered tag
# set (str values only) is shared by the points that have it, and never changed.
MEMO_SIZE = 100_000
MEMO_TAGS_BYTES = 512
_valid_names: set[str] = set()
_tag_sets: dict[tuple, tuple[dict[str, str], str]] = {}


def _checked_tags(raw_tags: dict) -> tuple[dict[str, str], str]:
    """(tags, tags_key) of a point's ``tags`` object, or ItemError."""
    try:
        known = _tag_sets.get(tuple(raw_tags.items()))
    except TypeError:  # a value that is not hashable (a list, an object): refused below
        known = None
    if known is not None:
        return known
    if len(raw_tags) > MAX_TAGS:
        raise ItemError("TOO_MANY_TAGS", f"tags: at most {MAX_TAGS}.")
    tags: dict[str, str] = {}
    for key, tag_value in raw_tags.items():
        if not isinstance(key, str) or not TAG_KEY.match(key):
            raise ItemError("INVALID_TAGS", f"tags: key {str(key)[:50]!r} must match "
                                            "^[A-Za-z_][A-Za-z0-9_.:/-]{0,99}$.")
        if isinstance(tag_value, bool) or not isinstance(tag_value, str | int | float):
            raise ItemError("INVALID_TAGS", f"tags.{key}: must be a string.")
        try:
            tag_value = tag_value if isinstance(tag_value, str) else str(tag_value)
        except ValueError:  # an integer of more than 4,300 digits
            tag_value = ""
        if not tag_value or len(tag_value) > MAX_TAG_VALUE:
            raise ItemError("INVALID_TAGS", f"tags.{key}: 1 to {MAX_TAG_VALUE} characters.")
        if "\x00" in tag_value:
            raise ItemError("INVALID_TAGS", f"tags.{key}: {NUL_MESSAGE}.")
        tags[key] = tag_value
    checked = (tags, tags_key(tags))
    # Only sets whose values were strings (1, 1.0 and True are equal as keys, not as tags), and
    # small ones: a sender of ever-new 32-tag sets must not grow the memo by gigabytes.
    if len(checked[1]) <= MEMO_TAGS_BYTES and all(type(value) is str
                                                  for value in raw_tags.values()):
        if len(_tag_sets) >= MEMO_SIZE:
            _tag_sets.clear()
        _tag_sets[tuple(raw_tags.items())] = checked
    return checked


def check_name(name: Any) -> str:
    """A metric name, or ItemError."""
    if type(name) is not str or name not in _valid_names:
        if not isinstance(name, str) or not METRIC_NAME.match(name):
            raise ItemError("INVALID_NAME",
                            "name: must match ^[A-Za-z_][A-Za-z0-9_.:-]{0,199}$.")
        if len(_valid_names) >= MEMO_SIZE:
            _valid_names.clear()
        _valid_names.add(name)
    return name


def check_value(value: Any) -> float:
    """A point's value as a float, or ItemError."""
    if type(value) is float and value - value == 0.0:  # finite (inf - inf and nan are nan)
        return value
    try:
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise OverflowError
        return float(value)
    except OverflowError:  # also an integer beyond a double's range
        raise ItemError("INVALID_VALUE", "value: must be a finite number.") from None


def check_tags(raw_tags: Any) -> tuple[dict[str, str], str]:
    """(tags, tags_key) of a point's ``tags``, or ItemError."""
    if not isinstance(raw_tags, dict):
        raise ItemError("INVALID_TAGS", "tags: must be a JSON object of strings.")
    return _checked_tags(raw_tags)


def check_labels(columns: Columns) -> dict[int, tuple[str, str]]:
    """Check the labels a decoder added unchecked (``Columns.raw_label``), each once, however
    many points carry it: checked ones get their tags and tags_key in place; the others are
    returned, by number, with their rejection's code and message (for ``Columns.finish``)."""
    bad = {}
    for code, (name, key, tags) in enumerate(columns.labels):
        if key is None:
            try:
                name = check_name(name)
                tags, key = check_tags(tags)
                columns.labels[code] = (name, key, tags)
            except ItemError as exc:
                bad[code] = (exc.code, exc.message)
    return bad


def _add_point(columns: Columns, index: int, item: Any) -> None:
    if not isinstance(item, dict):
        raise ItemError("INVALID_ITEM", "A point must be a JSON object.")
    name = check_name(item.get("name"))
    value = check_value(item.get("value"))
    tags, key = check_tags(item.get("tags") or {})
    moment = item.get("timestamp")
    micros = NO_TIME if moment is None else _micros(moment)
    columns.add(index, columns.label(name, key, tags), value, micros)


def _micros(moment: Any) -> int:
    """``parse_time`` as epoch µs; an ISO 8601 text that Python reads as it is (nearly every
    one) goes the short way, with the same result."""
    if type(moment) is str and len(moment) <= 64:
        try:
            parsed = datetime.fromisoformat(moment)
        except ValueError:
            pass
        else:
            micros = micros_of(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
            if EARLIEST_US <= micros < LATEST_US:
                return micros
    return micros_of(parse_time(moment))


def parse_points(items: list, *, received_at: datetime, oldest: datetime) -> Parsed:
    """``items`` (JSON points) as a ``PointBatch`` of the valid ones, and the rejections, in
    the items' order. A time more than 5 minutes ahead of ``received_at`` becomes
    ``received_at`` (no time: ``received_at`` too); older than ``oldest`` is TOO_OLD."""
    columns = Columns()
    rejected = []
    for index, item in enumerate(items):
        try:
            _add_point(columns, index, item)
        except ItemError as exc:
            rejected.append(Rejected(index, exc.code, exc.message))
    batch, late = columns.finish(received_at=received_at, oldest=oldest)
    if late:
        rejected = sorted(rejected + late, key=lambda r: r.index)
    return Parsed(batch, rejected)
