"""Sending notifications: e-mail, signed webhooks and Slack-compatible webhooks.

``deliver(pk)`` takes the notification row with FOR UPDATE SKIP LOCKED (a retry and the sweeper
never send the same one at once), sends it if it is still pending and due, and records the try
as a DeliveryAttempt. A failed try is retried with exponential backoff (5 s, 10 s, 20 s, 40 s)
up to MAX_ATTEMPTS; then the notification is FAILED. Delivery is at-least-once: a receiver can
drop a repeat by ``X-Notification-Id``. Webhooks go out through ``analytics_site.outbound``: to
the address vetted by the guard, never following a redirect.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from analytics_site import outbound

from .models import ChannelKind, DeliveryAttempt, Notification
from .urlguard import WEBHOOKS, UnsafeURL

MAX_ATTEMPTS = 5
BACKOFF_BASE_S = 5
STALE_AFTER_S = 60  # a pending notification no task took care of for this long is re-sent
RESPONSE_MAX_BYTES = 64 * 1024  # of a receiver's answer: only its first 500 characters are kept


@dataclass
class Result:
    ok: bool
    code: int | None = None
    error: str = ""


def backoff(attempts: int) -> float:
    return BACKOFF_BASE_S * 2 ** max(0, attempts - 1)


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _subject(note: Notification) -> str:
    body = note.payload
    state = {"resolved": "RESOLVED", "test": "TEST"}.get(note.kind, "FIRING")
    return f"[{state}] {body.get('rule', {}).get('name', 'Alert')}"[:200]


def _post(url: str, body: bytes, headers: dict, timeout: float) -> Result:
    """UnsafeURL (the guard's refusal) is raised, not returned: deliver() does not retry it."""
    try:
        answer = outbound.request("POST", url, policy=WEBHOOKS, content=body, headers=headers,
                                  timeout=timeout, max_bytes=RESPONSE_MAX_BYTES)
    except outbound.RequestFailed as exc:
        return Result(False, exc.status, exc.message[:1000])
    if 200 <= answer.status < 300:
        return Result(True, answer.status)
    return Result(False, answer.status, answer.text[:500])


def report_line(payload: dict) -> str:
    """What the text of a notification says of its rule's report: the link, or why not."""
    report = payload.get("report") or {}
    if report.get("url"):
        return (f"Report “{report.get('title', '')}” ({report.get('start', '')[:16]} to "
                f"{report.get('end', '')[:16]} UTC): {report['url']}")
    if report.get("error"):
        return f"The report could not be made: {report['error'][:300]}"
    return ""


def _text(note: Notification) -> str:
    line = report_line(note.payload)
    message = note.payload.get("message", "")
    return f"{message}\n\n{line}" if line else message


def _attachments(note: Notification) -> list[tuple[str, bytes, str]]:
    """The files of the rule's report rendered for this firing (through the notification's
    report_run relation: the alerts app does not import reports)."""
    if note.report_run_id is None:
        return []
    return [(f.name, bytes(f.content), f.content_type)
            for f in note.report_run.files.filter(inline=False)]


def send(note: Notification) -> Result:
    channel = note.channel
    if channel.kind == ChannelKind.EMAIL:
        message = EmailMessage(_subject(note), _text(note),
                               settings.DEFAULT_FROM_EMAIL, channel.recipients)
        for name, content, content_type in _attachments(note):
            message.attach(name, content, content_type.split(";")[0])
        try:
            message.send()
        except (OSError, Exception) as exc:  # smtplib errors are OSError or SMTPException
            return Result(False, None, f"{type(exc).__name__}: {exc}"[:1000])
        return Result(True, 250)
    headers = {"Content-Type": "application/json", "User-Agent": "analytics-alerts/1",
               "X-Notification-Id": str(note.pk)}
    if channel.kind == ChannelKind.SLACK:
        body = json.dumps({"text": _text(note)}).encode()
    else:
        body = json.dumps({"id": note.pk, **note.payload}, separators=(",", ":")).encode()
        if channel.secret:
            headers["X-Signature"] = signature(channel.secret, body)
    return _post(channel.url, body, headers, channel.timeout_s)


def deliver(pk: int) -> Notification | None:
    """Try to send one notification now; returns it (with its new status), or None when there
    was nothing to do (sent already, not due, or another worker has it)."""
    with transaction.atomic():
        note = (Notification.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("channel").filter(pk=pk).first())
        now = timezone.now()
        if note is None or note.status != Notification.Status.PENDING:
            return None
        if note.next_attempt_at and note.next_attempt_at > now:
            return None
        started = time.perf_counter()
        try:
            result = send(note)
        except UnsafeURL as exc:
            result = Result(False, None, exc.message)
            note.attempts = MAX_ATTEMPTS - 1  # refused addresses do not get better by retrying
        DeliveryAttempt.objects.create(notification=note, ok=result.ok,
                                       response_code=result.code, error=result.error,
                                       duration_ms=round((time.perf_counter() - started) * 1000,
                                                         1))
        note.attempts += 1
        if result.ok:
            note.status, note.sent_at, note.next_attempt_at = Notification.Status.SENT, now, None
        elif note.attempts >= MAX_ATTEMPTS:
            note.status, note.next_attempt_at = Notification.Status.FAILED, None
        else:
            note.next_attempt_at = now + timedelta(seconds=backoff(note.attempts))
        note.save(update_fields=["status", "sent_at", "attempts", "next_attempt_at"])
        return note


def stale(now=None) -> list[int]:
    """Pending notifications that should have been tried by now: their task was lost (a worker
    died, the broker was down when they were queued)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=STALE_AFTER_S)
    from django.db.models import Q

    return list(Notification.objects.filter(status=Notification.Status.PENDING).filter(
        Q(next_attempt_at__isnull=True, created_at__lte=cutoff)
        | Q(next_attempt_at__lte=cutoff)).values_list("pk", flat=True)[:500])


def attach_report(ids: list[int], report: dict) -> list[int]:
    """The rule's report is ready (or could not be made): the waiting notifications get its
    link (and, through ``report_run``, its files) and are due now. Returns the ids to send."""
    due = []
    with transaction.atomic():
        for note in (Notification.objects.select_for_update().filter(
                pk__in=ids, status=Notification.Status.PENDING)):
            note.payload = {**note.payload, "report": {
                k: v for k, v in report.items() if k in ("run", "title", "url", "start", "end",
                                                          "timezone", "error", "files")}}
            note.report_run_id = report.get("run")
            note.next_attempt_at = None
            note.save(update_fields=["payload", "report_run", "next_attempt_at"])
            due.append(note.pk)
    return due
