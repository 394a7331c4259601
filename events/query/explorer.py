"""The event explorer: raw events of a range, newest first, with filters and chosen property
columns, paged by keyset (a cursor of the last row's time and id, so a page never skips or
repeats rows as new events arrive), and the events newer than a cursor for a live tail.

Reads: the index on (project, time) — one page reads about ``limit`` rows of the newest
partitions, however long the range.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime

from psycopg import sql

from analytics_site.errors import ValidationFailed

from . import executor
from .executor import Statement
from .filters import NO_FILTERS, Filters, conditions
from .people import EVENT_COLUMNS, event_dict
from .timerange import Span

MAX_LIMIT = 200
MAX_COLUMNS = 8


def encode_cursor(moment: datetime, event_id: str) -> str:
    raw = f"{int(moment.timestamp() * 1_000_000)}:{event_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None, name: str = "after") -> tuple[datetime, uuid.UUID] | None:
    if text in (None, ""):
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        micros, _, event_id = raw.partition(":")
        return (datetime.fromtimestamp(int(micros) / 1_000_000, UTC), uuid.UUID(event_id))
    except (ValueError, binascii.Error, OverflowError, OSError, UnicodeDecodeError):
        raise ValidationFailed(f"{name}: not a cursor of this list.",
                               details={name: ["Invalid cursor."]}) from None


def page_statement(project_id: int, span: Span, *, filters: Filters, limit: int,
                   after: tuple[datetime, uuid.UUID] | None,
                   newer_than: tuple[datetime, uuid.UUID] | None) -> Statement:
    where = [sql.SQL("e.project_id = %(project)s"), sql.SQL('e."timestamp" >= %(start)s'),
             sql.SQL('e."timestamp" < %(end)s'), conditions(filters)]
    params = {**span.params(project_id), "limit": limit}
    if after is not None:
        where.append(sql.SQL('(e."timestamp", e.uuid) < (%(at)s, %(id)s)'))
        params.update(at=after[0], id=after[1])
    order = sql.SQL('e."timestamp" DESC, e.uuid DESC')
    if newer_than is not None:  # the live tail: oldest first after the cursor
        where.append(sql.SQL('(e."timestamp", e.uuid) > (%(at)s, %(id)s)'))
        params.update(at=newer_than[0], id=newer_than[1])
        order = sql.SQL('e."timestamp", e.uuid')
    statement = sql.SQL("SELECT {columns} FROM events_event e WHERE {where} ORDER BY {order} "
                        "LIMIT %(limit)s").format(columns=EVENT_COLUMNS,
                                                  where=sql.SQL(" AND ").join(where),
                                                  order=order)
    return Statement(statement, params, table="events_event")


def events_page(project_id: int, span: Span, *, filters: Filters = NO_FILTERS, limit: int = 50,
                after: str | None = None, newer_than: str | None = None,
                columns: tuple[str, ...] = (), use_cache: bool = True) -> dict:
    """A page of events (``next``: the cursor of the page after it, or None at the end), or
    with ``newer_than`` the events after that cursor, oldest first (``latest``: the cursor to
    ask from next time)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit: 1 to {MAX_LIMIT}.", details={"limit": ["Out of range."]})
    if len(columns) > MAX_COLUMNS:
        raise ValidationFailed(f"columns: at most {MAX_COLUMNS}.",
                               details={"columns": [f"At most {MAX_COLUMNS}."]})
    position = decode_cursor(after)
    newer = decode_cursor(newer_than, "newer_than")

    def compute() -> dict:
        rows = executor.rows(page_statement(project_id, span, filters=filters, limit=limit,
                                            after=position, newer_than=newer))
        events = [event_dict(r) for r in rows]
        for event, row in zip(events, rows, strict=True):
            event["columns"] = {c: event["properties"].get(c) for c in columns}
            event["cursor"] = encode_cursor(row[4], str(row[0]))
        last = rows[-1] if rows else None
        body = {"results": events, "columns": list(columns),
                "next": encode_cursor(last[4], str(last[0]))
                if last and newer is None and len(rows) == limit else None}
        if newer is not None:
            body["latest"] = encode_cursor(last[4], str(last[0])) if last else newer_than
        return body

    return executor.answer(kind="explorer", project_id=project_id, spec={
        **span.spec(), "limit": limit, "after": after, "newer": newer_than,
        "columns": list(columns), **filters.spec()}, reaches_now=span.reaches_now,
        compute=compute, use_cache=use_cache)
