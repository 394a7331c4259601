"""Partitions made ahead, expired days dropped, shorter retentions honoured, the beat row."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django_celery_beat.models import PeriodicTask

from events import partitions, retention
from events.models import Event

pytestmark = pytest.mark.django_db


def _insert_event(project_id, when, name="e"):
    import uuid

    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO events_event (project_id, uuid, event, distinct_id, person_id,
                                         "timestamp", received_at)
               VALUES (%s, %s, %s, 'd', 'd', %s, now())""",
            [project_id, uuid.uuid4(), name, when])


def test_maintain_creates_partitions_ahead_and_drops_expired_days(make_project):
    project = make_project()  # raw retention 7 days
    today = datetime.now(UTC).date()
    old_day = today - timedelta(days=9)
    partitions.ensure_partitions(start=old_day, days=1)
    _insert_event(project.pk, datetime.combine(old_day, datetime.min.time(), UTC))
    assert old_day in partitions.existing_partitions()["events_event"]

    report = retention.maintain(today=today)

    have = partitions.existing_partitions()
    for table in partitions.PARTITIONED:
        assert {today + timedelta(days=d) for d in range(4)} <= have[table]
    assert old_day not in have["events_event"]
    assert old_day not in have["events_metricpoint"]
    assert old_day in have["events_metricrollup1m"]  # 1-minute rollups are kept 30 days
    assert f"events_event_p{old_day:%Y%m%d}" in report.dropped
    assert Event.objects.count() == 0
    assert retention.maintain(today=today).dropped == []  # idempotent


def test_a_shorter_retention_deletes_rows_inside_kept_days(make_project):
    keeps_7 = make_project("Seven")
    keeps_2 = make_project("Two")
    keeps_2.raw_retention_days = 2
    keeps_2.save()
    four_days_ago = datetime.now(UTC) - timedelta(days=4)
    partitions.ensure_partitions(start=four_days_ago.date(), days=5)
    _insert_event(keeps_7.pk, four_days_ago, "kept")
    _insert_event(keeps_2.pk, four_days_ago, "expired")
    _insert_event(keeps_2.pk, datetime.now(UTC), "fresh")

    report = retention.maintain()

    assert report.deleted_events == 1
    assert sorted(Event.objects.values_list("event", flat=True)) == ["fresh", "kept"]


def test_sync_schedules_writes_the_beat_row_once():
    call_command("sync_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("sync_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    task = PeriodicTask.objects.get(task="events.maintain_partitions")
    assert (task.interval.every, task.interval.period, task.expire_seconds) == (
        3600, "seconds", 600)
