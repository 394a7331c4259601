"""Product analytics over a project's events for a range: the overview's KPIs against the
previous period, breakdowns (top events, pages, referrers, browsers, devices), sessions and
identified users.

Definitions (the same on every page and in the API):
- a *page view* is an event named ``page_view`` (the tracker's) or ``$pageview`` (PostHog's);
- *users* are people: distinct ids linked by ``identify`` count once (events_personalias);
- a *session* is a session id; its duration is its last event's time minus its first's; it
  belongs to the period it started in;
- a *bounce* is a session with page views whose only event is one page view; the bounce rate is
  bounces over sessions with page views.
The overview reads the hourly and session rollups (raw events only for the partial hours at the
ends), timeseries goes through the engine; breakdowns and users read raw events. Each report
compiles to statements that the executor runs (under the query timeout: a slow report is a 504,
not a 500) and caches like every other answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from psycopg import sql

from analytics_site.errors import ValidationFailed

from ..models import PAGEVIEW_EVENTS
from . import executor
from .executor import Session, Statement
from .timerange import Span, resolve_span

BREAKDOWNS = {"top-events": "event", "top-pages": "path", "top-referrers": "referrer_domain",
              "browsers": "browser", "devices": "device_type"}
DURATION_BUCKETS = ((0, 10, "0-10s"), (10, 30, "10-30s"), (30, 60, "30-60s"),
                    (60, 180, "1-3m"), (180, 600, "3-10m"), (600, 1800, "10-30m"),
                    (1800, None, "30m+"))
PAGES_BUCKETS = ((1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 4, "4"), (5, 9, "5-9"),
                 (10, None, "10+"))
MAX_LIMIT = 1000

PERSON = "coalesce(a.person_id, e.distinct_id)"
PERSON_JOIN = ("LEFT JOIN events_personalias a "
               "ON a.project_id = e.project_id AND a.distinct_id = e.distinct_id")


def window(start=None, end=None, now: datetime | None = None, tz: str = "UTC") -> Span:
    """The range of a report: the last 7 days unless given."""
    return resolve_span(start, end, default_start="now-7d", tz=tz, now=now)


def _statement(text: str, params: dict, table: str) -> Statement:
    return Statement(sql.SQL(text), params, table=table)


def _cached(kind: str, project_id: int, span: Span, options: dict, compute, *,
            use_cache: bool = True) -> dict:
    return executor.answer(kind=f"analytics.{kind}", project_id=project_id,
                           spec={**span.spec(), **options}, reaches_now=span.reaches_now,
                           compute=compute, use_cache=use_cache)


# -- overview -------------------------------------------------------------------------------------
# Whole hours come from the hourly rollups, the partial hours at either end from raw events, so
# a month reads ~720 rollup rows plus at most two hours of events. Sessions come from the session
# rollup: a session belongs to the period it started in.
_EDGES = """
    SELECT e.event, e.distinct_id FROM events_event e
    WHERE e.project_id = %(project)s
      AND ((e."timestamp" >= %(start)s AND e."timestamp" < %(a)s)
           OR (e."timestamp" >= %(b)s AND e."timestamp" < %(end)s))"""

_COUNTS = f"""
WITH edges AS ({_EDGES}), by_name AS (
    SELECT event, sum(n)::bigint AS n FROM (
        SELECT event, count AS n FROM events_eventrollup1h
        WHERE project_id = %(project)s AND hour >= %(a)s AND hour < %(b)s
        UNION ALL
        SELECT event, 1 FROM edges) AS u
    GROUP BY event
)
SELECT (SELECT coalesce(sum(n), 0) FROM by_name),
       (SELECT coalesce(sum(n), 0) FROM by_name WHERE event = ANY(%(pageviews)s)),
       (SELECT event FROM by_name ORDER BY n DESC, event LIMIT 1),
       (SELECT n FROM by_name ORDER BY n DESC, event LIMIT 1)
