"""Celery tasks of the reports app: thin wrappers around ``reports.runs``; each takes ids and
can run twice without sending twice."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from . import runs
from .models import Report


@shared_task(name="reports.run_scheduled")
def run_scheduled(report_id: int) -> str:
    """Sent by the report's beat row at each tick."""
    run = runs.claim_scheduled(report_id)
    if run is None:
        return "no tick"
    done = runs.execute(run.pk)
    return done.status if done is not None else "busy"


@shared_task(name="reports.execute_run")
def execute_run(run_id: int) -> str:
    done = runs.execute(run_id)
    return done.status if done is not None else "busy"


@shared_task(name="reports.resume_runs")
def resume_runs() -> int:
    return len(runs.resume_stale())


@shared_task(name="reports.render_for_alert")
def render_for_alert(report_id: int, notification_ids: list[int], fired_at: str,
                     rule: str) -> str:
    """An alert rule that names a report fired: render it around the firing for these
    notifications, which wait for it."""
    report = Report.objects.select_related("project").filter(pk=report_id).first()
    if report is None:
        runs.report_missing(notification_ids)
        return "no report"
    run = runs.run_for_alert(report=report, fired_at=datetime.fromisoformat(fired_at),
                             rule=rule, notifications=notification_ids)
    done = runs.execute(run.pk)
    return done.status if done is not None else "busy"
