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
    return Statement(sql.SQL(
        "SELECT name, count(*) FROM events_metricseries WHERE project_id = %(project)s "
        "AND strpos(upper(name), upper(%(search)s)) > 0 GROUP BY name ORDER BY name "
        "LIMIT %(limit)s"), {"project": project_id, "search": search, "limit": limit},
        table="events_metricseries")


def metric_names(project_id: int, search: str = "", limit: int = 100) -> list[dict]:
    rows = executor.rows(names_statement(project_id, search, limit))
    return [{"name": name, "series": series} for name, series in rows]


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
