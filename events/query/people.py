"""People and sessions: the people list (search, first and last seen, properties from
``identify`` traits, events), a person with their ids, sessions and events; the sessions list
(duration, pages, entry and exit, device, country) and a session's event timeline.

Reads: the people rollup (``events_person``: one row per person, identify links merged when
folded) and the session rollup (one row per session); a person's events by the index on
(project, id, time), a session's by the index on (project, session, time).
"""

from __future__ import annotations

import orjson
from psycopg import sql

from . import executor
from .executor import Statement
from .filters import NO_FILTERS, Filters, conditions, text
from .timerange import Span

MAX_LIMIT = 200
PERSON_ORDERING = {"-last_seen": "p.last_seen DESC", "last_seen": "p.last_seen ASC",
                   "-first_seen": "p.first_seen DESC", "first_seen": "p.first_seen ASC",
                   "-events": "p.events DESC", "events": "p.events ASC"}
SESSION_ORDERING = {"-started_at": "r.started_at DESC", "started_at": "r.started_at ASC",
                    "-duration": "(r.ended_at - r.started_at) DESC",
                    "-pageviews": "r.pageviews DESC"}
EVENT_COLUMNS = sql.SQL(
    'e.uuid, e.event, e.distinct_id, e.session_id, e."timestamp", e.path, e.page_url, '
    "e.referrer_domain, e.browser, e.os, e.device_type, e.country, e.channel, e.utm_source, "
    "e.utm_campaign, e.is_bot, e.properties")
EVENT_FIELDS = ("uuid", "event", "distinct_id", "session_id", "timestamp", "path", "page_url",
                "referrer", "browser", "os", "device", "country", "channel", "utm_source",
                "utm_campaign", "bot", "properties")


