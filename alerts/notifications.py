"""Handing notifications to the delivery worker. Evaluation and the test button queue
notification ids here; the task is named, not imported, so ``evaluation`` and ``tasks`` (which
imports evaluation) do not import each other."""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import current_app

logger = logging.getLogger(__name__)
DELIVER_TASK = "alerts.deliver"


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
