"""HTML pages of reports: the list (schedule, last run and status, next run, recipients; run
now, duplicate, delete), a report's page (the report as e-mailed, its exports, schedule,
recipients and runs with every delivery attempt), the builder (its script uses the reports
API) and a run's page behind its signed link. Thin: reads through reports.selectors, writes
through reports.services and reports.runs with the API's serializers' checks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from analytics_site.errors import ApiError, or_404
from analytics_site.fields import valid
from projects.models import Role
from projects.selectors import can_edit, get_project_for

from . import links, mail, rendering, runs, scheduling, selectors, services
from .api import serializers as s
from .models import BlockKind, Format, RangeKind, ScheduleKind

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _problem(exc) -> str:
    if isinstance(exc, ApiError):
        return exc.message
    detail = exc.detail
    while isinstance(detail, dict) and detail:
        key, detail = next(iter(detail.items()))
        if isinstance(detail, list) and detail and not isinstance(detail[0], dict):
            return f"{key}: {detail[0]}"
    return str(detail)


def _report_in(request, project_id, report_id, **kwargs):
    report = or_404(selectors.get_report_for, request.user, report_id, **kwargs)
    if report.project_id != int(project_id):
        raise Http404("Report not found")
    return report


@login_required
def report_list(request, project_id):
    project = or_404(get_project_for, request.user, project_id)
    now = timezone.now()
    reports = selectors.reports_of(project)
    for report in reports:
        schedule = getattr(report, "schedule", None)
        report.schedule_text = scheduling.describe(schedule) if schedule else ""
        report.next_run = selectors.next_run_of(report, now)
    return render(request, "reports/list.html", {
        "project": project, "reports": reports, "can_edit": can_edit(request.user, project)})


@login_required
@require_POST
def report_create(request, project_id):
    project = or_404(get_project_for, request.user, project_id, min_role=Role.EDITOR)
    try:
        report = services.create_report(project=project, user=request.user, **valid(
            s.ReportWriteSerializer, {"title": request.POST.get("title", ""),
                                      "range": request.POST.get("range", "last_7d")}))
    except (ValidationError, ApiError) as exc:
        messages.error(request, f"Not created: {_problem(exc)}")
        return redirect("reports:list", project.pk)
    return redirect("reports:builder", project.pk, report.pk)


@login_required
@require_POST
def report_action(request, project_id, report_id, action):
    report = _report_in(request, project_id, report_id, min_role=Role.EDITOR)
    if action == "run":
        runs.run_now(report=report, user=request.user)
        messages.success(request, f"“{report.title}” is being made and sent; its run shows "
                                  "below.")
        return redirect("reports:detail", project_id, report.pk)
    if action == "duplicate":
        copy = services.duplicate_report(report=report, user=request.user)
        messages.success(request, f"Duplicated as “{copy.title}”.")
    elif action == "delete":
        services.delete_report(report=report)
        messages.success(request, f"Deleted “{report.title}”.")
    else:
        raise Http404("No such action")
    return redirect("reports:list", project_id)


@login_required
def report_detail(request, project_id, report_id):
    report = _report_in(request, project_id, report_id)
    rendered = rendering.render(report)
    schedule = selectors.schedule_of(report)
    return render(request, "reports/detail.html", {
        "project": report.project, "report": report,
        "preview": mail.preview_html(rendered, mail.images_of(rendered)),
        "rendered": rendered, "schedule": schedule,
        "schedule_text": scheduling.describe(schedule) if schedule else "",
        "next_run": selectors.next_run_of(report, timezone.now()),
        "recipients": report.recipients.select_related("condition_block"),
        "kpi_blocks": report.blocks.filter(kind=BlockKind.KPI),
        "runs": selectors.runs_of(report, 30), "can_edit": can_edit(request.user,
                                                                     report.project),
        "schedule_kinds": ScheduleKind.choices, "weekdays": list(enumerate(WEEKDAYS)),
        "formats": Format.choices})


@login_required
@require_POST
def schedule_save(request, project_id, report_id):
    report = _report_in(request, project_id, report_id, min_role=Role.EDITOR)
    post = request.POST
    if post.get("remove"):
        services.remove_schedule(report=report)
        messages.success(request, "Schedule removed.")
        return redirect("reports:detail", project_id, report.pk)
    data = {"kind": post.get("kind", ""), "time": post.get("time") or "09:00",
            "weekday": post.get("weekday") or 0, "day_of_month": post.get("day_of_month") or 1,
            "cron": post.get("cron", ""), "enabled": post.get("enabled") == "on"}
    try:
        schedule = services.set_schedule(report=report, **valid(s.ScheduleWriteSerializer,
                                                                data))
    except (ValidationError, ApiError) as exc:
        messages.error(request, f"Schedule not saved: {_problem(exc)}")
    else:
        messages.success(request, f"Scheduled: {scheduling.describe(schedule)}.")
    return redirect("reports:detail", project_id, report.pk)


@login_required
@require_POST
def recipient_add(request, project_id, report_id):
    report = _report_in(request, project_id, report_id, min_role=Role.EDITOR)
    post = request.POST
    data = {"email": post.get("email", "").strip(), "formats": post.getlist("formats"),
            "min_change_percent": post.get("min_change_percent") or None,
            "condition_block": post.get("condition_block") or None}
    try:
        services.add_recipient(report=report, **valid(s.RecipientWriteSerializer, data))
    except (ValidationError, ApiError) as exc:
        messages.error(request, f"Not added: {_problem(exc)}")
    else:
        messages.success(request, f"{data['email']} receives this report.")
    return redirect("reports:detail", project_id, report.pk)


@login_required
@require_POST
def recipient_remove(request, project_id, report_id, recipient_id):
    report = _report_in(request, project_id, report_id, min_role=Role.EDITOR)
    recipient = report.recipients.filter(pk=recipient_id).first()
    if recipient is None:
        raise Http404("Recipient not found")
    services.remove_recipient(recipient=recipient)
    messages.success(request, f"{recipient.email} removed.")
    return redirect("reports:detail", project_id, report.pk)


@login_required
def builder(request, project_id, report_id):
    report = _report_in(request, project_id, report_id, min_role=Role.EDITOR)
    return render(request, "reports/builder.html", {
        "project": report.project, "report": report,
        "report_data": s.ReportSerializer(report).data,
        "ranges": RangeKind.choices,
        "palette": [("kpi", "KPI"), ("chart", "Chart"), ("table", "Table"), ("text", "Text"),
                    *[(f"product:{kind}", kind.replace("-", " ").capitalize())
                      for kind in rendering.PRODUCT_REPORTS]],
        "overview_metrics": rendering.OVERVIEW_METRICS})


# -- a run behind its signed link -----------------------------------------------------------------
def _shared_run(token):
    run = links.run_of(token)
    if run is None or run.snapshot is None:
        raise Http404("This link is unknown, expired or revoked.")
    return run


def run_page(request, token):
    """No login: the run's snapshot and its files, nothing else of the project."""
    run = _shared_run(token)
    files = list(run.files.defer("content"))
    by_key = {f.name[:-4]: f for f in files if f.inline}

    def src(key):
        found = by_key.get(key)
        return f"/r/{token}/files/{found.pk}/" if found else None

    rendered = rendering.from_snapshot(run.snapshot)
    context = mail.email_context(rendered, src, "")
    response = render(request, "reports/run.html", {
        **context, "run": run, "attachments": [f for f in files if not f.inline],
        "token": token, "body": render_to_string("reports/email.html", context)})
    response["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    response["X-Robots-Tag"] = "noindex"
    return response


def run_file(request, token, file_id):
    run = _shared_run(token)
    found = selectors.file_of(run, file_id)
    if found is None:
        raise Http404("File not found")
    response = HttpResponse(bytes(found.content), content_type=found.content_type)
    disposition = "inline" if found.inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{found.name}"'
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response
