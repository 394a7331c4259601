"""What a project has to query: metric names, their tag keys and values, and live window stats
of one metric (the numbers behind a live card). Read through the executor like every query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from psycopg import sql

from ..names import METRIC_NAME
from . import executor, metric_source
from .executor import Statement
from .parser import QuerySyntax, parse_text
from .spec import Notes, Query
from .timerange import InvalidRange, parse_duration

MAX_VALUES_PER_KEY = 100
MAX_WINDOW_S = 86400
RATE_WINDOWS = (1, 5, 60)


def names_statement(project_id: int, search: str, limit: int) -> Statement:
    """Metric names with their series count and definition; ``search`` matches the name or the
    description, any case."""
    return Statement(sql.SQL(
        "SELECT s.name, s.series, d.description, d.unit, d.type, d.source "
        "FROM (SELECT name, count(*) AS series FROM events_metricseries "
        "WHERE project_id = %(project)s GROUP BY name) AS s "
        "LEFT JOIN events_metricdefinition d ON d.project_id = %(project)s AND d.name = s.name "
        "WHERE strpos(upper(s.name), upper(%(search)s)) > 0 "
        "OR strpos(upper(d.description), upper(%(search)s)) > 0 "
        "ORDER BY s.name LIMIT %(limit)s"),
        {"project": project_id, "search": search, "limit": limit},
        table="events_metricseries")


def metric_names(project_id: int, search: str = "", limit: int = 100) -> list[dict]:
    """``[{name, series, description, unit, type, source}]`` (empty texts when undescribed)."""
    rows = executor.rows(names_statement(project_id, search, limit))
    return [{"name": name, "series": series, **_definition(description, unit, kind, source)}
            for name, series, description, unit, kind, source in rows]


def _definition(description, unit, kind, source) -> dict:
    return {"description": description or "", "unit": unit or "", "type": kind or "",
            "source": source or ""}


def metric_tags(project_id: int, name: str) -> dict | None:
    """``{key: {"values": [...], "more": bool}}`` over the metric's series, or None if unknown."""
    rows = executor.rows(metric_source.series_statement(project_id, name))
    tag_sets = [orjson.loads(tags) if isinstance(tags, str) else tags for _, tags in rows]
    if not tag_sets:
        return None
    values: dict[str, set[str]] = {}
    for tags in tag_sets:
        for key, value in tags.items():
            values.setdefault(key, set()).add(value)
    return {key: {"values": sorted(found)[:MAX_VALUES_PER_KEY],
                  "more": len(found) > MAX_VALUES_PER_KEY}
            for key, found in sorted(values.items())}


TOP_VALUES = 10


def definition_statement(project_id: int, name: str) -> Statement:
    return Statement(sql.SQL(
        "SELECT d.description, d.unit, d.type, d.source, u.username, d.edited_at, d.updated_at "
        "FROM events_metricdefinition d LEFT JOIN auth_user u ON u.id = d.edited_by_id "
        "WHERE d.project_id = %(project)s AND d.name = %(name)s"),
        {"project": project_id, "name": name}, table="events_metricdefinition")


def seen_statement(project_id: int, name: str) -> Statement:
    """Series count and first seen (when its first series was created), and last seen (the
    latest point the hourly name rollup holds)."""
    return Statement(sql.SQL(
        "SELECT count(*), min(created_at), "
        "(SELECT last_at FROM events_metricnamerollup1h WHERE project_id = %(project)s "
        "AND name = %(name)s ORDER BY bucket DESC LIMIT 1) "
        "FROM events_metricseries WHERE project_id = %(project)s AND name = %(name)s"),
        {"project": project_id, "name": name}, table="events_metricseries")


def tag_values_statement(project_id: int, name: str, top: int) -> Statement:
    """Per tag key of the metric's series: how many distinct values, and the ``top`` values
    carried by the most series."""
    return Statement(sql.SQL(
        """WITH pairs AS (
               SELECT t.key, t.value, count(*) AS series
               FROM events_metricseries s, jsonb_each_text(s.tags) AS t(key, value)
               WHERE s.project_id = %(project)s AND s.name = %(name)s
               GROUP BY t.key, t.value
           ), ranked AS (
               SELECT key, value, series, count(*) OVER (PARTITION BY key) AS distinct_values,
                      row_number() OVER (PARTITION BY key ORDER BY series DESC, value) AS rank
               FROM pairs
           )
           SELECT key, distinct_values, value, series FROM ranked
           WHERE rank <= %(top)s ORDER BY key, rank"""),
        {"project": project_id, "name": name, "top": top}, table="events_metricseries")


