"""Metric queries: series picked by name and tags, then aggregated per group and bucket over raw
points or a rollup.

Series are few next to points, so filters and grouping are applied to the series list in Python
(``events_metricseries``) and the data query only joins ``(series_id, group)`` pairs: one SQL
shape for every filter. A group beyond the top ``limit`` (ranked by the aggregation over the whole
range) is folded into one "other" group, computed exactly like the rest.

Two steps, each compiled to a statement without touching the database and run by the executor:
the series (``series_statement`` → ``groups_of``), then the data (``data_fetch`` or
``top_fetch``, whose ``read`` turns the rows into ``{(group, bucket): value}``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg import sql

from .. import freshness, sketch
from ..kept import Kept
from . import sql as parts
from .executor import Session, Statement
from .spec import PERCENTILES, Filter, Notes, Query
from .timerange import Range

OTHER = -1
RESOLUTIONS = {"1m": 60, "1h": 3600}
TABLES = {"raw": "events_metricpoint", "1m": "events_metricrollup1m",
          "1h": "events_metricrollup1h"}


@dataclass
class Groups:
    ids: list[int]
    groups: list[int]  # per series id: index into ``tags`` (or OTHER)
    tags: list[dict]


@dataclass(frozen=True)
class Fetch:
    """A compiled data statement and how its rows read (``{(group, bucket_epoch_s): value}``,
    and for ``top_fetch`` the top groups beside)."""

    statement: Statement
    read: Callable[[list[tuple]], Any]

    def run(self, session: Session) -> Any:
        return self.read(session.rows(self.statement))


def _matches(tags: dict, f: Filter) -> bool:
    value = tags.get(f.key)
    if f.op == "eq":
        return value == f.values[0]
    if f.op == "ne":
        return value != f.values[0]
    if f.op == "in":
        return value in f.values
    return isinstance(value, str) and value.startswith(f.values[0])


def series_statement(project_id: int, name: str, contains: dict | None = None) -> Statement:
    statement = "SELECT id, tags FROM events_metricseries WHERE project_id = %s AND name = %s"
    params: list = [project_id, name]
    if contains:
        statement += " AND tags @> %s::jsonb"
        params.append(orjson.dumps(contains).decode())
    return Statement(sql.SQL(statement), params, table="events_metricseries")


# (project, name, equality filters) -> (series token, kept at, rows): a metric's series as its
# last query found them, used again while the project's series token (``freshness``: set anew
# as the write path commits new series, and read with the answer's other marks) is the one they
# were read under, and for at most KEPT_S whatever happens. A dashboard's panel asked every 10 s,
# an alert evaluated every minute, then send their data statement alone. Only lists read on the
# primary are kept (a replica behind it would have them miss a series under the new token), and
# at most KEPT_ROWS series in all (emptied when full).
KEPT_S = 60.0
KEPT_ROWS = 100_000
_kept = Kept(max_age_s=KEPT_S, max_size=KEPT_ROWS, size=len)


def _series_rows(session: Session, statement: Statement) -> list:
    # Django's connection reads jsonb as text (its JSONField decodes it).
    return [(series_id, orjson.loads(tags) if isinstance(tags, str) else tags)
            for series_id, tags in session.rows(statement)]


def select_series(session: Session, project_id: int, query: Query, notes: Notes) -> Groups:
    # Equality filters narrow the series in PostgreSQL (a metric may have thousands of series;
    # an alert asks for one); the rest are matched here. Nothing found: every series is read
    # again, to say which name or tag key does not exist.
    contains = {f.key: f.values[0] for f in query.filters if f.op == "eq"}
    key = (project_id, query.source, orjson.dumps(contains, option=orjson.OPT_SORT_KEYS))
    seen, token = freshness.series_seen(project_id)
    if seen and (kept := _kept.find(key, token)) is not None:
        return groups_of(kept, query, notes)
    rows = _series_rows(session, series_statement(project_id, query.source, contains))
    if rows or not contains:
        if seen and not session.replica:
            _kept.keep(key, token or freshness.start_series_token(project_id), rows)
    else:  # not kept: every series of the metric, read only to say what does not exist
        rows = _series_rows(session, series_statement(project_id, query.source))
    return groups_of(rows, query, notes)


def groups_of(rows: list, query: Query, notes: Notes) -> Groups:
    """The series rows ``(id, tags)`` of a metric, filtered and grouped by ``query``."""
    if not rows:
        notes.add(f"No metric named {query.source!r} in this project.")
        return Groups([], [], [])
    known = {key for _, tags in rows for key in tags}
    for key in sorted({f.key for f in query.filters} | set(query.by)):
        if key not in known:
            notes.add(f"No series of {query.source!r} has the tag {key!r}.")
    index: dict[tuple, int] = {}
    groups = Groups([], [], [])
    for series_id, tags in rows:
        if not all(_matches(tags, f) for f in query.filters):
            continue
        group_key = tuple(tags.get(k) for k in query.by)
        if group_key not in index:
            index[group_key] = len(groups.tags)
            groups.tags.append(dict(zip(query.by, group_key, strict=True)))
        groups.ids.append(series_id)
        groups.groups.append(index[group_key])
    return groups


def _value_columns(query: Query, table: str) -> sql.Composable:
    """The aggregate per (grp, b); rollup percentiles are _sketch_percentiles'."""
    agg = query.aggregation
    if table == "raw":
        exprs = {"count": "count(*)", "sum": "sum(t.value)", "rate": "sum(t.value)",
                 "avg": "avg(t.value)", "min": "min(t.value)", "max": "max(t.value)",
                 "last": '(array_agg(t.value ORDER BY t."timestamp" DESC))[1]'}
        if agg in PERCENTILES:
            return sql.SQL("percentile_disc({q}) WITHIN GROUP (ORDER BY t.value)").format(
                q=sql.Literal(PERCENTILES[agg]))
        return sql.SQL(exprs[agg])
    exprs = {"count": "sum(t.count)", "sum": "sum(t.sum)", "rate": "sum(t.sum)",
             "avg": "sum(t.sum) / nullif(sum(t.count), 0)", "min": "min(t.min)",
             "max": "max(t.max)",
             "last": "(array_agg(t.last ORDER BY t.last_at DESC NULLS LAST))[1]"}
    return sql.SQL(exprs[agg])


