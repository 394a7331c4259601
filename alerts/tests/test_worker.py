"""Evaluation and delivery in real Celery workers: a worker killed in the middle of an
evaluation (its transaction blocked on a lock this test holds, then SIGKILL) leaves no trace,
and the next worker fires the alert and delivers exactly one notification."""

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection

from alerts import services
from alerts.models import AlertInstance, AlertRule, Notification
from alerts.tasks import evaluate
from alerts.tests.receivers import webhook  # noqa: F401 - fixture
from conftest import child_env, wait_for
from events import rollups

pytestmark = pytest.mark.slow


def _worker(name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "analytics_site", "worker", "-l", "WARNING",
         "--pool", "solo", "-n", f"{name}@%h"],
        env=child_env(WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8"))


def _dsn() -> str:
    params = connection.get_connection_params()
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items()
                                             if k in ("host", "port", "user", "password",
                                                      "dbname")})



def test_a_worker_killed_mid_evaluation_fires_nothing_and_the_next_fires_once(
        store, make_project, webhook):  # noqa: F811
    project = make_project("Fleet")
    now = datetime.now(UTC)
    store.points(project, [{"name": "cpu", "value": 97.0,
                            "timestamp": (now - timedelta(minutes=m)).isoformat()}
                           for m in range(0, 4)])
    rollups.fold()
    channel = services.create_channel(project=project, name="hook", kind="webhook",
                                      url=webhook.url)
    rule = services.create_rule(project=project, name="CPU", query="avg:cpu{}", threshold=90,
                                channels=[channel.pk])

    blocker = psycopg.connect(_dsn())
    watcher = psycopg.connect(_dsn(), autocommit=True)  # pg_stat_activity fresh on each read
    blocker.execute("LOCK TABLE alerts_notification IN EXCLUSIVE MODE")  # inserts wait
    first = _worker("doomed")
    try:
        evaluate.delay()
        stuck = wait_for(lambda: watcher.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE 'INSERT INTO \"alerts_notification\"%'").fetchone(), 60,
            "the worker to reach the notifications insert")
    finally:
        first.kill()  # SIGKILL, mid-transaction (also when the wait above failed)
        first.wait(30)
        blocker.rollback()  # the lock goes; the dead worker's transaction can only abort
        blocker.close()
    wait_for(lambda: not watcher.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                      stuck).fetchone(), 30, "the dead backend to end")
    watcher.close()
    assert not AlertInstance.objects.filter(rule=rule).exists()
    assert not Notification.objects.exists()

    second = _worker("survivor")
    try:
        evaluate.delay()
        requests = webhook.wait_for(1, timeout=60)
        evaluate.delay()  # again: still firing, nothing new to say
        AlertRule.objects.filter(pk=rule.pk).update(next_evaluation_at=None)
        evaluate.delay()
        time.sleep(3)
    finally:
        second.terminate()
        second.wait(30)
    assert [r["json"]["kind"] for r in requests] == ["firing"]
    assert len(webhook.requests) == 1
    assert AlertInstance.objects.get(rule=rule).state == "firing"
    assert list(Notification.objects.values_list("kind", "status")) == [("firing", "sent")]


def test_a_failed_delivery_is_retried_by_the_worker_with_backoff(transactional_db,
                                                                 make_project, webhook):  # noqa: F811
    from alerts import delivery
    from alerts.models import DeliveryAttempt
    from alerts.tasks import deliver_notification

    project = make_project("Fleet")
    channel = services.create_channel(project=project, name="hook", kind="webhook",
                                      url=webhook.url)
    webhook.statuses.append(502)  # the first try fails, the second succeeds
    note = services.send_test(channel=channel, enqueue=lambda pk: None)
    worker = _worker("retrier")
    try:
        deliver_notification.delay(note.pk)
        requests = webhook.wait_for(2, timeout=60)
    finally:
        worker.terminate()
        worker.wait(30)
    assert len(requests) == 2
    gap = DeliveryAttempt.objects.filter(notification=note).order_by("at")
    first, second = list(gap)
    assert (first.ok, first.response_code, second.ok) == (False, 502, True)
    assert (second.at - first.at).total_seconds() >= delivery.BACKOFF_BASE_S - 0.5
    note.refresh_from_db()
    assert (note.status, note.attempts) == ("sent", 2)
