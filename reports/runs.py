"""Runs: made once, worked on by one worker at a time, each address sent to once.

- **One row per tick.** Beat sends ``reports.run_scheduled`` with the report's id; the task
  takes the schedule's latest fire time at or before now (+ a minute of clock slack) as the
  run's ``scheduled_for`` and creates the run under the unique (report, scheduled_for)
  constraint. Two beats, a retried task, or a backlog of ticks queued while workers were down
  all name the same latest tick: one row, so a missed run is sent once when the platform comes
  back, not once per missed tick.
- **One worker per run.** ``execute`` holds a PostgreSQL session advisory lock on the run while
  it works (a second worker skips it) and reads the run's status under a row lock; a worker that
  dies mid-run loses its connection and so its lock, and ``resume_stale`` (a beat job) queues
  the run again.
- **Once per address.** Each address's delivery is recorded in its own committed row right after
  the SMTP server accepts it; a retried run skips addresses already sent. (What is left is the
  instant between the server's 250 and that commit: the message id is the same on a resend,
  ``<report-run-N-…@…>``, so a mail system can drop the repeat.)
- **Retries.** An address or channel that fails is tried again with backoff (5, 10, 20, 40 s),
  up to ``MAX_ATTEMPTS`` runs of the whole; every attempt is a Delivery row.
- **Files.** The first attempt renders the report once, stores its snapshot, attachments and
  chart images; later attempts send exactly those.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime, timedelta

from celery import current_app
from django.core.mail import get_connection
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from . import channels, links, mail, rendering, scheduling, timing
from .exports import csv_export, json_export, pdf_export, xlsx_export
from .models import Delivery, Report, Run, RunFile

logger = logging.getLogger(__name__)

EXECUTE_TASK = "reports.execute_run"
MAX_ATTEMPTS = 5
BACKOFF_BASE_S = 5
CLOCK_SLACK = timedelta(seconds=60)  # a tick's task may run this early (clocks differ)
STALE_AFTER = timedelta(seconds=30)
LOCK_CLASS = 0x52455054  # "REPT": the advisory lock space of runs
FINAL = (Run.Status.SENT, Run.Status.SKIPPED, Run.Status.FAILED)
ALERT_HOURS_BEFORE = 6
ALERT_HOURS_AFTER = 1
EXPORTERS = {"csv": csv_export, "xlsx": xlsx_export, "pdf": pdf_export, "json": json_export}


def backoff(attempts: int) -> float:
    return BACKOFF_BASE_S * 2 ** max(0, attempts - 1)


def enqueue(run_id: int, countdown: float = 0) -> None:
    """Queue the run after the commit; if the broker is down, ``resume_stale`` finds it."""
    def send():
        try:
            current_app.send_task(EXECUTE_TASK, args=[run_id], countdown=countdown or None)
        except Exception:
            logger.warning("could not queue report run %s", run_id, exc_info=True)

    transaction.on_commit(send)


# -- making runs ----------------------------------------------------------------------------------
def _recipients(report: Report) -> list[dict]:
    return [{"email": r.email, "formats": list(r.formats or []),
             "min_change_percent": r.min_change_percent,
             "condition_block": r.condition_block_id} for r in report.recipients.all()]


def _new_run(report: Report, *, trigger: str, start: datetime, end: datetime,
             scheduled_for: datetime | None = None, user=None, context: dict | None = None,
             recipients: list[dict] | None = None) -> Run:
    return Run.objects.create(
        report=report, trigger=trigger, scheduled_for=scheduled_for, range_start=start,
        range_end=end, timezone=report.zone, requested_by=user, context=context or {},
        recipients=_recipients(report) if recipients is None else recipients,
        link_key=links.new_key())


def due_tick(report: Report, now: datetime) -> datetime | None:
    schedule = getattr(report, "schedule", None)
    if schedule is None or not schedule.enabled:
        return None
    return timing.previous_fire(scheduling.cron_of(schedule), report.zone, now + CLOCK_SLACK)


def claim_scheduled(report_id: int, now: datetime | None = None) -> Run | None:
    """The run of the report's latest tick, made if missing (the same row for every caller)."""
    now = now or timezone.now()
    report = (Report.objects.select_related("project", "schedule")
              .filter(pk=report_id).first())
    if report is None:
        return None
    tick = due_tick(report, now)
    if tick is None:
        return None
    existing = Run.objects.filter(report=report, trigger=Run.Trigger.SCHEDULE,
                                  scheduled_for=tick).first()
    if existing is not None:
        return existing
    start, end = rendering.window_of(report, tick)
    try:
        with transaction.atomic():
            run = _new_run(report, trigger=Run.Trigger.SCHEDULE, scheduled_for=tick,
                           start=start, end=end)
    except IntegrityError:  # another beat's task made it a moment ago
        return Run.objects.get(report=report, trigger=Run.Trigger.SCHEDULE, scheduled_for=tick)
    return run


