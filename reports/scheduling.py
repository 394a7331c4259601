"""A report's schedule as its own django-celery-beat row: a crontab in the report's time zone
that sends ``reports.run_scheduled`` with the report's id. The ``Schedule`` row is the truth;
this writes the beat row from it (on every change of the schedule, the report's time zone or
title) and removes it with the report. Every other beat schedule lives in
``analytics_site/schedules.py``."""

from __future__ import annotations

import json

from django_celery_beat.models import CrontabSchedule, PeriodicTask

from . import timing
from .models import Schedule

TASK = "reports.run_scheduled"


def cron_of(schedule: Schedule) -> timing.Cron:
    return timing.cron_of(schedule.kind, at=schedule.time, weekday=schedule.weekday,
                          day_of_month=schedule.day_of_month, cron=schedule.cron)


def describe(schedule: Schedule) -> str:
    return timing.describe(schedule.kind, at=schedule.time, weekday=schedule.weekday,
                           day_of_month=schedule.day_of_month, cron=schedule.cron,
                           tz=schedule.report.zone)


def sync(schedule: Schedule) -> PeriodicTask:
    """Create or update the beat row of ``schedule`` (saved with ``.save()``, so beat sees the
    change on its next tick)."""
    cron = cron_of(schedule)
    report = schedule.report
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=cron.minute, hour=cron.hour, day_of_month=cron.day_of_month,
        month_of_year=cron.month_of_year, day_of_week=cron.day_of_week,
        timezone=report.zone)
    task = schedule.periodic_task or PeriodicTask(name=f"report {report.pk}")
    task.name = f"report {report.pk}"
    task.task = TASK
    task.crontab = crontab
    task.interval = None
    task.args = json.dumps([report.pk])
    task.enabled = schedule.enabled
    task.description = f"{report.title[:150]} — {describe(schedule)}"
    task.save()
    if schedule.periodic_task_id != task.pk:
        schedule.periodic_task = task
        schedule.save(update_fields=["periodic_task"])
    return task


def remove(schedule: Schedule) -> None:
    if schedule.periodic_task_id:
        PeriodicTask.objects.filter(pk=schedule.periodic_task_id).delete()