def as_json(value):
    """A jsonb value as read here (the connection hands jsonb over as text)."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def event_dict(row) -> dict:
    body = dict(zip(EVENT_FIELDS, row, strict=True))
    body["properties"] = as_json(body["properties"])
    body["uuid"] = str(body["uuid"])
    body["timestamp"] = body["timestamp"].isoformat()
    return body


def _event_filter(filters: Filters) -> sql.Composable:
    """People with an event in the range matching the filters (besides person properties,
    which apply to the people rollup itself)."""
    on_events = Filters(tuple(f for f in filters.items if not f.key.startswith("person.")),
                        bots=True)
    if on_events.empty:
        return sql.SQL("TRUE")
    return sql.SQL(
        "p.person_id IN (SELECT coalesce(a.person_id, e.distinct_id) FROM events_event e "
        "LEFT JOIN events_personalias a ON a.project_id = e.project_id "
        "AND a.distinct_id = e.distinct_id WHERE e.project_id = %(project)s "
        'AND e."timestamp" >= %(start)s AND e."timestamp" < %(end)s AND {})').format(
        conditions(on_events))


def _person_property(filters: Filters) -> list[sql.Composable]:
    parts = []
    for f in filters.items:
        if f.key.startswith("person."):
            expr = sql.SQL("(p.properties ->> {})").format(text(f.key[7:]))
            if f.op == "eq":
                parts.append(sql.SQL("{} = {}").format(expr, text(f.value)))
            elif f.op == "ne":
                parts.append(sql.SQL("{} IS DISTINCT FROM {}").format(expr, text(f.value)))
            else:
                parts.append(sql.SQL("strpos(lower({}), lower({})) > 0").format(
                    expr, text(f.value)))
    return parts


def people_statement(project_id: int, span: Span, *, search: str, filters: Filters,
                     ordering: str, limit: int, offset: int) -> Statement:
    """People seen in the range (their last event in it or after its start)."""
    where = [sql.SQL("p.project_id = %(project)s"), sql.SQL("p.last_seen >= %(start)s"),
             sql.SQL("p.first_seen < %(end)s"), _event_filter(filters),
             *_person_property(filters)]
    if not filters.bots:
        where.append(sql.SQL("p.events > p.bot_events"))
    if search:
        where.append(sql.SQL("(strpos(lower(p.person_id), lower(%(search)s)) > 0 "
                             "OR strpos(lower(p.properties::text), lower(%(search)s)) > 0)"))
    statement = sql.SQL("""
        SELECT p.person_id, p.first_seen, p.last_seen, p.events, p.properties,
               count(*) OVER () AS total
        FROM events_person p WHERE {where}
        ORDER BY {order}, p.person_id LIMIT %(limit)s OFFSET %(offset)s""").format(
        where=sql.SQL(" AND ").join(where), order=sql.SQL(PERSON_ORDERING[ordering]))
    return Statement(statement, {**span.params(project_id), "search": search,
                                 "limit": min(limit, MAX_LIMIT), "offset": offset},
                     table="events_person")


def people(project_id: int, span: Span, *, search: str = "", filters: Filters = NO_FILTERS,
           ordering: str = "-last_seen", limit: int = 50, offset: int = 0,
           use_cache: bool = True) -> dict:
    options = {"search": search, "ordering": ordering, "limit": limit, "offset": offset,
               **filters.spec()}

    def compute() -> dict:
        rows = executor.rows(people_statement(project_id, span, search=search, filters=filters,
                                              ordering=ordering, limit=limit, offset=offset))
        return {"count": rows[0][5] if rows else 0, "results": [
            {"person_id": person, "first_seen": first.isoformat(), "last_seen": last.isoformat(),
             "events": events, "properties": as_json(properties)}
            for person, first, last, events, properties, _ in rows]}

    return executor.answer(kind="people", project_id=project_id,
                           spec={**span.spec(), **options}, reaches_now=span.reaches_now,
                           compute=compute, use_cache=use_cache)


def person_statements(project_id: int, person_id: str, limit: int) -> list[Statement]:
    """The person, their ids, their latest sessions and their latest events."""
    params = {"project": project_id, "person": person_id, "limit": limit}
    ids = sql.SQL("(SELECT %(person)s UNION SELECT distinct_id FROM events_personalias "
                  "WHERE project_id = %(project)s AND person_id = %(person)s)")
    return [
        Statement(sql.SQL("SELECT first_seen, last_seen, events, bot_events, properties "
                          "FROM events_person WHERE project_id = %(project)s "
                          "AND person_id = %(person)s"), params, table="events_person"),
        Statement(sql.SQL("SELECT id FROM {ids} AS i(id) ORDER BY 1").format(ids=ids), params,
                  table="events_personalias"),
        Statement(sql.SQL("""
            SELECT r.session_id, r.started_at, r.ended_at, r.events, r.pageviews, r.entry_path,
                   r.exit_path, r.device_type, r.browser, r.country, r.channel
            FROM events_sessionrollup r
            WHERE r.project_id = %(project)s AND r.person_id IN {ids}
            ORDER BY r.started_at DESC LIMIT %(limit)s""").format(ids=ids), params,
                  table="events_sessionrollup"),
        Statement(sql.SQL("""
            SELECT {columns} FROM events_event e
            WHERE e.project_id = %(project)s AND e.distinct_id IN {ids}
            ORDER BY e."timestamp" DESC, e.uuid DESC LIMIT %(limit)s""").format(
            columns=EVENT_COLUMNS, ids=ids), params, table="events_event"),
    ]


SESSION_FIELDS = ("session_id", "started_at", "ended_at", "events", "pageviews", "entry_path",
                  "exit_path", "device", "browser", "country", "channel")


def _session_dict(row) -> dict:
    body = dict(zip(SESSION_FIELDS, row, strict=True))
    body["duration_s"] = (body["ended_at"] - body["started_at"]).total_seconds()
    body["started_at"] = body["started_at"].isoformat()
    body["ended_at"] = body["ended_at"].isoformat()
    return body


def resolve_statement(project_id: int, some_id: str) -> Statement:
    """The person an id belongs to (itself when it is linked to nobody)."""
    return Statement(sql.SQL(
        "SELECT coalesce((SELECT person_id FROM events_personalias WHERE project_id = "
        "%(project)s AND distinct_id = %(id)s), %(id)s)"), {"project": project_id,
                                                            "id": some_id},
        table="events_personalias")


def person(project_id: int, some_id: str, *, limit: int = 100) -> dict | None:
    """One person (by their id or any id linked to them), or None."""
    with executor.session() as s:
        person_id = s.one(resolve_statement(project_id, some_id))[0]
        about, ids, sessions, events = person_statements(project_id, person_id, limit)
        row = s.one(about)
        found_events = s.rows(events)
        if row is None and not found_events:
            return None
        first, last, count, bots, properties = row or (None, None, 0, 0, {})
        return {"person_id": person_id, "first_seen": first.isoformat() if first else None,
                "last_seen": last.isoformat() if last else None, "events_count": count,
                "bot": bool(count) and count == bots, "properties": as_json(properties) or {},
                "ids": [i for (i,) in s.rows(ids)],
                "sessions": [_session_dict(r) for r in s.rows(sessions)],
                "events": [event_dict(r) for r in found_events]}


def sessions_statement(project_id: int, span: Span, *, filters: Filters, ordering: str,
                       limit: int, offset: int) -> Statement:
    where = [sql.SQL("r.project_id = %(project)s"), sql.SQL("r.started_at >= %(start)s"),
             sql.SQL("r.started_at < %(end)s")]
    if not filters.bots:
        where.append(sql.SQL("NOT r.bot"))
    if not filters.empty:
        where.append(sql.SQL(
            "r.session_id IN (SELECT e.session_id FROM events_event e "
            'WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s '
            'AND e."timestamp" < %(end)s AND e.session_id IS NOT NULL AND {})').format(
            conditions(Filters(filters.items, bots=True))))
    statement = sql.SQL("""
        SELECT r.session_id, r.started_at, r.ended_at, r.events, r.pageviews, r.entry_path,
               r.exit_path, r.device_type, r.browser, r.country, r.channel, r.person_id,
               count(*) OVER () AS total
        FROM events_sessionrollup r WHERE {where}
        ORDER BY {order}, r.session_id LIMIT %(limit)s OFFSET %(offset)s""").format(
        where=sql.SQL(" AND ").join(where), order=sql.SQL(SESSION_ORDERING[ordering]))
    return Statement(statement, {**span.params(project_id), "limit": min(limit, MAX_LIMIT),
                                 "offset": offset}, table="events_sessionrollup")


def sessions_list(project_id: int, span: Span, *, filters: Filters = NO_FILTERS,
                  ordering: str = "-started_at", limit: int = 50, offset: int = 0,
                  use_cache: bool = True) -> dict:
    def compute() -> dict:
        rows = executor.rows(sessions_statement(project_id, span, filters=filters,
                                                ordering=ordering, limit=limit,
                                                offset=offset))
        return {"count": rows[0][12] if rows else 0,
                "results": [{**_session_dict(r[:11]), "person_id": r[11]} for r in rows]}

    return executor.answer(kind="sessions-list", project_id=project_id, spec={
        **span.spec(), "ordering": ordering, "limit": limit, "offset": offset,
        **filters.spec()}, reaches_now=span.reaches_now, compute=compute, use_cache=use_cache)


def session(project_id: int, session_id: str, *, limit: int = 500) -> dict | None:
    """A session and its events in order."""
    params = {"project": project_id, "session": session_id, "limit": limit}
    with executor.session() as s:
        row = s.one(Statement(sql.SQL(
            "SELECT session_id, started_at, ended_at, events, pageviews, entry_path, exit_path, "
            "device_type, browser, country, channel, person_id, os, referrer_domain, "
            "utm_source, utm_campaign, bot FROM events_sessionrollup "
            "WHERE project_id = %(project)s AND session_id = %(session)s"), params,
            table="events_sessionrollup"))
        if row is None:
            return None
        events = s.rows(Statement(sql.SQL("""
            SELECT {columns} FROM events_event e
            WHERE e.project_id = %(project)s AND e.session_id = %(session)s
            ORDER BY e."timestamp", e.uuid LIMIT %(limit)s""").format(columns=EVENT_COLUMNS),
            params, table="events_event"))
    body = _session_dict(row[:11])
    body.update(person_id=row[11], os=row[12], referrer=row[13], utm_source=row[14],
                utm_campaign=row[15], bot=row[16], timeline=[event_dict(r) for r in events])
    return body
