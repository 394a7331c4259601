"""Reads of the per-dimension rollups: breakdowns, the overview's totals and its time series,
without scanning raw events for the whole range.

A range is cut into whole UTC days (``events_dimrollup1d``), the whole hours at either end
(``events_dimrollup1h``) and the minutes at either end (raw events): a month reads about 30 day
rows and 46 hour rows per value and at most two hours of events. Events and page views add up;
people and sessions are KMV sketches (the k smallest hashes): their union is exact while fewer
than k distinct people or sessions were seen, and an estimate within about 1/sqrt(k) beyond.
Identify links resolve at query time: a sketch's anonymous ids count as the person they were
linked to later.

With filters (other than on bots), a breakdown or the overview reads raw events of the range:
the rollups cannot tell which events matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg import sql

from ..models import PAGEVIEW_EVENTS
from ..rollups import SKETCH_K, SKETCH_K_ALL
from .executor import Statement
from .filters import COLUMNS, Filters, conditions
from .timerange import Span

# The person and session of a raw event as a sketch hashes them.
VISITOR_HASH = sql.SQL("hashtextextended(e.person_id, 0)")
SESSION_HASH = sql.SQL("hashtextextended(e.session_id, 0)")
@dataclass(frozen=True)
class Pieces:
    """[start, end) as raw minutes, whole hours and whole UTC days."""

    start: datetime
    h0: datetime
    d0: datetime
    d1: datetime
    h1: datetime
    end: datetime

    def params(self) -> dict:
        return {"start": self.start, "end": self.end, "h0": self.h0, "h1": self.h1,
                "d0": self.d0, "d1": self.d1}


def _ceil(moment: datetime, unit: timedelta) -> datetime:
    floor = _floor(moment, unit)
    return floor if floor == moment else floor + unit


def _floor(moment: datetime, unit: timedelta) -> datetime:
    if unit == timedelta(days=1):
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


def pieces(span: Span) -> Pieces:
    hour, day = timedelta(hours=1), timedelta(days=1)
    h0, h1 = _ceil(span.start, hour), _floor(span.end, hour)
    if h0 >= h1:
        return Pieces(span.start, span.end, span.end, span.end, span.end, span.end)
    d0, d1 = _ceil(h0, day), _floor(h1, day)
    if d0 >= d1:
        d0 = d1 = h1
    return Pieces(span.start, h0, d0, d1, h1, span.end)


def _bots(filters: Filters, alias: str = "r") -> sql.Composable:
    return sql.SQL("TRUE") if filters.bots else sql.SQL("NOT {}.bot").format(
        sql.Identifier(alias))


def rollup_rows(dim: str, value: sql.Composable, filters: Filters) -> sql.Composed:
    """``(value, events, pageviews, visitors, sessions)`` of dimension ``dim`` over the pieces:
    day rows, hour rows and raw edges (``value`` is the raw events' column of it)."""
    raw_condition = sql.SQL(" AND ").join([conditions(filters), sql.SQL("{} IS NOT NULL").format(
        value)])
    if dim == "path":
        raw_condition = sql.SQL("{} AND e.event = ANY(%(pageviews)s)").format(raw_condition)
    return sql.SQL("""
        SELECT r.value, r.events, r.pageviews, r.visitors, r.sessions FROM events_dimrollup1d r
        WHERE r.project_id = %(project)s AND r.dim = {dim} AND {bots}
          AND r.bucket >= %(d0)s AND r.bucket < %(d1)s
        UNION ALL
        SELECT r.value, r.events, r.pageviews, r.visitors, r.sessions FROM events_dimrollup1h r
        WHERE r.project_id = %(project)s AND r.dim = {dim} AND {bots}
          AND ((r.bucket >= %(h0)s AND r.bucket < %(d0)s)
               OR (r.bucket >= %(d1)s AND r.bucket < %(h1)s))
        UNION ALL
        SELECT {value}, count(*), count(*) FILTER (WHERE e.event = ANY(%(pageviews)s)),
               array_agg(DISTINCT {vh}), coalesce(array_agg(DISTINCT {sh})
                                                   FILTER (WHERE e.session_id IS NOT NULL), '{{}}')
        FROM events_event e
        WHERE e.project_id = %(project)s
          AND ((e."timestamp" >= %(start)s AND e."timestamp" < %(h0)s)
               OR (e."timestamp" >= %(h1)s AND e."timestamp" < %(end)s))
          AND {raw}
        GROUP BY 1""").format(dim=sql.Literal(dim), bots=_bots(filters), value=value,
                              vh=VISITOR_HASH, sh=SESSION_HASH, raw=raw_condition)


def raw_rows(value: sql.Composable, filters: Filters, pageviews_only: bool) -> sql.Composed:
    """The same rows from raw events only (filters the rollups cannot apply)."""
    extra = sql.SQL(" AND e.event = ANY(%(pageviews)s)") if pageviews_only else sql.SQL("")
    return sql.SQL("""
        SELECT {value} AS value, count(*) AS events,
               count(*) FILTER (WHERE e.event = ANY(%(pageviews)s)) AS pageviews,
               array_agg(DISTINCT {vh}) AS visitors,
               coalesce(array_agg(DISTINCT {sh}) FILTER (WHERE e.session_id IS NOT NULL),
                        '{{}}') AS sessions
        FROM events_event e
        WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s
          AND e."timestamp" < %(end)s AND {value} IS NOT NULL AND {where}{extra}
        GROUP BY 1""").format(value=value, vh=VISITOR_HASH, sh=SESSION_HASH,
                              where=conditions(filters), extra=extra)


def estimate(values: str, column: str, k: int, linked: bool) -> sql.Composed:
    """Per value of CTE ``values``, the distinct hashes of ``column``: the k smallest of each
    value's union (a small sort per value); fewer than k is the exact set — then resolved
    through identify links when ``linked`` (a hash index lookup each) and counted — else the
    KMV estimate (links are not applied to an estimate)."""
    exact = sql.SQL("s.n")
    if linked and column == "visitors":
        exact = sql.SQL(
            "(SELECT count(DISTINCT coalesce(hashtextextended(a.person_id, 0), x)) "
            "FROM unnest(s.hs) AS x LEFT JOIN events_personalias a "
            "ON a.project_id = %(project)s AND hashtextextended(a.distinct_id, 0) = x)")
    return sql.SQL("""
        SELECT v.value, CASE WHEN s.n < {k} THEN {exact}
                             ELSE events_kmv_estimate(s.n, s.mx, {k}) END AS n
        FROM (SELECT DISTINCT value FROM {values}) AS v
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, max(h) AS mx, array_agg(h) AS hs FROM (
                SELECT DISTINCT u.h FROM {values} p, unnest(p.{column}) AS u(h)
                WHERE p.value IS NOT DISTINCT FROM v.value ORDER BY u.h LIMIT {k}) AS l) AS s
        """).format(k=sql.Literal(k), exact=exact, values=sql.Identifier(values),
                    column=sql.Identifier(column))


def breakdown_statement(project_id: int, dim: str, span: Span, limit: int, filters: Filters,
                        linked: bool, *, rank_by_pageviews: bool = False,
                        values: list[str] | None = None) -> Statement:
    """Top ``limit`` values of ``dim`` (or exactly ``values``): events, page views, people and
    sessions. From the rollups without filters, from raw events with them."""
    column = column_of(dim)
    if filters.empty:
        rows, table = rollup_rows(dim, column, filters), "events_dimrollup1d"
    else:
        rows, table = raw_rows(column, filters, dim == "path"), "events_event"
    order = sql.SQL("pageviews DESC, events DESC") if rank_by_pageviews else sql.SQL(
        "events DESC")
    chosen = sql.SQL("WHERE value = ANY(%(values)s)") if values is not None else sql.SQL("")
    k = SKETCH_K_ALL if dim == "all" else SKETCH_K
    statement = sql.SQL("""
        WITH parts AS ({rows}),
        ranked AS (
            SELECT value, sum(events)::bigint AS events, sum(pageviews)::bigint AS pageviews
            FROM parts {chosen} GROUP BY value ORDER BY {order}, value LIMIT %(limit)s
        ), top AS (SELECT p.* FROM parts p JOIN ranked USING (value)),
        visitors AS ({visitors}), sessions AS ({sessions})
        SELECT r.value, r.events, r.pageviews, coalesce(v.n, 0), coalesce(s.n, 0)
        FROM ranked r LEFT JOIN visitors v USING (value) LEFT JOIN sessions s USING (value)
        ORDER BY {order_r}, r.value""").format(
        rows=rows, chosen=chosen, order=order,
        order_r=sql.SQL("r.pageviews DESC, r.events DESC") if rank_by_pageviews
        else sql.SQL("r.events DESC"),
        visitors=estimate("top", "visitors", k, linked),
        sessions=estimate("top", "sessions", k, False))
    return Statement(statement, {"project": project_id, **pieces(span).params(),
                                 "limit": limit, "pageviews": list(PAGEVIEW_EVENTS),
                                 "values": values},
                     table=table, resolution=None if table == "events_event" else 86400)


def totals_statement(project_id: int, span: Span, filters: Filters,
                     linked: bool) -> Statement:
    """Events, page views, people, sessions and the top event of ``span``."""
    column = sql.SQL("e.event")
    if filters.empty:
        rows, table = rollup_rows("event", column, filters), "events_dimrollup1d"
        people = rollup_rows("all", sql.SQL("''"), filters)
    else:
        rows, table = raw_rows(column, filters, False), "events_event"
        people = sql.SQL("SELECT '' AS value, 0 AS events, 0 AS pageviews, "
                         "array_agg(x.h) AS visitors, '{}'::bigint[] AS sessions "
                         "FROM (SELECT unnest(visitors) AS h FROM parts) AS x")
    statement = sql.SQL("""
        WITH parts AS ({rows}),
        everyone AS ({people}),
        by_event AS (SELECT value, sum(events)::bigint AS n, sum(pageviews)::bigint AS pv
                     FROM parts GROUP BY value),
        visitors AS ({visitors})
        SELECT (SELECT coalesce(sum(n), 0) FROM by_event),
               (SELECT coalesce(sum(pv), 0) FROM by_event),
               (SELECT value FROM by_event ORDER BY n DESC, value LIMIT 1),
               (SELECT n FROM by_event ORDER BY n DESC, value LIMIT 1),
               (SELECT coalesce(sum(n), 0) FROM visitors)""").format(
        rows=rows, people=people,
        visitors=estimate("everyone", "visitors",
                           SKETCH_K_ALL if filters.empty else 10**9, linked))
    return Statement(statement, {"project": project_id, **pieces(span).params(),
                                 "pageviews": list(PAGEVIEW_EVENTS)}, table=table,
                     resolution=None if table == "events_event" else 86400)


def sessions_statement(project_id: int, span: Span, filters: Filters) -> Statement:
    """Sessions started in ``span``: count, with page views, bounces, summed durations — from
    the per-hour statistics and the session rollup at the ends, or (filtered) the sessions of
    the matching events."""
    if filters.empty:
        statement = sql.SQL("""
            SELECT sum(sessions)::bigint, sum(with_pageviews)::bigint, sum(bounces)::bigint,
                   sum(duration_sum)::float8 FROM (
                SELECT sessions, with_pageviews, bounces, duration_sum FROM events_sessionhour r
                WHERE project_id = %(project)s AND hour >= %(h0)s AND hour < %(h1)s AND {bots}
                UNION ALL
                SELECT 1, (pageviews > 0)::int, (pageviews = 1 AND events = 1)::int,
                       extract(epoch FROM ended_at - started_at)::float8
                FROM events_sessionrollup r
                WHERE project_id = %(project)s AND {bots}
                  AND ((started_at >= %(start)s AND started_at < %(h0)s)
                       OR (started_at >= %(h1)s AND started_at < %(end)s))) AS s""").format(
            bots=_bots(filters))
        table = "events_sessionhour"
    else:
        statement = sql.SQL("""
            SELECT count(*), count(*) FILTER (WHERE pageviews > 0),
                   count(*) FILTER (WHERE pageviews = 1 AND events = 1),
                   coalesce(sum(extract(epoch FROM ended_at - started_at)), 0)::float8
            FROM events_sessionrollup r
            WHERE r.project_id = %(project)s AND r.started_at >= %(start)s
              AND r.started_at < %(end)s
              AND r.session_id IN (SELECT e.session_id FROM events_event e
                                   WHERE e.project_id = %(project)s
                                     AND e."timestamp" >= %(start)s AND e."timestamp" < %(end)s
                                     AND e.session_id IS NOT NULL AND {where})""").format(
            where=conditions(filters))
        table = "events_sessionrollup"
    return Statement(statement, {"project": project_id, **pieces(span).params()}, table=table)


def _bucket(column: sql.Composable, interval: str, tz: str) -> sql.Composable:
    if interval == "hour":
        return column
    return sql.SQL("(date_trunc('day', {t} AT TIME ZONE {tz}) AT TIME ZONE {tz})").format(
        t=column, tz=sql.Literal(tz))


def column_of(dim: str) -> sql.Composable:
    """A dimension's value on a raw event: its column, except the referrer, which counts only
    from another site (as ingest decides it for the rollups)."""
    if dim == "referrer":
        return sql.SQL(
            "(CASE WHEN e.referrer_domain = regexp_replace(substring(e.page_url FROM "
            "'^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)'), '^www[.]', '') THEN NULL "
            "ELSE e.referrer_domain END)")
    if dim == "all":
        return sql.SQL("''")
    return sql.SQL("e.{}").format(sql.Identifier(COLUMNS[dim]))


def timeseries_statement(project_id: int, start: datetime, end: datetime, interval: str,
                         tz: str, filters: Filters, linked: bool) -> Statement:
    """Events, page views, people and sessions per hour or local day of whole hours
    [start, end): from the hour rows of the rollup (``all``), or raw events with filters."""
    if filters.empty:
        b = _bucket(sql.SQL("r.bucket"), interval, tz)
        rows = sql.SQL("""
            SELECT {b} AS b, r.events, r.pageviews, r.visitors, r.sessions
            FROM events_dimrollup1h r
            WHERE r.project_id = %(project)s AND r.dim = 'all' AND {bots}
              AND r.bucket >= %(start)s AND r.bucket < %(end)s""").format(
            b=b, bots=_bots(filters))
        table, k = "events_dimrollup1h", SKETCH_K_ALL
    else:
        b = _bucket(sql.SQL("date_trunc('hour', e.\"timestamp\", 'UTC')"), interval, tz)
        rows = sql.SQL("""
            SELECT {b} AS b, count(*), count(*) FILTER (WHERE e.event = ANY(%(pageviews)s)),
                   array_agg(DISTINCT {vh}), coalesce(array_agg(DISTINCT {sh})
                                                       FILTER (WHERE e.session_id IS NOT NULL),
                                                       '{{}}')
            FROM events_event e
            WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s
              AND e."timestamp" < %(end)s AND {where}
            GROUP BY 1""").format(b=b, vh=VISITOR_HASH, sh=SESSION_HASH,
                                  where=conditions(filters))
        table, k = "events_event", 10**9
    statement = sql.SQL("""
        WITH parts AS (SELECT b AS value, events, pageviews, visitors, sessions
                       FROM ({rows}) AS x(b, events, pageviews, visitors, sessions)),
        totals AS (SELECT value, sum(events)::bigint AS events, sum(pageviews)::bigint AS pv
                   FROM parts GROUP BY value),
        visitors AS ({visitors}), sessions AS ({sessions})
        SELECT extract(epoch FROM t.value)::bigint, t.events, t.pv, coalesce(v.n, 0),
               coalesce(s.n, 0)
        FROM totals t LEFT JOIN visitors v USING (value) LEFT JOIN sessions s USING (value)
        ORDER BY 1""").format(
        rows=rows, visitors=estimate("parts", "visitors", k, linked),
        sessions=estimate("parts", "sessions", k, False))
    return Statement(statement, {"project": project_id, "start": start, "end": end,
                                 "pageviews": list(PAGEVIEW_EVENTS)}, table=table,
                     resolution=3600 if table != "events_event" else None)
