"""SQL pieces shared by the metric and event sources: bucket expressions and percentiles."""

from __future__ import annotations

from psycopg import sql

from .timerange import DAY, Range

EPOCH_SQL = sql.SQL("TIMESTAMPTZ '1970-01-01 00:00:00+00'")


def bucket(column: sql.Composable, rng: Range) -> sql.Composed:
    """The start of the bucket ``column`` falls in: epoch-aligned steps, or local days."""
    if rng.by_local_days:
        return sql.SQL(
            "(date_bin(make_interval(days => {days}), ({col} AT TIME ZONE {tz}), "
            "TIMESTAMP '1970-01-01') AT TIME ZONE {tz})"
        ).format(days=sql.Literal(rng.step // DAY), col=column, tz=sql.Literal(rng.tz))
    return sql.SQL("date_bin(make_interval(secs => {step}), {col}, {epoch})").format(
        step=sql.Literal(rng.step), col=column, epoch=EPOCH_SQL)


def bucket_key(column: sql.Composable, rng: Range, bucketed: bool,
               resolution: int | None = None) -> sql.Composed:
    """The bucket as epoch seconds (cheap to read back), or 0 for one bucket over the range.
    Rows of a rollup whose ``resolution`` is the step already are their bucket."""
    if not bucketed:
        return sql.SQL("0::bigint")
    if resolution is not None and rng.step == resolution and not rng.by_local_days:
        return sql.SQL("extract(epoch FROM {})::bigint").format(column)
    return sql.SQL("extract(epoch FROM {})::bigint").format(bucket(column, rng))


def sketch_quantile(cells: sql.Composable, q: float) -> sql.Composed:
    """From ``cells(grp, b, k, c)`` (sketch counts per group, bucket and key), the key holding
    the ``q`` quantile per (grp, b), by percentile_disc's rank (events.sketch.quantile)."""
    return sql.SQL("""
        SELECT grp, b, min(k) FILTER (WHERE running >= greatest(1, ceil({q} * total))) AS k
        FROM (SELECT grp, b, k,
                     sum(c) OVER (PARTITION BY grp, b ORDER BY k)::float8 AS running,
                     sum(c) OVER (PARTITION BY grp, b)::float8 AS total
              FROM {cells}) AS ranked
        GROUP BY grp, b""").format(q=sql.Literal(q), cells=cells)
