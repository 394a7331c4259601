"""Paths: the pages (or events) people most often go to next from a chosen start, or came from
before it, step by step (drawn as a Sankey); and the pages sessions enter and leave by.

Definitions: paths are followed inside a session, from the first time it reaches the start in
the range; a page viewed again right after itself (a reload) counts once; at each step the eight
most common items are kept and the rest are folded into "other"; a session that ends counts as
"(end)". Known crawlers are left out unless asked for.

Reads: for pages without filters, the pairs pre-aggregated per day and hour of the sessions'
start (``events_pathrollup1d`` and ``1h``, built by ``events.pathhours`` once their sessions are
over) and, for the rest of the range (the minutes at either end, the last hours, an hour
changed since it was built), the session rollup — each session keeps its first 50 page views
in order, and a GIN index finds the sessions that saw the start page (paths follow sessions that
started in the range). With filters, the session rollup for the whole range. For events, the
sessions that reached the start from the index on (project, event, path, time) that carries the
session, then each one's events in order from the index on (project, session, time), bounded by
the session's end. Entry and exit pages read the session rollup.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg import sql

from analytics_site.errors import ValidationFailed

from ..models import PAGEVIEW_EVENTS
from . import executor
from .executor import Statement
from .filters import NO_FILTERS, Filters, conditions
from .timerange import Span

KINDS = ("pages", "events")
DIRECTIONS = ("next", "previous")
MAX_DEPTH = 5
TOP_PER_STEP = 8
END = "(end)"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Live stretches shorter than this find their sessions by time, not by the page index: the
# index would list every session that ever saw the page.
BY_TIME_UNDER = timedelta(days=2)


def built_statement(project_id: int, span: Span) -> Statement:
    """The whole UTC days and hours of the span whose paths are pre-aggregated
    (``events.pathhours``): ('d', day start) and ('h', hour start) rows."""
    return Statement(sql.SQL(
        "SELECT 'd', day::timestamp AT TIME ZONE 'UTC' FROM events_pathday "
        "WHERE project_id = %(project)s AND day >= %(d0)s AND day < %(d1)s "
        "UNION ALL SELECT 'h', hour FROM events_pathhour WHERE project_id = %(project)s "
        "AND hour >= %(h0)s AND hour < %(h1)s ORDER BY 2, 1"),
        {"project": project_id, "h0": _after(span.start, HOUR), "h1": _floor(span.end, HOUR),
         "d0": _after(span.start, DAY).date(), "d1": _floor(span.end, DAY).date()},
        table="events_pathhour")


def _floor(moment: datetime, unit: timedelta) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if unit == DAY else moment


def _after(moment: datetime, unit: timedelta) -> datetime:
    floor = _floor(moment, unit)
    return floor if floor == moment else floor + unit


def covered(built: list[tuple[str, datetime]]) -> tuple[list[datetime], list[datetime]]:
    """The built days, and the built hours outside them."""
    days = [at for kind, at in built if kind == "d"]
    inside = {day + HOUR * n for day in days for n in range(24)}
    return days, [at for kind, at in built if kind == "h" and at not in inside]


def live_ranges(span: Span, days: list[datetime],
                hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """[start, end) less the built days and hours: the stretches read from the sessions."""
    ranges, at = [], span.start
    for begins, ends in sorted([(d, d + DAY) for d in days] + [(h, h + HOUR) for h in hours]):
        if begins > at:
            ranges.append((at, begins))
        at = max(at, ends)
    if at < span.end:
        ranges.append((at, span.end))
    return ranges


def _rollup_statement(project_id: int, table: str, times: list, *, start: str, direction: str,
                      depth: int, filters: Filters) -> Statement:
    """The built days' (``events_pathrollup1d``) or hours' (``events_pathrollup1h``) pairs,
    summed."""
    bots = sql.SQL("") if filters.bots else sql.SQL(" AND NOT bot")
    column = "day" if table == "events_pathrollup1d" else "hour"
    return Statement(sql.SQL(
        "SELECT step, value, next, sum(sessions)::bigint FROM {table} "
        "WHERE project_id = %(project)s AND origin = %(start)s AND direction = %(direction)s "
        "AND {column} = ANY(%(times)s) AND step < %(depth)s{bots} GROUP BY 1, 2, 3").format(
        table=sql.Identifier(table), column=sql.Identifier(column), bots=bots),
        {"project": project_id, "start": start, "depth": depth, "times": times,
         "direction": 1 if direction == "next" else -1}, table=table,
        resolution=86400 if column == "day" else 3600)


def _pages_statement(project_id: int, span: Span, *, start: str, direction: str, depth: int,
                     filters: Filters,
                     ranges: list[tuple[datetime, datetime]] | None = None) -> Statement:
    """Page paths from the sessions' own page lists (``events_sessionrollup.pages``, the first
    50 page views of each session): the sessions started in the range (or in ``ranges``) that
    saw the start page (a GIN index finds them), one row each."""
    ranges = [(span.start, span.end)] if ranges is None else ranges
    within = sql.SQL(" OR ").join(
        sql.SQL("(r.started_at >= %(r{n}a)s AND r.started_at < %(r{n}b)s)").format(
            n=sql.SQL(str(n))) for n in range(len(ranges))) if ranges else sql.SQL("FALSE")
    bounds = {f"r{n}{end}": moment for n, pair in enumerate(ranges)
              for end, moment in zip("ab", pair, strict=True)}
    short = sum((b - a for a, b in ranges), timedelta()) < BY_TIME_UNDER
    where = [sql.SQL("r.project_id = %(project)s"), sql.SQL("({})").format(within),
             sql.SQL("array_position(r.pages, %(start)s) IS NOT NULL") if short
             else sql.SQL("r.pages @> ARRAY[%(start)s]::text[]")]
    if not filters.bots:
        where.append(sql.SQL("NOT r.bot"))
    if not filters.empty:
        where.append(sql.SQL(
            "r.session_id IN (SELECT e.session_id FROM events_event e "
            'WHERE e.project_id = %(project)s AND e."timestamp" >= %(start_at)s '
            'AND e."timestamp" < %(end_at)s AND e.session_id IS NOT NULL AND {})').format(
            conditions(Filters(filters.items, bots=True))))
    # Per session, without sorting sessions against each other: its page list with reloads
    # collapsed, the first position of the start page, and the (step, page, next page) pairs
    # from there, read off the array.
    way = sql.SQL("") if direction == "next" else sql.SQL("-")
    statement = sql.SQL("""
        WITH s AS MATERIALIZED (  -- once per session, not once per use below
            SELECT c, array_position(c, %(start)s) AS at FROM (
                SELECT ARRAY(SELECT u.value FROM unnest(r.pages) WITH ORDINALITY AS u(value, i)
                             WHERE u.value IS DISTINCT FROM r.pages[u.i - 1]
                             ORDER BY u.i) AS c
                FROM events_sessionrollup r WHERE {where}) AS q
        )
        SELECT g.step, s.c[s.at + {way}g.step],
               coalesce(s.c[s.at + {way}(g.step + 1)], {end}), count(*)
        FROM s CROSS JOIN generate_series(0, %(depth)s - 1) AS g(step)
        WHERE s.at + {way}g.step BETWEEN 1 AND cardinality(s.c)
        GROUP BY 1, 2, 3""").format(where=sql.SQL(" AND ").join(where), way=way,
                                    end=sql.Literal(END))
    return Statement(statement, {"project": project_id, "start_at": span.start,
                                 "end_at": span.end, "start": start, "depth": depth, **bounds},
                     table="events_sessionrollup")


def paths_statement(project_id: int, span: Span, *, start: str, kind: str, direction: str,
                    depth: int, filters: Filters) -> Statement:
    if kind == "pages":
        return _pages_statement(project_id, span, start=start, direction=direction,
                                depth=depth, filters=filters)
    value = sql.SQL("x.path") if kind == "pages" else sql.SQL("x.event")
    start_match = sql.SQL("e.event = ANY(%(pageviews)s) AND e.path = %(start)s") \
        if kind == "pages" else sql.SQL("e.event = %(start)s")
    only_pages = sql.SQL("AND x.event = ANY(%(pageviews)s)") if kind == "pages" \
        else sql.SQL("")
    later = direction == "next"
    statement = sql.SQL("""
        WITH firsts AS (
            SELECT DISTINCT ON (e.session_id) e.session_id, e."timestamp" AS t0
            FROM events_event e
            WHERE e.project_id = %(project)s AND e."timestamp" >= %(start_at)s
              AND e."timestamp" < %(end_at)s AND e.session_id IS NOT NULL
              AND {start_match} AND {where}
            ORDER BY e.session_id, e."timestamp"
        ), starts AS (  -- each with its session's bounds: a probe reads its own days only
            SELECT f.session_id, f.t0, r.started_at, r.ended_at FROM firsts f
            JOIN events_sessionrollup r ON r.project_id = %(project)s
                 AND r.session_id = f.session_id
        ), seq AS (
            SELECT s.session_id, v.value, v.ts FROM starts s
            CROSS JOIN LATERAL (
                SELECT {value} AS value, x."timestamp" AS ts FROM events_event x
                WHERE x.project_id = %(project)s AND x.session_id = s.session_id
                  AND x."timestamp" {cmp} s.t0 AND x."timestamp" >= s.started_at
                  AND x."timestamp" <= s.ended_at {only_pages}
                ORDER BY x."timestamp" {order} LIMIT %(fetch)s) AS v
        ), collapsed AS (
            SELECT session_id, value, ts FROM (
                SELECT session_id, value, ts,
                       lag(value) OVER (PARTITION BY session_id ORDER BY ts {order}) AS before
                FROM seq) AS q
            WHERE before IS DISTINCT FROM value
        ), numbered AS (
            SELECT session_id, value,
                   row_number() OVER (PARTITION BY session_id ORDER BY ts {order}) - 1 AS step
            FROM collapsed
        )
        SELECT step, value, next_value, count(*) FROM (
            SELECT n.step, n.value,
                   coalesce(lead(n.value) OVER (PARTITION BY n.session_id ORDER BY n.step),
                            {end}) AS next_value
            FROM numbered n WHERE n.step <= %(depth)s) AS t
        WHERE step < %(depth)s
        GROUP BY 1, 2, 3""").format(
        start_match=start_match, where=conditions(filters), value=value,
        cmp=sql.SQL(">=") if later else sql.SQL("<="), only_pages=only_pages,
        order=sql.SQL("") if later else sql.SQL("DESC"), end=sql.Literal(END))
    return Statement(statement, {"project": project_id, "start_at": span.start,
                                 "end_at": span.end, "start": start, "depth": depth,
                                 "fetch": depth * 3 + 2, "pageviews": list(PAGEVIEW_EVENTS)},
                     table="events_event")


def _sankey(rows) -> dict:
    """Nodes per step (the top items, the rest as "other") and the links between them; a
    node's count is the sessions passing through it."""
    by_step: dict[int, dict[str, int]] = {}
    for step, value, nxt, count in rows:
        if step == 0:
            by_step.setdefault(0, {})
            by_step[0][value] = by_step[0].get(value, 0) + count
        by_step.setdefault(step + 1, {})
        by_step[step + 1][nxt] = by_step[step + 1].get(nxt, 0) + count
    kept = {step: {v for v, _ in sorted(counts.items(), key=lambda i: (-i[1], i[0]))
                   [:TOP_PER_STEP]} for step, counts in by_step.items()}

    def name(step: int, value: str) -> str:
        return value if value == END or value in kept.get(step, ()) else "other"

    links: dict[tuple[int, str, str], int] = {}
    for step, value, nxt, count in rows:
        key = (step, name(step, value), name(step + 1, nxt))
        links[key] = links.get(key, 0) + count
    nodes: dict[tuple[int, str], int] = {}
    for (step, a, b), count in links.items():
        if step == 0:
            nodes[(0, a)] = nodes.get((0, a), 0) + count
        nodes[(step + 1, b)] = nodes.get((step + 1, b), 0) + count
    order = sorted(nodes, key=lambda key: (key[0], -nodes[key], key[1]))
    index = {key: n for n, key in enumerate(order)}
    return {"nodes": [{"step": step, "value": value, "count": nodes[(step, value)]}
                      for step, value in order],
            "links": [{"source": index[(step, a)], "target": index[(step + 1, b)],
                       "count": count}
                      for (step, a, b), count in sorted(links.items(),
                                                        key=lambda item: (-item[1], item[0]))]}