@transaction.atomic
def run_now(*, report: Report, user=None) -> Run:
    """A manual run over the report's range now, sent to its recipients and channels."""
    start, end = rendering.window_of(report, timezone.now())
    run = _new_run(report, trigger=Run.Trigger.MANUAL, start=start, end=end, user=user)
    enqueue(run.pk)
    return run


@transaction.atomic
def run_for_alert(*, report: Report, fired_at: datetime, rule: str,
                  notifications: list[int]) -> Run:
    """The report over the hours around an alert's firing, for its notifications only (no
    recipients, no channels: the alert's own channels carry it)."""
    now = timezone.now()
    start = fired_at - timedelta(hours=ALERT_HOURS_BEFORE)
    end = max(min(now, fired_at + timedelta(hours=ALERT_HOURS_AFTER)),
              start + timedelta(minutes=1))
    return _new_run(report, trigger=Run.Trigger.ALERT, start=start, end=end, recipients=[],
                    context={"rule": rule, "fired_at": fired_at.isoformat(),
                             "notifications": notifications, "formats": ["pdf"]})


# -- working on one ------------------------------------------------------------------------------
@contextmanager
def _run_lock(run_id: int):
    key = run_id % 2**31
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, key])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, key])


def is_busy(run_id: int) -> bool:
    """Whether a live worker holds the run."""
    with _run_lock(run_id) as got:
        return not got


def _formats(run: Run) -> list[str]:
    wanted = {f for r in run.recipients for f in r.get("formats", [])}
    wanted |= set(run.context.get("formats", []))
    return [f for f in ("csv", "xlsx", "pdf", "json") if f in wanted]


def _prepare(run: Run) -> rendering.Rendered:
    """The rendered report of the run: made and stored on the first attempt, read back after."""
    if run.snapshot is not None:
        return rendering.from_snapshot(run.snapshot)
    report = run.report
    kind = report.range if run.trigger == Run.Trigger.SCHEDULE else "custom"
    rendered = rendering.render(report, start=run.range_start, end=run.range_end,
                                range_kind=kind)
    files = []
    for fmt in _formats(run):
        name, content_type, content = EXPORTERS[fmt].as_bytes(rendered)
        files.append(RunFile(run=run, name=name, format=fmt, content_type=content_type,
                             size=len(content), content=content))
    for key, png in mail.images_of(rendered).items():
        files.append(RunFile(run=run, name=f"{key}.png", format="png",
                             content_type="image/png", size=len(png), content=png,
                             inline=True))
    with transaction.atomic():
        RunFile.objects.bulk_create(files)
        run.snapshot = rendering.snapshot(rendered)
        run.save(update_fields=["snapshot"])
    return rendering.from_snapshot(run.snapshot)


def condition_holds(recipient: dict, rendered: rendering.Rendered) -> bool:
    """No condition, or a KPI (the chosen one, else any) moved more than the percentage."""
    limit = recipient.get("min_change_percent")
    if limit is None:
        return True
    watched = recipient.get("condition_block")
    for block in rendered.blocks:
        if block.kpi is None or (watched is not None and block.spec.id != watched):
            continue
        if block.kpi.change is not None and abs(block.kpi.change) * 100 > limit:
            return True
    return False


def message_id(run: Run, target: str) -> str:
    digest = hashlib.sha256(target.encode()).hexdigest()[:12]
    return f"<report-run-{run.pk}-{digest}@analytics.reports>"


def _done(run: Run, target: str, channel: str) -> bool:
    return Delivery.objects.filter(run=run, target=target, channel=channel).filter(
        Q(ok=True) | Q(skipped=True)).exists()


