"""Celery tasks of the alerts app: thin wrappers around evaluation and delivery."""

from celery import shared_task

from . import delivery, evaluation


@shared_task(name="alerts.evaluate")
def evaluate() -> dict:
    report = evaluation.evaluate_due()
    return {"rules": report.rules, "executions": report.executions,
            "transitions": report.transitions, "notifications": report.notifications}


@shared_task(name="alerts.deliver", bind=True, max_retries=delivery.MAX_ATTEMPTS)
def deliver_notification(self, pk: int) -> str:
    note = delivery.deliver(pk)
    if note is None:
        return "skipped"
    if note.status == note.Status.PENDING:  # failed, to be tried again
        raise self.retry(countdown=delivery.backoff(note.attempts))
    return note.status


@shared_task(name="alerts.sweep_deliveries")
def sweep_deliveries() -> int:
    ids = delivery.stale()
    for pk in ids:
        deliver_notification.delay(pk)
    return len(ids)


@shared_task(name="alerts.attach_report")
def attach_report(ids: list[int], report: dict) -> int:
    """Sent by the reports app when a rule's report is rendered for a firing."""
    due = delivery.attach_report(ids, report)
    for pk in due:
        deliver_notification.delay(pk)
    return len(due)
