"""Daily partitions of the event, metric-point and 1-minute rollup tables: create ahead, create on
demand for a late or early batch, drop whole days past the longest retention of each.

SQL is composed with psycopg's ``sql`` module only; partition names are derived from the date
(``events_event_p20261123``), never from input.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from psycopg import errors, sql

logger = logging.getLogger(__name__)

PARTITIONED = ("events_event", "events_metricpoint", "events_metricrollup1m")
_NAME = re.compile(r"^(events_event|events_metricpoint|events_metricrollup1m)_p(\d{8})$")


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def create_statement(table: str, day: date) -> sql.Composed:
    start, end = _bounds(day)
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {part} PARTITION OF {table} FOR VALUES FROM ({a}) TO ({b})"
    ).format(part=sql.Identifier(partition_name(table, day)), table=sql.Identifier(table),
             a=sql.Literal(start), b=sql.Literal(end))


def existing_partitions() -> dict[str, set[date]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname FROM pg_inherits i
               JOIN pg_class c ON c.oid = i.inhrelid
               JOIN pg_class p ON p.oid = i.inhparent
               WHERE p.relname = ANY(%s)""",
            [list(PARTITIONED)],
        )
        found: dict[str, set[date]] = {t: set() for t in PARTITIONED}
        for (name,) in cursor.fetchall():
            match = _NAME.match(name)
            if match:
                found[match.group(1)].add(datetime.strptime(match.group(2), "%Y%m%d").date())
        return found


def ensure_partitions(*, start: date, days: int) -> list[str]:
    """Create the partitions of both tables for ``days`` days from ``start``; returns those made."""
    have = existing_partitions()
    made = []
    for table in PARTITIONED:
        for offset in range(days):
            day = start + timedelta(days=offset)
            if day not in have[table]:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(create_statement(table, day))
                made.append(partition_name(table, day))
    return made


def drop_partitions_before(cutoffs: dict[str, date]) -> list[str]:
    """Drop the partitions of each table in ``cutoffs`` whose whole day lies before its cutoff."""
    dropped = []
    for table, days in existing_partitions().items():
        for day in sorted(days):
            if table in cutoffs and day < cutoffs[table]:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(
                        sql.Identifier(partition_name(table, day))))
                dropped.append(partition_name(table, day))
    return dropped


async def ensure_partitions_async(conn, table: str, days: set[date], known: set) -> None:
    """On-demand creation from the async write path (psycopg connection ``conn``)."""
    for day in sorted(days):
        if (table, day) in known:
            continue
        try:
            async with conn.transaction():
                await conn.execute(create_statement(table, day))
        except (errors.DuplicateTable, errors.UniqueViolation):
            # Another connection made it in between; concurrent CREATE ... IF NOT EXISTS can
            # also collide on the catalog's unique index rather than report the table.
            pass
        known.add((table, day))