def _attempt(run: Run, target: str, channel: str) -> int:
    return Delivery.objects.filter(run=run, target=target, channel=channel).count() + 1


def _send_emails(run: Run, rendered, files: list[RunFile], connection_factory) -> list[bool]:
    outcomes = []
    images = {f.name[:-4]: bytes(f.content) for f in files if f.inline}
    attachments = {f.format: (f.name, bytes(f.content), f.content_type)
                   for f in files if not f.inline}
    link = links.url_of(run)
    pending = [r for r in run.recipients if not _done(run, r["email"], "email")]
    if not pending:
        return outcomes
    smtp = None
    for recipient in pending:
        target = recipient["email"]
        if not condition_holds(recipient, rendered):
            Delivery.objects.create(run=run, target=target, skipped=True, error=(
                f"Not sent: no KPI moved more than {recipient['min_change_percent']:g} %."))
            outcomes.append(True)
            continue
        message = mail.build_message(
            rendered, to=target, images=images, link=link, message_id=message_id(run, target),
            attachments=[attachments[f] for f in recipient.get("formats", [])
                         if f in attachments])
        started, attempt = time.perf_counter(), _attempt(run, target, "email")
        try:
            if smtp is None:
                smtp = connection_factory()
                smtp.open()
            message.connection = smtp
            message.send()
        except Exception as exc:  # SMTPException, OSError, timeouts
            Delivery.objects.create(run=run, target=target, attempt=attempt,
                                    error=f"{type(exc).__name__}: {exc}"[:1000],
                                    duration_ms=_ms(started))
            outcomes.append(False)
            if smtp is not None:
                _close(smtp)
            smtp = None
            continue
        Delivery.objects.create(run=run, target=target, attempt=attempt, ok=True, code=250,
                                duration_ms=_ms(started))
        outcomes.append(True)
    if smtp is not None:
        _close(smtp)
    return outcomes


def _close(smtp) -> None:
    try:
        smtp.close()
    except Exception:
        logger.debug("closing the SMTP connection failed", exc_info=True)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def summary_of(run: Run, rendered) -> tuple[dict, str]:
    lines = [f"{rendered.title} — {rendered.range_text()}"]
    for block in rendered.blocks:
        if block.kpi is not None:
            from .exports.formatting import change_text, number_text

            lines.append(f"• {block.title}: {number_text(block.kpi.value, block.kpi.unit)} "
                         f"({change_text(block.kpi.change)})")
    url = links.url_of(run)
    lines.append(url)
    summary = {"id": run.report_id, "title": rendered.title, "start": rendered.start.isoformat(),
               "end": rendered.end.isoformat(), "timezone": rendered.tz,
               "kpis": [{"title": b.title, "value": b.kpi.value, "change": b.kpi.change}
                        for b in rendered.blocks if b.kpi is not None]}
    return summary, "\n".join(lines)


def _send_channels(run: Run, rendered) -> list[bool]:
    if run.trigger == Run.Trigger.ALERT:
        return []
    outcomes = []
    summary, text = summary_of(run, rendered)
    for channel in run.report.channels.filter(enabled=True, kind__in=("webhook", "slack")):
        target = f"{channel.name} (#{channel.pk})"
        if _done(run, target, channel.kind):
            continue
        started, attempt = time.perf_counter(), _attempt(run, target, channel.kind)
        result = channels.post(channel, run_id=run.pk, summary=summary, text=text,
                               url=links.url_of(run))
        Delivery.objects.create(run=run, target=target, channel=channel.kind, attempt=attempt,
                                ok=result.ok, code=result.code, error=result.error,
                                duration_ms=_ms(started))
        outcomes.append(result.ok)
    return outcomes


