"""Product analytics over a project's events for a range: the overview's KPIs against the
previous period, its time series, breakdowns (events, pages, referrers, browsers, devices, OS,
countries, channels, campaigns), sessions and identified users.

Definitions (the same on every page and in the API):
- a *page view* is an event named ``page_view`` (the tracker's) or ``$pageview`` (PostHog's);
- *users* are people: distinct ids linked by ``identify`` count once (events_personalias);
- a *session* is a session id; its duration is its last event's time minus its first's; it
  belongs to the period it started in;
- a *bounce* is a session with page views whose only event is one page view; the bounce rate is
  bounces over sessions with page views.
Known crawlers are left out unless the filters ask for them. The overview, its time series and
the breakdowns read the per-dimension rollups and the session statistics (events.query.dimensions:
raw events only for the minutes at the ends, or when filtered); users reads raw events. Each
report compiles to statements that the executor runs (under the query timeout: a slow report is
a 504, not a 500) and caches like every other answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from psycopg import sql

from analytics_site.errors import ValidationFailed

from ..models import PAGEVIEW_EVENTS
from . import dimensions, executor
from .executor import Session, Statement
from .filters import NO_FILTERS, Filters
from .timerange import Span, make_range, resolve_span

# Breakdown reports: the column each shows (its title) and the rollup dimension it reads.
BREAKDOWNS = {"top-events": "event", "top-pages": "path", "top-referrers": "referrer_domain",
              "browsers": "browser", "devices": "device_type", "os": "os",
              "countries": "country", "channels": "channel", "utm-sources": "utm_source",
              "utm-mediums": "utm_medium", "utm-campaigns": "utm_campaign",
              "utm-terms": "utm_term", "utm-contents": "utm_content"}
DIMENSION_OF = {"top-events": "event", "top-pages": "path", "top-referrers": "referrer",
                "browsers": "browser", "devices": "device", "os": "os", "countries": "country",
                "channels": "channel", "utm-sources": "utm_source", "utm-mediums": "utm_medium",
                "utm-campaigns": "utm_campaign", "utm-terms": "utm_term",
                "utm-contents": "utm_content"}
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
_KPIS = ("events", "sessions", "users", "bounce_rate", "avg_session_duration_s", "pageviews")


def linked_statement(project_id: int) -> Statement:
    """Whether any identify link exists (people counts resolve them only then)."""
    return _statement("SELECT EXISTS (SELECT 1 FROM events_personalias "
                      "WHERE project_id = %(project)s)", {"project": project_id},
                      "events_personalias")


def kpi_statements(project_id: int, span: Span, linked: bool,
                   filters: Filters = NO_FILTERS) -> list[Statement]:
    """The totals and the sessions of ``span``: two statements (see events.query.dimensions)."""
    return [dimensions.totals_statement(project_id, span, filters, linked),
            dimensions.sessions_statement(project_id, span, filters)]


def _kpis(s: Session, project_id: int, span: Span, linked: bool, filters: Filters) -> dict:
    totals, visits = kpi_statements(project_id, span, linked, filters)
    events, pageviews, top, top_count, users = s.one(totals)
    sessions, with_pageviews, bounces, durations = (v or 0 for v in s.one(visits))
    return {"events": events, "sessions": sessions, "users": users,
            "bounce_rate": bounces / with_pageviews if with_pageviews else None,
            "avg_session_duration_s": durations / sessions if sessions else None,
            "pageviews": pageviews,
            "top_event": {"event": top, "count": top_count} if top is not None else None}


def change(now, before) -> float | None:
    if now is None or before in (None, 0):
        return None
    return (now - before) / before


def overview(project_id: int, span: Span, *, filters: Filters = NO_FILTERS,
             use_cache: bool = True) -> dict:
    """The KPIs of ``span`` against the period of the same length before it; bots left out
    unless ``filters.bots``."""
    def compute() -> dict:
        with executor.session() as s:
            linked = s.one(linked_statement(project_id))[0]
            current = _kpis(s, project_id, span, linked, filters)
            previous = _kpis(s, project_id, span.previous, linked, filters)
        body = {key: {"value": current[key], "previous": previous[key],
                      "change": change(current[key], previous[key])} for key in _KPIS}
        body["top_event"] = current["top_event"]
        body["range"] = {"start": span.start.isoformat(), "end": span.end.isoformat(),
                         "previous_start": span.previous.start.isoformat()}
        return body

    return _cached("overview", project_id, span, filters.spec(), compute, use_cache=use_cache)


# -- timeseries -----------------------------------------------------------------------------------
TIMESERIES = ("events", "users", "sessions", "pageviews")


def timeseries(project, span: Span, interval: str, *, filters: Filters = NO_FILTERS,
               use_cache: bool = True) -> dict:
    """Events, users, sessions and page views per hour or local day of the project's time zone,
    whole hours covering the range, with zeros for empty buckets."""
    if interval not in ("hour", "day"):
        raise ValidationFailed("interval: hour or day.", details={"interval": ["hour or day"]})
    start = span.start.replace(minute=0, second=0, microsecond=0)
    end = span.end.replace(minute=0, second=0, microsecond=0)
    if end < span.end:
        end += timedelta(hours=1)
    rng = make_range(start, end, 3600 if interval == "hour" else 86400, tz=span.tz,
                     now=span.now)

    def compute() -> dict:
        with executor.session() as s:
            linked = s.one(linked_statement(project.pk))[0]
            rows = s.rows(dimensions.timeseries_statement(
                project.pk, rng.start, rng.end, interval, span.tz, filters, linked))
        found = {at: (events, pageviews, users, sessions)
                 for at, events, pageviews, users, sessions in rows}
        points = []
        for moment in rng.buckets():
            events, pageviews, users, sessions = found.get(int(moment.timestamp()), (0,) * 4)
            points.append({"t": int(moment.timestamp() * 1000), "events": events,
                           "users": users, "sessions": sessions, "pageviews": pageviews})
        return {"interval": interval, "points": points}

    return _cached(f"timeseries.{interval}", project.pk, span, filters.spec(), compute,
                   use_cache=use_cache)


# -- breakdowns -----------------------------------------------------------------------------------
def breakdown_statement(project_id: int, kind: str, span: Span, limit: int,
                        filters: Filters = NO_FILTERS, linked: bool = True) -> Statement:
    return dimensions.breakdown_statement(project_id, DIMENSION_OF[kind], span,
                                          min(limit, MAX_LIMIT), filters, linked,
                                          rank_by_pageviews=kind == "top-pages")


def breakdown(project_id: int, kind: str, span: Span, limit: int = 10, *,
              filters: Filters = NO_FILTERS, compare: bool = False,
              use_cache: bool = True) -> list[dict]:
    """The top values of a dimension with their events (page views for pages), people and
    sessions; with ``compare``, each value's events in the previous period and the change."""
    def compute() -> dict:
        with executor.session() as s:
            linked = s.one(linked_statement(project_id))[0]
            rows = s.rows(breakdown_statement(project_id, kind, span, limit, filters, linked))
            results = [{"value": value, "events": pageviews if kind == "top-pages" else events,
                        "pageviews": pageviews, "users": users, "sessions": sessions}
                       for value, events, pageviews, users, sessions in rows]
            if compare and results:
                before = s.rows(dimensions.breakdown_statement(
                    project_id, DIMENSION_OF[kind], span.previous, len(results), filters,
                    linked, rank_by_pageviews=kind == "top-pages",
                    values=[r["value"] for r in results]))
                previous = {v: pv if kind == "top-pages" else ev for v, ev, pv, *_ in before}
                for result in results:
                    result["previous"] = previous.get(result["value"], 0)
                    result["change"] = change(result["events"], result["previous"])
        return {"results": results}

    return _cached(kind, project_id, span, {"limit": limit, "compare": compare,
                                            **filters.spec()}, compute,
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