"""  # noqa: S608 (constants only)

# People: the distinct-id hashes of the whole hours and of the raw edges, resolved through
# identify links (only joined when the project has any: the join doubles the cost).
_USERS = f"""
SELECT count(DISTINCT {{person}})
FROM (SELECT unnest(distinct_ids) AS h FROM events_hourrollup
      WHERE project_id = %(project)s AND hour >= %(a)s AND hour < %(b)s
      UNION ALL
      SELECT hashtextextended(distinct_id, 0) FROM ({_EDGES}) AS edges) AS x
{{join}}
"""  # noqa: S608 (constants only)
_ALIAS_JOIN = """LEFT JOIN (
    SELECT hashtextextended(distinct_id, 0) AS dh, hashtextextended(person_id, 0) AS ph
    FROM events_personalias WHERE project_id = %(project)s) AS a ON a.dh = x.h"""

# Sessions that started in the range: whole hours from the per-hour statistics, the partial
# hours at either end from the session rollup.
_SESSIONS = """
SELECT sum(sessions)::bigint, sum(with_pageviews)::bigint, sum(bounces)::bigint,
       sum(duration_sum)::float8 FROM (
    SELECT sessions, with_pageviews, bounces, duration_sum FROM events_sessionhour
    WHERE project_id = %(project)s AND hour >= %(a)s AND hour < %(b)s
    UNION ALL
    SELECT 1, (pageviews > 0)::int, (pageviews = 1 AND events = 1)::int,
           extract(epoch FROM ended_at - started_at)::float8
    FROM events_sessionrollup
    WHERE project_id = %(project)s
      AND ((started_at >= %(start)s AND started_at < %(a)s)
           OR (started_at >= %(b)s AND started_at < %(end)s))) AS s