def metric_page(project_id: int, name: str) -> dict | None:
    """What the metric's page shows: its definition, first and last seen, series count and tag
    keys with their distinct value counts and top values; None if the project has no such
    metric (no series, no definition)."""
    with executor.session() as s:
        definition = s.one(definition_statement(project_id, name))
        series, first_seen, last_seen = s.one(seen_statement(project_id, name))
        tag_rows = s.rows(tag_values_statement(project_id, name, TOP_VALUES)) if series else []
    if not series and definition is None:
        return None
    description, unit, kind, source, edited_by, edited_at, updated_at = \
        definition or ("", "", "", "", None, None, None)
    tags: dict[str, dict] = {}
    for key, distinct, value, count in tag_rows:
        entry = tags.setdefault(key, {"values": distinct, "top": []})
        entry["top"].append({"value": value, "series": count})
    return {
        "name": name, **_definition(description, unit, kind, source),
        "edited_by": edited_by,
        "edited_at": _iso(edited_at), "updated_at": _iso(updated_at),
        "first_seen": _iso(first_seen), "last_seen": _iso(last_seen), "series": series,
        "tags": [{"key": key, **entry} for key, entry in tags.items()],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def parse_tag_filter(name: str, tags: str):
    """``host:a,env:!prod`` (the query language's filter syntax) → filters; syntax errors point
    into ``tags``."""
    prefix = f"avg:{name}{{"
    try:
        query = parse_text(f"{prefix}{tags}}}")
    except QuerySyntax as exc:
        position = max(0, exc.details["position"] - len(prefix))
        raise QuerySyntax("Invalid tags filter", position=position,
                          expected=exc.details["expected"]) from None
    return query.filters


def window(project_id: int, name: str, *, window: str = "5m", tags: str = "",
           now: datetime | None = None) -> dict:
    if not METRIC_NAME.match(name):
        raise InvalidRange("Not a metric name.", details={"name": ["Invalid metric name."]})
    seconds = parse_duration(window, "window")
    if seconds > MAX_WINDOW_S:
        raise InvalidRange(f"window is at most {MAX_WINDOW_S // 3600} h.",
                           details={"window": [f"At most {MAX_WINDOW_S} s."]})
    now = now or datetime.now(UTC)
    notes = Notes()
    query = Query("avg", name, None, parse_tag_filter(name, tags) if tags else ())
    stats = {"count": 0, "avg": None, "min": None, "max": None, "p95": None}
    rates = {f"{w}s": 0.0 for w in RATE_WINDOWS}
    points_per_s = dict(rates)
    with executor.session() as s:
        groups = metric_source.select_series(s, project_id, query, notes)
        row = s.one(window_statement(groups.ids, seconds, now)) if groups.ids else None
    if row is not None:
        stats = dict(zip(("count", "avg", "min", "max", "p95"), row[:5], strict=True))
        for i, w in enumerate(RATE_WINDOWS):
            rates[f"{w}s"] = (row[5 + 2 * i] or 0.0) / w
            points_per_s[f"{w}s"] = row[6 + 2 * i] / w
    return {"name": name, "window_s": seconds, "at": now.isoformat(), **stats,
            "rate": rates, "points_per_s": points_per_s, "series": len(groups.ids),
            "notes": notes.items}


def window_statement(series_ids: list[int], seconds: int, now: datetime) -> Statement:
    return Statement(sql.SQL(
        """SELECT count(*) FILTER (WHERE w), avg(value) FILTER (WHERE w),
                  min(value) FILTER (WHERE w), max(value) FILTER (WHERE w),
                  percentile_disc(0.95) WITHIN GROUP (ORDER BY value) FILTER (WHERE w),
                  sum(value) FILTER (WHERE "timestamp" > %(now)s - interval '1 second'),
                  count(*) FILTER (WHERE "timestamp" > %(now)s - interval '1 second'),
                  sum(value) FILTER (WHERE "timestamp" > %(now)s - interval '5 seconds'),
                  count(*) FILTER (WHERE "timestamp" > %(now)s - interval '5 seconds'),
                  sum(value) FILTER (WHERE "timestamp" > %(now)s - interval '60 seconds'),
                  count(*) FILTER (WHERE "timestamp" > %(now)s - interval '60 seconds')
           FROM (SELECT value, "timestamp", "timestamp" > %(start)s AS w
                 FROM events_metricpoint
                 WHERE series_id = ANY(%(ids)s) AND "timestamp" > %(from)s
                   AND "timestamp" <= %(now)s) AS recent"""),
        {"ids": series_ids, "now": now, "start": now - timedelta(seconds=seconds),
         "from": now - timedelta(seconds=max(seconds, RATE_WINDOWS[-1]))},
        table="events_metricpoint")
