"""Partition upkeep and retention: partitions made ahead of time, whole days dropped when no
project keeps them any longer, rows of shorter-lived projects deleted inside the days kept.

Raw events and points follow ``raw_retention_days``; 1-minute metric rollups (partitioned by day
too) ``minute_rollup_retention_days``; hourly metric and event rollups and sessions (one table each,
small) ``hour_rollup_retention_days``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max
from psycopg import sql

from projects.models import Project

from . import partitions

logger = logging.getLogger(__name__)

DAYS_AHEAD = 3
# Tables with a project_id kept for hour_rollup_retention_days, and the time that ages them.
HOURLY_BY_PROJECT = (("events_metricnamerollup1h", "bucket"), ("events_eventrollup1h", "hour"),
                     ("events_hourrollup", "hour"), ("events_sessionhour", "hour"),
                     ("events_sessionrollup", "ended_at"), ("events_dimrollup1h", "bucket"),
                     ("events_dimrollup1d", "bucket"), ("events_person", "last_seen"),
                     ("events_pathrollup1h", "hour"), ("events_pathhour", "hour"),
                     ("events_pathrollup1d", "day"), ("events_pathday", "day"))


@dataclass
class Report:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    deleted_events: int = 0
    deleted_points: int = 0
    deleted_rollups: int = 0


def maintain(*, today: date | None = None) -> Report:
    """Idempotent; run by beat every hour."""
    today = today or datetime.now(UTC).date()
    report = Report()
    report.created = partitions.ensure_partitions(start=today - timedelta(days=1),
                                                  days=DAYS_AHEAD + 2)
    longest = Project.objects.aggregate(m=Max("raw_retention_days"))["m"] or 7
    longest_minutes = Project.objects.aggregate(
        m=Max("minute_rollup_retention_days"))["m"] or 30
    report.dropped = partitions.drop_partitions_before({
        "events_event": today - timedelta(days=longest),
        "events_metricpoint": today - timedelta(days=longest),
        "events_metricrollup1m": today - timedelta(days=longest_minutes),
    })
    now = datetime.now(UTC)
    report.deleted_rollups = _expire_rollups(now, longest_minutes)
    for project_id, days in Project.objects.filter(raw_retention_days__lt=longest) \
            .values_list("id", "raw_retention_days"):
        cutoff = now - timedelta(days=days)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute('DELETE FROM events_event WHERE project_id = %s AND "timestamp" < %s',
                           [project_id, cutoff])
            report.deleted_events += cursor.rowcount
            cursor.execute(
                """DELETE FROM events_metricpoint p USING events_metricseries s
                   WHERE p.series_id = s.id AND s.project_id = %s AND p."timestamp" < %s""",
                [project_id, cutoff])
            report.deleted_points += cursor.rowcount
    with transaction.atomic(), connection.cursor() as cursor:
        # A uuid older than every retention can no longer collide with a stored event.
        cursor.execute("DELETE FROM events_eventseen WHERE seen_at < %s",
                       [now - timedelta(days=longest)])
        # Yesterday's salt goes: hashes from then can no longer be linked to an IP.
        cursor.execute("DELETE FROM events_dailysalt WHERE day < %s", [today])
    if report.created or report.dropped:
        logger.info("partitions maintained", extra={"partitions_created": report.created,
                                                    "partitions_dropped": report.dropped})
    return report


def _expire_rollups(now: datetime, longest_minutes: int) -> int:
    deleted = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for project_id, days in Project.objects.filter(
                minute_rollup_retention_days__lt=longest_minutes).values_list(
                    "id", "minute_rollup_retention_days"):
            cursor.execute(
                """DELETE FROM events_metricrollup1m r USING events_metricseries s
                   WHERE r.series_id = s.id AND s.project_id = %s AND r.bucket < %s""",
                [project_id, now - timedelta(days=days)])
            deleted += cursor.rowcount
        cursor.execute(
            """DELETE FROM events_metricrollup1h r
               USING events_metricseries s JOIN projects_project p ON p.id = s.project_id
               WHERE r.series_id = s.id
                 AND r.bucket < %s - make_interval(days => p.hour_rollup_retention_days)""",
            [now])
        deleted += cursor.rowcount
        for table, column in HOURLY_BY_PROJECT:
            cursor.execute(
                sql.SQL("""DELETE FROM {table} r USING projects_project p
                   WHERE p.id = r.project_id
                     AND r.{column} < %s - make_interval(days => p.hour_rollup_retention_days)
                """).format(table=sql.Identifier(table), column=sql.Identifier(column)), [now])
            deleted += cursor.rowcount
        # The active hours of the people kept age like the hourly rollups (only the rows that
        # hold an hour past the project's limit are written).
        cursor.execute("""
            UPDATE events_person r SET active_hours = ARRAY(
                SELECT h FROM unnest(r.active_hours) AS u(h) WHERE h >= x.first ORDER BY h)
            FROM (SELECT id, events_hour_of(%s - make_interval(days => hour_rollup_retention_days))
                  AS first FROM projects_project) AS x
            WHERE x.id = r.project_id AND r.active_hours[1] < x.first""", [now])
    return deleted