"""

_KPIS = ("events", "sessions", "users", "bounce_rate", "avg_session_duration_s", "pageviews")


def _whole_hours(span: Span) -> tuple[datetime, datetime]:
    first = span.start.replace(minute=0, second=0, microsecond=0)
    if first < span.start:
        first += timedelta(hours=1)
    last = span.end.replace(minute=0, second=0, microsecond=0)
    return (first, last) if first < last else (span.end, span.end)


def kpi_statements(project_id: int, span: Span, linked: bool) -> list[Statement]:
    """The counts, the people and the sessions of ``span``: three statements."""
    a, b = _whole_hours(span)
    params = {**span.params(project_id), "a": a, "b": b, "pageviews": list(PAGEVIEW_EVENTS)}
    users_sql = _USERS.format(person="coalesce(a.ph, x.h)" if linked else "x.h",
                              join=_ALIAS_JOIN if linked else "")
    return [_statement(_COUNTS, params, "events_eventrollup1h"),
            _statement(users_sql, params, "events_hourrollup"),
            _statement(_SESSIONS, params, "events_sessionhour")]


def linked_statement(project_id: int) -> Statement:
    """Whether any identify link exists (the people count joins them only then)."""
    return _statement("SELECT EXISTS (SELECT 1 FROM events_personalias "
                      "WHERE project_id = %(project)s)", {"project": project_id},
                      "events_personalias")


def _kpis(s: Session, project_id: int, span: Span, linked: bool) -> dict:
    counts, people, visits = kpi_statements(project_id, span, linked)
    events, pageviews, top, top_count = s.one(counts)
    users = s.one(people)[0]
    sessions, with_pageviews, bounces, durations = (v or 0 for v in s.one(visits))
    return {"events": events, "sessions": sessions, "users": users,
            "bounce_rate": bounces / with_pageviews if with_pageviews else None,
            "avg_session_duration_s": durations / sessions if sessions else None,
            "pageviews": pageviews,
            "top_event": {"event": top, "count": top_count} if top is not None else None}


def _change(now, before) -> float | None:
    if now is None or before in (None, 0):
        return None
    return (now - before) / before


def overview(project_id: int, span: Span, *, use_cache: bool = True) -> dict:
    def compute() -> dict:
        with executor.session() as s:
            linked = s.one(linked_statement(project_id))[0]
            current = _kpis(s, project_id, span, linked)
            previous = _kpis(s, project_id, span.previous, linked)
        body = {key: {"value": current[key], "previous": previous[key],
                      "change": _change(current[key], previous[key])} for key in _KPIS}
        body["top_event"] = current["top_event"]
        body["range"] = {"start": span.start.isoformat(), "end": span.end.isoformat(),
                         "previous_start": span.previous.start.isoformat()}
        return body

    return _cached("overview", project_id, span, {}, compute, use_cache=use_cache)


# -- timeseries -----------------------------------------------------------------------------------
TIMESERIES = ("events", "users", "sessions", "pageviews")


def timeseries(project, span: Span, interval: str) -> dict:
    """Events, users, sessions and page views per hour or day, through the engine (so from the
    hourly rollup when it can answer), with zeros for empty buckets."""
    from . import execute

    if interval not in ("hour", "day"):
        raise ValidationFailed("interval: hour or day.", details={"interval": ["hour or day"]})
    answer = execute(project, queries={
        "events": "count:events{}", "users": "uniq_users:events{}",
        "sessions": "uniq_sessions:events{}",
        "pageviews": f"count:events{{event:{'|'.join(PAGEVIEW_EVENTS)}}}",
    }, start=span.start.isoformat(), end=span.end.isoformat(),
        step="1h" if interval == "hour" else "1d", fill="zero")
    series = {s["name"]: s["points"] for s in answer["data"]}
    times = [t for t, _ in next(iter(series.values()), [])]
    empty = [[t, 0] for t in times]
    return {"interval": interval,
            "points": [{"t": t, **{name: series.get(name, empty)[i][1] for name in TIMESERIES}}
                       for i, t in enumerate(times)],
            "meta": answer["meta"]}


# -- breakdowns -----------------------------------------------------------------------------------
def breakdown_statement(project_id: int, kind: str, span: Span, limit: int) -> Statement:
    column = BREAKDOWNS[kind]
    pageviews_only = kind == "top-pages"
    statement = f"""
        SELECT e.{column} AS value, count(*) AS events,
               count(DISTINCT {PERSON}) AS users, count(DISTINCT e.session_id) AS sessions
        FROM events_event e {PERSON_JOIN}
        WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s
          AND e."timestamp" < %(end)s AND e.{column} IS NOT NULL
          {"AND e.event = ANY(%(pageviews)s)" if pageviews_only else ""}
        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %(limit)s"""  # noqa: S608 (column from BREAKDOWNS)
    return _statement(statement, {**span.params(project_id), "limit": min(limit, MAX_LIMIT),
                                  "pageviews": list(PAGEVIEW_EVENTS)}, "events_event")


def breakdown(project_id: int, kind: str, span: Span, limit: int = 10, *,
              use_cache: bool = True) -> list[dict]:
    def compute() -> dict:
        rows = executor.rows(breakdown_statement(project_id, kind, span, limit))
        return {"results": [{"value": value, "events": events, "users": users,
                             "sessions": sessions} for value, events, users, sessions in rows]}

    return _cached(kind, project_id, span, {"limit": limit}, compute,
                   use_cache=use_cache)["results"]


# -- sessions -------------------------------------------------------------------------------------
def _histogram(values_by_bucket: dict, buckets) -> list[dict]:
    return [{"bucket": label, "sessions": values_by_bucket.get(label, 0)}
            for _, _, label in buckets]


def _case(column: str, buckets, inclusive_high: bool) -> str:
    parts = []
    for low, high, label in buckets:
        if high is None:
            parts.append(f"WHEN {column} >= {low} THEN '{label}'")
        elif inclusive_high:
            parts.append(f"WHEN {column} BETWEEN {low} AND {high} THEN '{label}'")
        else:
            parts.append(f"WHEN {column} >= {low} AND {column} < {high} THEN '{label}'")
    return "CASE " + " ".join(parts) + " END"


def sessions_statement(project_id: int, span: Span) -> Statement:
    statement = f"""
        WITH s AS (
            SELECT extract(epoch FROM ended_at - started_at) AS duration, pageviews AS pages
            FROM events_sessionrollup
            WHERE project_id = %(project)s AND started_at >= %(start)s
              AND started_at < %(end)s)
        SELECT 'duration', {_case("duration", DURATION_BUCKETS, False)}, count(*) FROM s
        GROUP BY 2
        UNION ALL
        SELECT 'pages', {_case("pages", PAGES_BUCKETS, True)}, count(*) FROM s
        WHERE pages > 0 GROUP BY 2
        UNION ALL
        SELECT 'totals', NULL, count(*) FROM s
        UNION ALL
        SELECT 'avg_duration', NULL, round(avg(duration) * 1000) FROM s
        UNION ALL
        SELECT 'avg_pages', NULL, round(avg(pages) FILTER (WHERE pages > 0) * 1000) FROM s
    """  # noqa: S608 (constants only)
    return _statement(statement, {**span.params(project_id), "pageviews": list(PAGEVIEW_EVENTS)},
                      "events_sessionrollup")


def sessions(project_id: int, span: Span, *, use_cache: bool = True) -> dict:
    """Sessions that started in the range (from the session rollup)."""
    def compute() -> dict:
        found: dict[str, dict] = {"duration": {}, "pages": {}}
        totals: dict[str, float | None] = {}
        for kind, label, value in executor.rows(sessions_statement(project_id, span)):
            if kind in found:
                found[kind][label] = value
            else:
                totals[kind] = float(value) if value is not None else None
        return {
            "count": int(totals.get("totals") or 0),
            "avg_duration_s": totals["avg_duration"] / 1000
            if totals.get("avg_duration") is not None else None,
            "avg_pages": totals["avg_pages"] / 1000
            if totals.get("avg_pages") is not None else None,
            "duration": _histogram(found["duration"], DURATION_BUCKETS),
            "pages_per_session": _histogram(found["pages"], PAGES_BUCKETS),
        }

    return _cached("sessions", project_id, span, {}, compute, use_cache=use_cache)


# -- identified users -----------------------------------------------------------------------------
USER_ORDERING = {"last_seen": "last_seen DESC", "-last_seen": "last_seen ASC",
                 "first_seen": "first_seen DESC", "-first_seen": "first_seen ASC",
                 "events": "events DESC", "-events": "events ASC"}


def users_statement(project_id: int, span: Span, *, search: str, min_events: int,
                    ordering: str, limit: int, offset: int) -> Statement:
    order = USER_ORDERING[ordering]
    statement = f"""
        WITH identified AS (
            SELECT person_id AS person FROM events_personalias WHERE project_id = %(project)s
            UNION
            SELECT DISTINCT distinct_id FROM events_event
            WHERE project_id = %(project)s AND event IN ('$identify', 'identify')
              AND "timestamp" >= %(start)s AND "timestamp" < %(end)s
        ), people AS (
            SELECT {PERSON} AS person, min(e."timestamp") AS first_seen,
                   max(e."timestamp") AS last_seen, count(*) AS events
            FROM events_event e {PERSON_JOIN}
            WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s
              AND e."timestamp" < %(end)s
            GROUP BY 1
        )
        SELECT p.person, p.first_seen, p.last_seen, p.events, count(*) OVER () AS total
        FROM people p JOIN identified i USING (person)
        WHERE p.events >= %(min_events)s
          AND (%(search)s = '' OR strpos(lower(p.person), lower(%(search)s)) > 0)
        ORDER BY {order}, p.person
        LIMIT %(limit)s OFFSET %(offset)s"""  # noqa: S608 (ordering from USER_ORDERING)
    return _statement(statement, {**span.params(project_id), "search": search,
                                  "min_events": min_events, "limit": min(limit, MAX_LIMIT),
                                  "offset": offset}, "events_event")


def users(project_id: int, span: Span, *, search: str = "", min_events: int = 0,
          ordering: str = "last_seen", limit: int = 50, offset: int = 0,
          use_cache: bool = True) -> dict:
    """People who identified (sent ``identify`` or have ids linked to them), with their first
    and last event and event count in the range, across all their linked ids."""
    options = {"search": search, "min_events": min_events, "ordering": ordering,
               "limit": limit, "offset": offset}

    def compute() -> dict:
        rows = executor.rows(users_statement(project_id, span, **options))
        return {"count": rows[0][4] if rows else 0,
                "results": [{"user_id": person, "first_seen": first.isoformat(),
                             "last_seen": last.isoformat(), "events": events}
                            for person, first, last, events, _ in rows]}

    return _cached("users", project_id, span, options, compute, use_cache=use_cache)
