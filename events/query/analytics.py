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
ends), timeseries goes through the engine; breakdowns and users read raw events, within the
statement timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from analytics_site.errors import ValidationFailed

from ..models import PAGEVIEW_EVENTS, PersonAlias
from .timerange import InvalidRange, parse_time

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


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def previous(self) -> Window:
        return Window(self.start - (self.end - self.start), self.start)

    def params(self, project_id: int) -> dict:
        return {"project": project_id, "start": self.start, "end": self.end}


def window(start=None, end=None, now: datetime | None = None) -> Window:
    now = now or datetime.now(UTC)
    start_at = parse_time(start if start not in (None, "") else "now-7d", "start", now)
    end_at = parse_time(end if end not in (None, "") else "now", "end", now)
    if end_at <= start_at:
        raise InvalidRange("end must be after start.", details={"end": ["Must be after start."]})
    if end_at - start_at > timedelta(days=400):
        raise InvalidRange("A range is at most 400 days.", details={"start": ["Too far back."]})
    return Window(start_at, end_at)


def _rows(statement: str, params: dict) -> list[tuple]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = %s",
                       [f"{int(settings.QUERY_TIMEOUT_S * 1000)}ms"])
        cursor.execute(statement, params)
        return cursor.fetchall()


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


def _whole_hours(span: Window) -> tuple[datetime, datetime]:
    first = span.start.replace(minute=0, second=0, microsecond=0)
    if first < span.start:
        first += timedelta(hours=1)
    last = span.end.replace(minute=0, second=0, microsecond=0)
    return (first, last) if first < last else (span.end, span.end)


def _kpis(project_id: int, span: Window, linked: bool) -> dict:
    a, b = _whole_hours(span)
    params = {**span.params(project_id), "a": a, "b": b, "pageviews": list(PAGEVIEW_EVENTS)}
    events, pageviews, top, top_count = _rows(_COUNTS, params)[0]
    users_sql = _USERS.format(person="coalesce(a.ph, x.h)" if linked else "x.h",
                              join=_ALIAS_JOIN if linked else "")
    users = _rows(users_sql, params)[0][0]
    sessions, with_pageviews, bounces, durations = (v or 0 for v in _rows(_SESSIONS, params)[0])
    return {"events": events, "sessions": sessions, "users": users,
            "bounce_rate": bounces / with_pageviews if with_pageviews else None,
            "avg_session_duration_s": durations / sessions if sessions else None,
            "pageviews": pageviews,
            "top_event": {"event": top, "count": top_count} if top is not None else None}


def _change(now, before) -> float | None:
    if now is None or before in (None, 0):
        return None
    return (now - before) / before


def overview(project_id: int, span: Window) -> dict:
    linked = PersonAlias.objects.filter(project_id=project_id).exists()
    current = _kpis(project_id, span, linked)
    previous = _kpis(project_id, span.previous, linked)
    body = {key: {"value": current[key], "previous": previous[key],
                  "change": _change(current[key], previous[key])} for key in _KPIS}
    body["top_event"] = current["top_event"]
    body["range"] = {"start": span.start.isoformat(), "end": span.end.isoformat(),
                     "previous_start": span.previous.start.isoformat()}
    return body


# -- timeseries -----------------------------------------------------------------------------------
TIMESERIES = ("events", "users", "sessions", "pageviews")


def timeseries(project, span: Window, interval: str) -> dict:
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
def breakdown(project_id: int, kind: str, span: Window, limit: int = 10) -> list[dict]:
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
    rows = _rows(statement, {**span.params(project_id), "limit": min(limit, MAX_LIMIT),
                             "pageviews": list(PAGEVIEW_EVENTS)})
    return [{"value": value, "events": events, "users": users, "sessions": sessions}
            for value, events, users, sessions in rows]


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


def sessions(project_id: int, span: Window) -> dict:
    """Sessions that started in the range (from the session rollup)."""
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
    found: dict[str, dict] = {"duration": {}, "pages": {}}
    totals: dict[str, float | None] = {}
    for kind, label, value in _rows(statement, {**span.params(project_id),
                                                "pageviews": list(PAGEVIEW_EVENTS)}):
        if kind in found:
            found[kind][label] = value
        else:
            totals[kind] = value
    return {
        "count": totals.get("totals") or 0,
        "avg_duration_s": totals["avg_duration"] / 1000 if totals.get("avg_duration") is not None
        else None,
        "avg_pages": totals["avg_pages"] / 1000 if totals.get("avg_pages") is not None else None,
        "duration": _histogram(found["duration"], DURATION_BUCKETS),
        "pages_per_session": _histogram(found["pages"], PAGES_BUCKETS),
    }


# -- identified users -----------------------------------------------------------------------------
USER_ORDERING = {"last_seen": "last_seen DESC", "-last_seen": "last_seen ASC",
                 "first_seen": "first_seen DESC", "-first_seen": "first_seen ASC",
                 "events": "events DESC", "-events": "events ASC"}


def users(project_id: int, span: Window, *, search: str = "", min_events: int = 0,
          ordering: str = "last_seen", limit: int = 50, offset: int = 0) -> dict:
    """People who identified (sent ``identify`` or have ids linked to them), with their first
    and last event and event count in the range, across all their linked ids."""
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
    rows = _rows(statement, {**span.params(project_id), "search": search,
                             "min_events": min_events, "limit": min(limit, MAX_LIMIT),
                             "offset": offset})
    return {"count": rows[0][4] if rows else 0,
            "results": [{"user_id": person, "first_seen": first.isoformat(),
                         "last_seen": last.isoformat(), "events": events}
                        for person, first, last, events, _ in rows]}
