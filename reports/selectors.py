"""Reads of reports, scoped to the projects the caller may see (404 outside them, 403 for too
small a role): every lookup goes through ``projects.selectors.get_scoped_for``."""

from __future__ import annotations

from django.db.models import OuterRef, Prefetch, Subquery

from projects.models import Role, Scope
from projects.selectors import get_scoped_for

from . import scheduling, timing
from .models import Block, Recipient, Report, Run, RunFile, Schedule


def reports_of(project) -> list[Report]:
    """The project's reports with their schedule, recipients and last run."""
    last = Run.objects.filter(report=OuterRef("pk")).order_by("-created_at", "-id")
    reports = list(Report.objects.filter(project=project).select_related("project")
                   .prefetch_related("recipients", Prefetch("schedule",
                                                            queryset=Schedule.objects.all()))
                   .annotate(last_run_id=Subquery(last.values("pk")[:1])))
    runs = Run.objects.in_bulk([r.last_run_id for r in reports if r.last_run_id])
    for report in reports:
        report.last_run = runs.get(report.last_run_id)
    return reports


def schedule_of(report: Report) -> Schedule | None:
    return Schedule.objects.filter(report=report).first()


def next_run_of(report: Report, now) -> object:
    schedule = schedule_of(report)
    if schedule is None or not schedule.enabled:
        return None
    return timing.next_fire(scheduling.cron_of(schedule), report.zone, now)


def get_report_for(user, report_id, *, min_role: str = Role.VIEWER, token=None,
                   scope: str = Scope.READ) -> Report:
    return get_scoped_for(user, Report.objects, report_id, label="Report", id_field="report_id",
                          min_role=min_role, token=token, scope=scope)


def get_block_for(user, block_id, *, min_role: str = Role.VIEWER, token=None,
                  scope: str = Scope.READ) -> Block:
    return get_scoped_for(user, Block.objects.select_related("report"), block_id,
                          label="Block", id_field="block_id", project_path="report__project",
                          min_role=min_role, token=token, scope=scope)


def get_recipient_for(user, recipient_id, *, min_role: str = Role.VIEWER, token=None,
                      scope: str = Scope.READ) -> Recipient:
    return get_scoped_for(user, Recipient.objects.select_related("report"), recipient_id,
                          label="Recipient", id_field="recipient_id",
                          project_path="report__project", min_role=min_role, token=token,
                          scope=scope)


def get_run_for(user, run_id, *, min_role: str = Role.VIEWER, token=None,
                scope: str = Scope.READ) -> Run:
    return get_scoped_for(user, Run.objects.select_related("report"), run_id, label="Run",
                          id_field="run_id", project_path="report__project",
                          min_role=min_role, token=token, scope=scope)


def runs_of(report: Report, limit: int = 50) -> list[Run]:
    return list(report.runs.prefetch_related("deliveries", Prefetch(
        "files", queryset=RunFile.objects.defer("content")))[:limit])


def file_of(run: Run, file_id) -> RunFile | None:
    try:
        return run.files.filter(pk=int(file_id)).first()
    except (TypeError, ValueError):
        return None