def _source(table: str, time_column: str, whole_metric: bool) -> sql.Composed:
    if whole_metric:  # every series of the name in one group: the name-level rollup
        return sql.SQL("""
            FROM events_metricnamerollup1h AS t CROSS JOIN (SELECT 0 AS grp) AS g
            WHERE t.project_id = %(project)s AND t.name = %(name)s
              AND t.bucket >= %(start)s AND t.bucket < %(end)s""")
    return sql.SQL("""
        FROM {table} AS t
        JOIN unnest(%(ids)s::bigint[], %(grps)s::int[]) AS g(series_id, grp) USING (series_id)
        WHERE t.{time} >= %(start)s AND t.{time} < %(end)s""").format(
        table=sql.Identifier(TABLES[table]), time=sql.Identifier(time_column))


def data_fetch(project_id: int, query: Query, groups: Groups, table: str, rng: Range, *,
               bucketed: bool = True) -> Fetch:
    """``{(grp, bucket_epoch_s): value}`` over ``rng`` (bucket 0 if not ``bucketed``).

    An hourly query over all of a metric's series in one group reads the name-level rollup
    (one row per hour instead of one per series and hour)."""
    time_column = "timestamp" if table == "raw" else "bucket"
    column = sql.SQL("t.{}").format(sql.Identifier(time_column))
    b = parts.bucket_key(column, rng, bucketed, RESOLUTIONS.get(table))
    params = {"ids": groups.ids, "grps": groups.groups, "start": rng.start, "end": rng.end,
              "project": project_id, "name": query.source}
    whole_metric = table == "1h" and not query.filters and set(groups.groups) == {0}
    source = _source(table, time_column, whole_metric)
    read_table = "events_metricnamerollup1h" if whole_metric else TABLES[table]
    agg = query.aggregation
    if agg in PERCENTILES and table != "raw":
        if whole_metric:
            return _few_sketches(query, b, source, params, read_table, table)
        return _sketch_percentiles(query, b, source, params, read_table, table)
    statement = sql.SQL("SELECT g.grp, {b} AS b, {value} {source} GROUP BY 1, 2").format(
        b=b, value=_value_columns(query, table), source=source)
    return Fetch(Statement(statement, params, read_table, RESOLUTIONS.get(table)), _read_cells)


def _read_cells(rows: list[tuple]) -> dict:
    return {(grp, at): (float(value) if value is not None else None) for grp, at, value in rows}


def _sketch_percentiles(query: Query, b, source, params, read_table: str, table: str) -> Fetch:
    # One pass over the rollup rows; the sketches merge per (grp, b, key), the bounds per (grp, b).
    statement = sql.SQL("""
        WITH scanned AS MATERIALIZED (
            SELECT g.grp, {b} AS b, t.sketch_keys, t.sketch_counts, t.min, t.max {source}
        ), bounds AS (
            SELECT grp, b, min(min) AS lo, max(max) AS hi FROM scanned GROUP BY grp, b
        ), q AS ({quantile})
        SELECT q.grp, q.b, q.k, bounds.lo, bounds.hi
        FROM q JOIN bounds ON bounds.grp = q.grp AND bounds.b = q.b""").format(
        b=b, source=source, quantile=parts.sketch_quantile(sql.SQL("""(
            SELECT grp, b, u.k, sum(u.c) AS c
            FROM scanned CROSS JOIN LATERAL unnest(sketch_keys, sketch_counts) AS u(k, c)
            GROUP BY 1, 2, 3) AS cells"""), PERCENTILES[query.aggregation]))

    def read(rows: list[tuple]) -> dict:
        return {(grp, at): min(max(sketch.value_of(k), lo), hi) for grp, at, k, lo, hi in rows}

    return Fetch(Statement(statement, params, read_table, RESOLUTIONS.get(table)), read)


