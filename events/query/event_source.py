"""Event queries: counts, unique users and sessions, and numeric properties of events, per group
and bucket, over raw events or the hourly rollup.

The hourly rollup answers counts and uniques filtered and grouped by event name; anything else
(other filters, other groups, properties) reads raw events. Unique users resolve identities at
query time through ``events_personalias`` on both paths — by text on raw rows, by PostgreSQL's
``hashtextextended`` on the rollup's hash sets — so an ``identify`` counts a visitor once from
then on, including in buckets rolled up before it.
"""

from __future__ import annotations

from psycopg import sql

from . import sql as parts
from .executor import Statement
from .spec import PERCENTILES, Filter, Query
from .timerange import Range

COLUMNS = {"event": "event", "path": "path", "browser": "browser", "os": "os",
           "device": "device_type", "device_type": "device_type", "referrer": "referrer_domain",
           "referrer_domain": "referrer_domain", "distinct_id": "distinct_id",
           "session_id": "session_id", "page_url": "page_url"}
ROLLUP_AGGREGATIONS = ("count", "rate", "uniq_users", "uniq_sessions")

ALIASES = sql.SQL("""aliases AS (
    SELECT hashtextextended(distinct_id, 0) AS dh, hashtextextended(person_id, 0) AS ph
    FROM events_personalias WHERE project_id = %(project)s)""")


def rollup_can_answer(query: Query) -> bool:
    return (query.aggregation in ROLLUP_AGGREGATIONS and query.field is None
            and all(f.key == "event" for f in query.filters) and set(query.by) <= {"event"})


def _key_expr(key: str, alias: str = "e") -> sql.Composable:
    column = COLUMNS.get(key)
    if column:
        return sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(column))
    return sql.SQL("({}.properties ->> {})").format(sql.Identifier(alias), sql.Literal(key))


def _like_prefix(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filter(f: Filter, alias: str) -> sql.Composable:
    expr = _key_expr(f.key, alias)
    if f.op == "eq":
        return sql.SQL("{} = {}").format(expr, sql.Literal(f.values[0]))
    if f.op == "ne":
        return sql.SQL("{} IS DISTINCT FROM {}").format(expr, sql.Literal(f.values[0]))
    if f.op == "in":
        return sql.SQL("{} = ANY({})").format(expr, sql.Literal(list(f.values)))
    return sql.SQL("{} LIKE {}").format(expr, sql.Literal(_like_prefix(f.values[0])))


def _group_key(query: Query, alias: str) -> sql.Composable:
    if not query.by:
        return sql.SQL("NULL::text")
    return sql.SQL("jsonb_build_array({})::text").format(
        sql.SQL(", ").join(_key_expr(k, alias) for k in query.by))


def _numeric(field: str) -> sql.Composable:
    return sql.SQL(
        "(CASE WHEN jsonb_typeof(e.properties -> {f}) = 'number' "
        "THEN (e.properties ->> {f})::float8 END)").format(f=sql.Literal(field))


def _raw_value(query: Query) -> sql.Composable:
    agg = query.aggregation
    if agg == "uniq_users":
        return sql.SQL("count(DISTINCT coalesce(a.person_id, e.distinct_id))")
    if agg == "uniq_sessions":
        return sql.SQL("count(DISTINCT e.session_id)")
    if query.field is None:  # count, rate
        return sql.SQL("count(*)")
    v = _numeric(query.field)
    if agg in PERCENTILES:
        return sql.SQL("percentile_disc({q}) WITHIN GROUP (ORDER BY {v})").format(
            q=sql.Literal(PERCENTILES[agg]), v=v)
    if agg == "last":
        return sql.SQL(
            '(array_agg({v} ORDER BY e."timestamp" DESC) FILTER (WHERE {v} IS NOT NULL))[1]'
        ).format(v=v)
    functions = {"count": "count", "sum": "sum", "rate": "sum", "avg": "avg", "min": "min",
                 "max": "max"}
    return sql.SQL("{}({})").format(sql.SQL(functions[agg]), v)


def statement(project_id: int, query: Query, table: str, rng: Range, *, bucketed: bool = True,
              top: list[str] | None = None, rank_limit: int | None = None) -> Statement:
    """The statement whose rows are ``(group_key_text, bucket_epoch_s, value)``.

    Not ``bucketed``: one row per group over the whole range. ``top``: groups outside it come
    back with group None ("other"). ``rank_limit``: the top groups by value, at most that many.
    """
    alias = "e" if table == "raw" else "r"
    time_column = sql.SQL('e."timestamp"') if table == "raw" else sql.SQL("r.hour")
    b = parts.bucket_key(time_column, rng, bucketed, 3600 if table == "1h" else None)
    key = _group_key(query, alias)
    if top is not None:
        key = sql.SQL("CASE WHEN {k} = ANY({top}) THEN {k} END").format(
            k=key, top=sql.Literal(top))
    where = [sql.SQL("{}.project_id = %(project)s").format(sql.Identifier(alias)),
             sql.SQL("{t} >= %(start)s AND {t} < %(end)s").format(t=time_column),
             *(_filter(f, alias) for f in query.filters)]
    params = {"project": project_id, "start": rng.start, "end": rng.end}
    if table == "raw":
        joins = sql.SQL("")
        if query.aggregation == "uniq_users":
            joins = sql.SQL(" LEFT JOIN events_personalias a ON a.project_id = e.project_id"
                            " AND a.distinct_id = e.distinct_id")
        composed = sql.SQL("SELECT {key} AS grp, {b} AS b, {value} FROM events_event e{joins}"
                           " WHERE {where} GROUP BY 1, 2").format(
            key=key, b=b, value=_raw_value(query), joins=joins,
            where=sql.SQL(" AND ").join(where))
    else:
        composed = _rollup_statement(query, key, b, sql.SQL(" AND ").join(where))
    if rank_limit is not None:
        composed = sql.SQL("SELECT * FROM ({}) AS ranked ORDER BY 3 DESC NULLS LAST, 1 "
                           "LIMIT {}").format(composed, sql.Literal(rank_limit))
    return Statement(composed, params, "events_event" if table == "raw" else
                     "events_eventrollup1h", None if table == "raw" else 3600)


def _rollup_statement(query: Query, key, b, where) -> sql.Composed:
    agg = query.aggregation
    if agg in ("count", "rate"):
        return sql.SQL("SELECT {key} AS grp, {b} AS b, sum(r.count) FROM events_eventrollup1h r"
                       " WHERE {where} GROUP BY 1, 2").format(key=key, b=b, where=where)
    if agg == "uniq_sessions":
        return sql.SQL("SELECT {key} AS grp, {b} AS b, count(DISTINCT h)"
                       " FROM events_eventrollup1h r"
                       " LEFT JOIN LATERAL unnest(r.sessions) AS h ON true"
                       " WHERE {where} GROUP BY 1, 2").format(key=key, b=b, where=where)
    return sql.SQL("WITH {aliases} SELECT {key} AS grp, {b} AS b,"
                   " count(DISTINCT coalesce(a.ph, h))"
                   " FROM events_eventrollup1h r"
                   " LEFT JOIN LATERAL unnest(r.distinct_ids) AS h ON true"
                   " LEFT JOIN aliases a ON a.dh = h"
                   " WHERE {where} GROUP BY 1, 2").format(aliases=ALIASES, key=key, b=b,
                                                          where=where)