def page_rows(project_id: int, span: Span, *, start: str, direction: str, depth: int,
              filters: Filters) -> list[tuple]:
    """(step, page, next page, sessions) without filters: the built days and hours from their
    rollups, the rest (the minutes at either end, the last hours, an hour changed since it was
    built) from the sessions."""
    with executor.session() as s:
        days, hours = covered(s.rows(built_statement(project_id, span)))
        ranges = live_ranges(span, days, hours)
        parts = [_rollup_statement(project_id, table, times, start=start, direction=direction,
                                   depth=depth, filters=filters)
                 for table, times in (("events_pathrollup1d", [d.date() for d in days]),
                                      ("events_pathrollup1h", hours)) if times]
        if ranges:
            parts.append(_pages_statement(project_id, span, start=start, direction=direction,
                                          depth=depth, filters=filters, ranges=ranges))
        found: dict[tuple, int] = {}
        for statement in parts:
            for step, value, nxt, count in s.rows(statement):
                found[(step, value, nxt)] = found.get((step, value, nxt), 0) + count
    return [(*key, count) for key, count in found.items()]


def paths(project_id: int, span: Span, *, start: str, kind: str = "pages",
          direction: str = "next", depth: int = 3, filters: Filters = NO_FILTERS,
          use_cache: bool = True) -> dict:
    if kind not in KINDS:
        raise ValidationFailed("kind: pages or events.", details={"kind": ["pages or events"]})
    if direction not in DIRECTIONS:
        raise ValidationFailed("direction: next or previous.",
                               details={"direction": ["next or previous"]})
    if not 1 <= depth <= MAX_DEPTH:
        raise ValidationFailed(f"depth: 1 to {MAX_DEPTH}.", details={"depth": ["Out of range."]})

    def compute() -> dict:
        if kind == "pages" and filters.empty:
            rows = page_rows(project_id, span, start=start, direction=direction, depth=depth,
                             filters=filters)
        else:
            rows = executor.rows(paths_statement(project_id, span, start=start, kind=kind,
                                                 direction=direction, depth=depth,
                                                 filters=filters))
        return {"start": start, "kind": kind, "direction": direction, "depth": depth,
                "sessions": sum(c for step, value, _n, c in rows if step == 0),
                **_sankey(rows)}

    return executor.answer(kind="paths", project_id=project_id, spec={
        **span.spec(), "start": start, "kind": kind, "direction": direction, "depth": depth,
        **filters.spec()}, reaches_now=span.reaches_now, compute=compute, use_cache=use_cache)