def execute(run_id: int, *, connection_factory: Callable | None = None,
            now: datetime | None = None) -> Run | None:
    """Work on one run now: render (first time), deliver what is not delivered yet, and set
    its status. None when another worker has it."""
    factory = connection_factory or (lambda: get_connection(fail_silently=False))
    with _run_lock(run_id) as got:
        if not got:
            return None
        now = now or timezone.now()
        with transaction.atomic():
            run = (Run.objects.select_for_update(of=("self",))
                   .select_related("report__project").filter(pk=run_id).first())
            if run is None or run.status in FINAL:
                return run
            if run.next_attempt_at and run.next_attempt_at > now + timedelta(seconds=1):
                return run
            run.status, run.attempts = Run.Status.RUNNING, run.attempts + 1
            run.started_at = run.started_at or now
            run.save(update_fields=["status", "attempts", "started_at"])
        started = time.perf_counter()
        try:
            rendered = _prepare(run)
            files = list(run.files.all())
            outcomes = _send_emails(run, rendered, files, factory) + _send_channels(run,
                                                                                  rendered)
            error = "" if all(outcomes) else "A delivery failed; see the attempts."
        except Exception as exc:  # the database, the engine, a bug: this attempt failed
            logger.exception("report run %s failed", run_id)
            outcomes, error = [False], f"{type(exc).__name__}: {exc}"[:2000]
        return _finish(run, outcomes, error, started)


def _finish(run: Run, outcomes: list[bool], error: str, started: float) -> Run:
    now = timezone.now()
    run.duration_ms = (run.duration_ms or 0) + _ms(started)
    run.error = error
    if all(outcomes):
        sent = Delivery.objects.filter(run=run, ok=True).exists()
        nothing_to_send = not run.recipients and run.trigger != Run.Trigger.ALERT \
            and not sent
        run.status = Run.Status.SENT if sent or run.trigger == Run.Trigger.ALERT \
            or nothing_to_send else Run.Status.SKIPPED
        run.finished_at, run.next_attempt_at = now, None
    elif run.attempts >= MAX_ATTEMPTS:
        run.status, run.finished_at, run.next_attempt_at = Run.Status.FAILED, now, None
    else:
        run.status = Run.Status.RETRYING
        run.next_attempt_at = now + timedelta(seconds=backoff(run.attempts))
    with transaction.atomic():
        run.save(update_fields=["status", "finished_at", "next_attempt_at", "error",
                                "duration_ms"])
        if run.status == Run.Status.RETRYING:
            enqueue(run.pk, countdown=backoff(run.attempts))
        if run.trigger == Run.Trigger.ALERT and run.status in FINAL:
            _hand_to_alert(run)
    return run


ATTACH_TASK = "alerts.attach_report"


def _hand_to_alert(run: Run) -> None:
    """Give the alert's waiting notifications the run's link and files (by task name: the two
    apps do not import each other); on failure, say so, and they go out without it."""
    body = {"run": run.pk if run.status == Run.Status.SENT else None,
            "title": run.report.title, "url": links.url_of(run)
            if run.status == Run.Status.SENT else "",
            "start": run.range_start.isoformat(), "end": run.range_end.isoformat(),
            "timezone": run.timezone, "error": run.error,
            "files": list(run.files.filter(inline=False).values("id", "name", "content_type",
                                                                 "size"))}
    ids = list(run.context.get("notifications", []))

    def send():
        try:
            current_app.send_task(ATTACH_TASK, args=[ids, body])
        except Exception:
            logger.warning("could not hand report run %s to its alert", run.pk, exc_info=True)

    transaction.on_commit(send)


def resume_stale(now: datetime | None = None) -> list[int]:
    """Runs that should be under way and are not: queued ones whose task was lost, retries past
    due, and running ones whose worker died (their lock is free). Queues each again."""
    now = now or timezone.now()
    found = Run.objects.filter(
        Q(status=Run.Status.PENDING, created_at__lte=now - STALE_AFTER)
        | Q(status=Run.Status.RETRYING, next_attempt_at__lte=now - STALE_AFTER)
        | Q(status=Run.Status.RUNNING)).values_list("pk", "status")[:200]
    queued = []
    for pk, status in found:
        if status == Run.Status.RUNNING and is_busy(pk):
            continue
        if status == Run.Status.RUNNING:  # its worker died: due again now
            Run.objects.filter(pk=pk, status=Run.Status.RUNNING).update(
                status=Run.Status.RETRYING, next_attempt_at=now)
        queued.append(pk)
        enqueue(pk)
    return queued


def report_missing(notification_ids: list[int]) -> None:
    """The named report is gone: the notifications go out without it."""
    current_app.send_task(ATTACH_TASK, args=[notification_ids, {
        "run": None, "error": "The report was deleted.", "files": []}])
