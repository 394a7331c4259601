"""Handing notifications to the delivery worker. Evaluation and the test button queue
notification ids here; the task is named, not imported, so ``evaluation`` and ``tasks`` (which
imports evaluation) do not import each other."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from celery import current_app

logger = logging.getLogger(__name__)
DELIVER_TASK = "alerts.deliver"
REPORT_TASK = "reports.render_for_alert"
# A notification waiting for its rule's report goes out without it after this (the sweeper
# takes it then), so a report that cannot be made never holds an alert back for long.
REPORT_WAIT = timedelta(minutes=3)


def enqueue(ids: list[int], send: Callable[[int], object] | None = None) -> None:
    """Queue each notification for delivery (``send`` replaces the queue in tests); if the
    broker is down, the sweeper sends them later."""
    for pk in ids:
        try:
            if send is None:
                current_app.send_task(DELIVER_TASK, args=[pk])
            else:
                send(pk)
        except Exception:
            logger.warning("could not enqueue notification %s", pk, exc_info=True)


def request_reports(requests: list[tuple]) -> None:
    """Ask the reports app (by task name: the apps do not import each other) to render each
    rule's report around its firing; it answers with ``alerts.attach_report``."""
    for report_id, ids, fired_at, rule in requests:
        try:
            current_app.send_task(REPORT_TASK, args=[report_id, ids, fired_at, rule])
        except Exception:
            logger.warning("could not ask for report %s; notifications %s go without it",
                           report_id, ids, exc_info=True)