def entries_statement(project_id: int, span: Span, filters: Filters, limit: int) -> Statement:
    """Sessions started in the range by entry page and by exit page."""
    bots = sql.SQL("") if filters.bots else sql.SQL(" AND NOT bot")
    statement = sql.SQL("""
        SELECT kind, value, sessions FROM (
            SELECT kind, value, count(*) AS sessions,
                   row_number() OVER (PARTITION BY kind ORDER BY count(*) DESC, value) AS rank
            FROM events_sessionrollup,
                 LATERAL (VALUES ('entry', entry_path), ('exit', exit_path)) AS v(kind, value)
            WHERE project_id = %(project)s AND started_at >= %(start)s
              AND started_at < %(end)s AND value IS NOT NULL{bots}
            GROUP BY kind, value) AS r
        WHERE rank <= %(limit)s ORDER BY kind, sessions DESC, value""").format(bots=bots)
    return Statement(statement, {**span.params(project_id), "limit": limit},
                     table="events_sessionrollup")


def entries(project_id: int, span: Span, *, filters: Filters = NO_FILTERS, limit: int = 10,
            use_cache: bool = True) -> dict:
    def compute() -> dict:
        found: dict[str, list] = {"entry": [], "exit": []}
        for kind, value, sessions in executor.rows(entries_statement(project_id, span,
                                                                     filters, limit)):
            found[kind].append({"value": value, "sessions": sessions})
        return {"entry_pages": found["entry"], "exit_pages": found["exit"]}

    return executor.answer(kind="entries", project_id=project_id, spec={
        **span.spec(), "limit": limit, "bots": filters.bots}, reaches_now=span.reaches_now,
        compute=compute, use_cache=use_cache)
