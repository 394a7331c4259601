"""Retention: cohorts of people by when they first came (or first did a chosen event), and how
many of them come back (do a returning event, any by default) in each later day, week or month
of the project's time zone.

Definitions: a person is every id linked by ``identify``; the cohort of a person is the period
of their first event ever (``events_person.first_seen``) or, with a cohort event, of their first
such event in the range; period 0 is the cohort itself (everyone in it), period n counts the
people with a returning event n periods later. Known crawlers are left out unless asked for.

Reads: without filters, one row per person of the people rollup (first seen in the range) with
the hours they were active in (``events_person.active_hours``); with a chosen cohort or
returning event, the hourly sets of ids of that event (``events_eventrollup1h``; of all events,
``events_hourrollup``, for returns on any event) resolved through identify links by hash —
never raw events. Periods are made of whole UTC hours (exact
for zones on whole-hour offsets). With filters, the matching raw events of the range.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from psycopg import sql

from analytics_site.errors import ValidationFailed

from . import executor
from .executor import Statement
from .filters import NO_FILTERS, Filters, conditions, text
from .timerange import Span

PERIODS = {"day": 1, "week": 7, "month": 31}
MAX_PERIODS = 60
# Materialized: every hour's ids are looked up in one hash of the links (an index probe per id,
# which the planner picks when it inlines the links, took 20 s over 8 weeks of 1.4 M people).
ALIASES = sql.SQL(
    "aliases AS MATERIALIZED (SELECT hashtextextended(distinct_id, 0) AS dh, "
    "hashtextextended(person_id, 0) AS ph FROM events_personalias "
    "WHERE project_id = %(project)s)")
NOT_BOTS = sql.SQL(
    "ph <> ALL(ARRAY(SELECT hashtextextended(person_id, 0) FROM events_person "
    "WHERE project_id = %(project)s AND events = bot_events))")


def period_start(moment: datetime, period: str, tz: str) -> datetime:
    """The start of the day, week (Monday) or month ``moment`` falls in, in ``tz``."""
    local = moment.astimezone(ZoneInfo(tz)).replace(hour=0, minute=0, second=0, microsecond=0,
                                                    tzinfo=None)
    if period == "week":
        local -= timedelta(days=local.weekday())
    elif period == "month":
        local = local.replace(day=1)
    return local.replace(tzinfo=ZoneInfo(tz)).astimezone(moment.tzinfo)


def _offset(later: str, earlier: str) -> sql.Composed:
    """Whole periods from ``earlier`` to ``later`` (both local period starts)."""
    return sql.SQL("""CASE %(period)s
        WHEN 'day' THEN ({l}::date - {e}::date)
        WHEN 'week' THEN ({l}::date - {e}::date) / 7
        ELSE (extract(year FROM {l}) * 12 + extract(month FROM {l})
              - extract(year FROM {e}) * 12 - extract(month FROM {e}))::int END""").format(
        l=sql.SQL(later), e=sql.SQL(earlier))


LOCAL = "date_trunc(%(period)s, {} AT TIME ZONE %(tz)s)"


def _ids_by_hour(event: str | None, column: str = "h") -> sql.Composed:
    """(person hash, local period) of every id active in an hour of the range: the hourly sets
    of all events, or of one event."""
    if event is None:
        source = sql.SQL("events_hourrollup r")
        where = sql.SQL("")
    else:
        source = sql.SQL("events_eventrollup1h r")
        where = sql.SQL(" AND r.event = {}").format(text(event))
    return sql.SQL(
        "SELECT coalesce(a.ph, u.h) AS ph, {local} AS p FROM {source} "
        "CROSS JOIN LATERAL unnest(r.distinct_ids) AS u(h) LEFT JOIN aliases a ON a.dh = u.h "
        "WHERE r.project_id = %(project)s AND r.hour >= %(start)s AND r.hour < %(end)s{where}"
    ).format(local=sql.SQL(LOCAL.format("r.hour")), source=source, where=where)


def _first_seen_in_range(columns: sql.Composable, filters: Filters) -> sql.Composed:
    """``columns`` of the people first seen in the range (crawlers left out unless asked for)."""
    return sql.SQL(
        "SELECT {columns} FROM events_person WHERE project_id = %(project)s "
        "AND first_seen >= %(start)s AND first_seen < %(end)s{bots}").format(
        columns=columns,
        bots=sql.SQL("") if filters.bots else sql.SQL(" AND events > bot_events"))


def _people_statement(filters: Filters) -> sql.Composed:
    """Cohorts by first event, returning on any event: one row per person of the people rollup,
    their cohort and their active hours (``events_person.active_hours``, kept by the fold).

    Every hour of the range is numbered with its period once (``at``: an array from the range's
    first hour). Everyone counts in their cohort; the hours of those whose last hour falls after
    their cohort's period are then unnested, and an hour counts them back in its period when the
    hour before it (their hours are sorted) is in another period — no per-person sort, distinct
    or join. (The cohort rides along the hours so that the planner sees few groups and adds them
    up in each worker.)"""
    at = sql.SQL(
        "(SELECT ARRAY(SELECT {offset} FROM generate_series(%(h0)s, %(h1)s - 1) AS g(h)))"
    ).format(offset=_offset(LOCAL.format("to_timestamp(g.h * 3600.0)"),
                            LOCAL.format("%(start)s")))
    people = _first_seen_in_range(sql.SQL("{cohort} AS c, active_hours AS hs, {at} AS at").format(
        cohort=_offset(LOCAL.format("first_seen"), LOCAL.format("%(start)s")), at=at), filters)
    return sql.SQL("""
        WITH people AS NOT MATERIALIZED ({people})
        SELECT {local} + c * ('1 ' || %(period)s)::interval, o, n FROM (
            SELECT p.c, 0 AS o, count(*) AS n FROM people AS p GROUP BY p.c
            UNION ALL
            SELECT u.c, p.at[u.h - %(h0)s + 1] - u.c, count(*) FROM people AS p
            CROSS JOIN LATERAL unnest(p.hs, array_fill(p.c, ARRAY[cardinality(p.hs)]))
                 WITH ORDINALITY AS u(h, c, i)
            WHERE p.at[least(p.hs[cardinality(p.hs)], %(h1)s - 1) - %(h0)s + 1] > p.c
              AND u.h >= %(h0)s AND u.h < %(h1)s AND p.at[u.h - %(h0)s + 1] > u.c
              AND p.at[p.hs[u.i - 1] - %(h0)s + 1]
                  IS DISTINCT FROM p.at[u.h - %(h0)s + 1]
            GROUP BY 1, 2) AS x""").format(people=people,
                                           local=sql.SQL(LOCAL.format("%(start)s")))


def _rollup_statement(cohort_event: str | None, return_event: str | None,
                      filters: Filters) -> sql.Composed:
    if cohort_event is None and return_event is None:
        return _people_statement(filters)
    if cohort_event is None:
        cohort = _first_seen_in_range(sql.SQL("hashtextextended(person_id, 0) AS ph, {} AS c")
                                      .format(sql.SQL(LOCAL.format("first_seen"))), filters)
    else:
        cohort = sql.SQL("SELECT ph, min(p) AS c FROM ({ids}) AS i{bots} GROUP BY ph").format(
            ids=_ids_by_hour(cohort_event),
            bots=sql.SQL("") if filters.bots else sql.SQL(" WHERE {}").format(NOT_BOTS))
    return sql.SQL("""
        WITH {aliases},
        cohort AS ({cohort}),
        active AS (SELECT DISTINCT ph, p FROM ({ids}) AS i)
        SELECT c, 0, count(*) FROM cohort GROUP BY c
        UNION ALL
        SELECT c.c, {offset}, count(*) FROM cohort c JOIN active x ON x.ph = c.ph AND x.p > c.c
        GROUP BY 1, 2""").format(aliases=ALIASES, cohort=cohort,
                                 ids=_ids_by_hour(return_event),
                                 offset=_offset("x.p", "c.c"))


def _raw_statement(cohort_event: str | None, return_event: str | None,
                   filters: Filters) -> sql.Composed:
    def matching(event: str | None) -> sql.Composable:
        return sql.SQL("TRUE") if event is None else sql.SQL("e.event = {}").format(
            text(event))

    return sql.SQL("""
        WITH ev AS (
            SELECT coalesce(a.person_id, e.distinct_id) AS person, e.event,
                   {local} AS p
            FROM events_event e LEFT JOIN events_personalias a
                 ON a.project_id = e.project_id AND a.distinct_id = e.distinct_id
            WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s
              AND e."timestamp" < %(end)s AND {where}
        ), cohort AS (SELECT person, min(p) AS c FROM ev WHERE {first} GROUP BY person),
        active AS (SELECT DISTINCT person, p FROM ev WHERE {back})
        SELECT c, 0, count(*) FROM cohort GROUP BY c
        UNION ALL
        SELECT c.c, {offset}, count(*) FROM cohort c
        JOIN active x ON x.person = c.person AND x.p > c.c
        GROUP BY 1, 2""").format(local=sql.SQL(LOCAL.format('e."timestamp"')),
                                 where=conditions(filters), first=matching(cohort_event),
                                 back=matching(return_event), offset=_offset("x.p", "c.c"))


def retention_statement(project_id: int, start: datetime, end: datetime, *, period: str,
                        tz: str, cohort_event: str | None, return_event: str | None,
                        filters: Filters) -> Statement:
    if filters.empty:
        statement = _rollup_statement(cohort_event, return_event, filters)
        table = "events_person" if cohort_event is None else "events_eventrollup1h"
    else:
        statement, table = _raw_statement(cohort_event, return_event, filters), "events_event"
    return Statement(statement, {"project": project_id, "start": start, "end": end,
                                 "period": period, "tz": tz,
                                 "h0": int(start.timestamp() // 3600),
                                 "h1": -int(-end.timestamp() // 3600)}, table=table,
                     resolution=None if table == "events_event" else 3600,
                     planner=executor.PARALLEL)


def retention(project_id: int, span: Span, *, period: str = "week",
              cohort_event: str | None = None, return_event: str | None = None,
              filters: Filters = NO_FILTERS, use_cache: bool = True) -> dict:
    """The cohort table: per cohort its start, size and the people back in each period."""
    if period not in PERIODS:
        raise ValidationFailed("period: day, week or month.",
                               details={"period": ["day, week or month"]})
    start = period_start(span.start, period, span.tz)
    periods = int((span.end - start).total_seconds() // (PERIODS[period] * 86400)) + 1
    if periods > MAX_PERIODS:
        raise ValidationFailed(f"At most {MAX_PERIODS} {period}s; use a longer period.",
                               details={"period": [f"At most {MAX_PERIODS} periods."]})

    def compute() -> dict:
        rows = executor.rows(retention_statement(
            project_id, start, span.end, period=period, tz=span.tz,
            cohort_event=cohort_event, return_event=return_event, filters=filters))
        table: dict[datetime, dict[int, int]] = {}
        for cohort, offset, people in rows:
            table.setdefault(cohort, {})[int(offset)] = people
        cohorts = []
        for cohort in sorted(table):
            size = table[cohort].get(0, 0)
            local = cohort.replace(tzinfo=ZoneInfo(span.tz))
            left = _periods_until(local, span.end, period)
            values = [table[cohort].get(n, 0) for n in range(left)]
            cohorts.append({"cohort": local.isoformat(), "size": size, "values": values,
                            "rates": [v / size if size else None for v in values]})
        return {"period": period, "cohort_event": cohort_event, "return_event": return_event,
                "cohorts": cohorts}

    return executor.answer(kind="retention", project_id=project_id, spec={
        **span.spec(), "period": period, "cohort": cohort_event, "return": return_event,
        **filters.spec()}, reaches_now=span.reaches_now, compute=compute, use_cache=use_cache)


def _periods_until(local_start: datetime, end: datetime, period: str) -> int:
    """How many periods from a cohort's start have begun by ``end``."""
    count, moment = 0, local_start
    while moment < end and count < MAX_PERIODS:
        count += 1
        if period == "day":
            moment = (moment.replace(tzinfo=None) + timedelta(days=1)).replace(
                tzinfo=moment.tzinfo)
        elif period == "week":
            moment = (moment.replace(tzinfo=None) + timedelta(days=7)).replace(
                tzinfo=moment.tzinfo)
        else:
            year, month = divmod(moment.month, 12)
            moment = moment.replace(year=moment.year + year, month=month + 1)
    return count