def _few_sketches(query: Query, b, source, params, read_table: str, table: str) -> Fetch:
    """Percentiles from a few rollup rows (the name-level rollup: one row per hour): read the
    sketches and rank them here, which beats unnesting them in SQL."""
    statement = sql.SQL("SELECT {b} AS b, t.sketch_keys, t.sketch_counts, t.min, t.max "
                        "{source}").format(b=b, source=source)
    q = PERCENTILES[query.aggregation]

    def read(rows: list[tuple]) -> dict:
        by_bucket: dict[int, list] = {}
        for at, keys, counts, low, high in rows:
            by_bucket.setdefault(at, []).append((keys, counts, low, high))
        out = {}
        for at, parts_of in by_bucket.items():
            low = min(p[2] for p in parts_of)
            high = max(p[3] for p in parts_of)
            if len(parts_of) == 1:
                keys, counts = parts_of[0][0], parts_of[0][1]
            else:
                merged: dict[int, int] = {}
                for keys_i, counts_i, _, _ in parts_of:
                    sketch.merge(merged, keys_i, counts_i)
                keys = sorted(merged)
                counts = [merged[k] for k in keys]
            out[(0, at)] = sketch.quantile_sorted(keys, counts, q, low=low, high=high)
        return out

    return Fetch(Statement(statement, params, read_table, RESOLUTIONS.get(table)), read)


# -- top groups and "other" in one statement -------------------------------------------------------
# (count, sum, min, max, last_at, last) per group and bucket merge into any aggregation but the
# percentiles: PostgreSQL ranks the groups over the range and folds all but the top into "other"
# in the same statement, and only the top's buckets come back.
# Counts as float8 (exact to 2^53): summed as bigint they would become numeric, whose sums cost
# ~10 % of a 50-group hour of raw points.
_PARTIALS = {
    "raw": ("count(*)::float8 AS n, sum(t.value) AS s, min(t.value) AS lo, max(t.value) AS hi",
            'max(t."timestamp") AS at, (array_agg(t.value ORDER BY t."timestamp" DESC))[1] AS v'),
    "rollup": ("sum(t.count::float8) AS n, sum(t.sum) AS s, min(t.min) AS lo, max(t.max) AS hi",
               "max(t.last_at) AS at, "
               "(array_agg(t.last ORDER BY t.last_at DESC NULLS LAST))[1] AS v"),
}
_MERGED = {"count": "sum(n)", "sum": "sum(s)", "rate": "sum(s)",
           "avg": "sum(s) / nullif(sum(n), 0)", "min": "min(lo)", "max": "max(hi)",
           "last": "(array_agg(v ORDER BY at DESC NULLS LAST))[1]"}


def top_fetch(project_id: int, query: Query, groups: Groups, table: str, rng: Range) -> Fetch:
    """Top groups and "other" in one statement; it reads as ``({(grp or OTHER,
    bucket_epoch_s): value}, [top groups, best first])``."""
    time_column = "timestamp" if table == "raw" else "bucket"
    column = sql.SQL("t.{}").format(sql.Identifier(time_column))
    plain, latest = _PARTIALS["raw" if table == "raw" else "rollup"]
    if query.aggregation != "last":  # ordering each group's values costs more than the rest
        latest = "NULL::timestamptz AS at, NULL::float8 AS v"
    merged = sql.SQL(_MERGED[query.aggregation])
    statement = sql.SQL("""
        WITH cells AS (
            SELECT g.grp, {b} AS b, {plain}, {latest} {source} GROUP BY 1, 2
        ), ranked AS (
            SELECT grp, row_number() OVER (ORDER BY {merged} DESC NULLS LAST, grp) AS r
            FROM cells GROUP BY grp
        )
        SELECT CASE WHEN r.r <= %(limit)s THEN c.grp ELSE {other} END AS grp,
               min(r.r) AS r, c.b, {merged}
        FROM cells c JOIN ranked r USING (grp)
        GROUP BY 1, c.b""").format(
        b=parts.bucket_key(column, rng, True, RESOLUTIONS.get(table)), plain=sql.SQL(plain),
        latest=sql.SQL(latest),
        source=_source(table, time_column, False), merged=merged, other=sql.Literal(OTHER))
    params = {"ids": groups.ids, "grps": groups.groups, "start": rng.start, "end": rng.end,
              "limit": query.limit}

    def read(rows: list[tuple]) -> tuple[dict, list[int]]:
        ranks = {grp: rank for grp, rank, _, _ in rows if grp != OTHER}
        cells = {(grp, at): (float(value) if value is not None else None)
                 for grp, _, at, value in rows}
        return cells, sorted(ranks, key=ranks.get)

    return Fetch(Statement(statement, params, TABLES[table], RESOLUTIONS.get(table)), read)
