"""Schedules through the real scheduler: two beat processes and a worker, all on a clock the
test moves (reports.tests.clock), reports scheduled in Europe/Paris across the DST change of
2026-10-25. Each e-mail arrives once at its local time; a run missed while the platform was
down is sent once when it comes back; a worker killed mid-run leaves a run that the next worker
sends once."""

import asyncio
import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

import pytest
import redis
from django.conf import settings as django_settings
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from conftest import child_env
from events import rollups
from reports import runs, services
from reports.models import Delivery, Run
from tests.server_fixtures import BASE_DIR

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SIGNUPS_IN_WEEK = 7


class Inbox:
    """aiosmtpd on loopback; ``stall`` holds the first message's DATA (unrecorded) until
    released, then refuses it."""

    def __init__(self, stall: bool = False):
        from aiosmtpd.controller import Controller

        self.messages, self.stall, self.released, self.stalled = [], stall, False, False
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if box.stall and not box.stalled:
                    box.stalled = True
                    while not box.released:
                        await asyncio.sleep(0.05)
                    return "451 Try again"
                from email import message_from_bytes, policy

                box.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def wait(self, count: int, timeout: float) -> list:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.messages


@pytest.fixture
def processes():
    started = []

    def start(args, env):
        log = open(os.environ.get("REPORTS_PROC_LOG", os.devnull), "a")  # noqa: SIM115
        proc = subprocess.Popen(args, cwd=BASE_DIR, env=env, start_new_session=True,
                                stdout=log, stderr=subprocess.STDOUT)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        stop(proc)


def stop(proc, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _celery(clock_file, *args) -> list[str]:
    return [sys.executable, "-m", "reports.tests.clock", str(clock_file), "celery", "-A",
            "analytics_site", *args]


def _beat_alive() -> bool:
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    return client.get(django_settings.BEAT_HEARTBEAT_KEY) is not None


def _until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out: {what}")


def _report(project, owner, title, range_kind, to):
    report = services.create_report(project=project, user=owner, title=title,
                                    range=range_kind, compare=False, blocks=[
                                        {"kind": "kpi", "title": "Sign-ups",
                                         "query": "count:events{event:signup}"},
                                        {"kind": "table", "title": "By name",
                                         "query": "count:events{} by {event}",
                                         "options": {"mode": "breakdown"}}])
    services.add_recipient(report=report, email=to, formats=["csv", "xlsx", "pdf"])
    return report


def test_schedules_in_paris_across_dst_two_beats_one_email_and_a_missed_run_once(
        store, make_user, make_project, processes, tmp_path):
    owner = make_user("maria")
    project = make_project("Paris shop", owner=owner)
    project.timezone = "Europe/Paris"
    project.raw_retention_days = project.minute_rollup_retention_days = 3650
    project.hour_rollup_retention_days = 3650
    project.save()
    week = datetime(2026, 10, 20, 10, tzinfo=UTC)  # inside Mon 19 to Sun 25 October, Paris
    store.events(project, [
        *[{"event": "signup", "distinct_id": f"u{i}", "timestamp": (week + timedelta(
            hours=7 * i)).isoformat()} for i in range(SIGNUPS_IN_WEEK)],
        {"event": "signup", "distinct_id": "late", "timestamp": "2026-10-26T03:00:00Z"},
        {"event": "signup", "distinct_id": "early", "timestamp": "2026-10-18T21:30:00Z"}])
    rollups.fold()
    weekly = _report(project, owner, "Weekly", "previous_week", "weekly@example.com")
    services.set_schedule(report=weekly, kind="weekly", weekday=0, time=clock_time(9, 0))
    cron = _report(project, owner, "Cron", "previous_day", "cron@example.com")
    services.set_schedule(report=cron, kind="cron", time=clock_time(0, 0), cron="15 9 * * 1")
    monthly = _report(project, owner, "Monthly", "previous_month", "monthly@example.com")
    services.set_schedule(report=monthly, kind="monthly", day_of_month=26, time=clock_time(9, 30))
    daily = _report(project, owner, "Daily", "previous_day", "daily@example.com")
    services.set_schedule(report=daily, kind="daily", time=clock_time(10, 0))

    # The rows were made (now, in real time) before the fake morning: beat takes a row's last
    # change for its last run, so date them to the fake past.
    PeriodicTask.objects.update(last_run_at=datetime(2026, 10, 26, 6, 59, tzinfo=UTC))
    inbox = Inbox()
    clock = tmp_path / "clock"

    def set_clock(moment):
        clock.write_text(str(moment.timestamp() - time.time()))

    def fake_now():
        return datetime.fromtimestamp(time.time() + float(clock.read_text()), UTC)

    env = child_env(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(inbox.port),
                    PUBLIC_URL="http://reports.test")
    # 07:00 UTC would be 09:00 in Paris before the change of the 25th: nothing may come then.
    set_clock(datetime(2026, 10, 26, 6, 59, 35, tzinfo=UTC))
    redis.Redis.from_url(django_settings.REDIS_URL).delete(django_settings.BEAT_HEARTBEAT_KEY)
    worker = processes(_celery(clock, "worker", "-l", "INFO", "--pool", "solo", "-n",
                               "reports1@%h"), env)
    beats = [processes(_celery(clock, "beat", "-l", "INFO", "-s",
                               str(tmp_path / f"beat{i}")), env) for i in (1, 2)]
    _until(_beat_alive, 60, "beat's first tick")
    _until(lambda: fake_now() > datetime(2026, 10, 26, 7, 0, 12, tzinfo=UTC), 60, "07:00:12")
    assert inbox.messages == []

    expected = [("weekly@example.com", datetime(2026, 10, 26, 8, 0, tzinfo=UTC), weekly),
                ("cron@example.com", datetime(2026, 10, 26, 8, 15, tzinfo=UTC), cron),
                ("monthly@example.com", datetime(2026, 10, 26, 8, 30, tzinfo=UTC), monthly),
                ("daily@example.com", datetime(2026, 10, 26, 9, 0, tzinfo=UTC), daily)]
    for count, (to, tick, report) in enumerate(expected, start=1):
        set_clock(tick - timedelta(seconds=8))
        messages = inbox.wait(count, 45)
        assert len(messages) == count, (f"{to} did not arrive", list(
            PeriodicTask.objects.values("name", "last_run_at", "total_run_count", "enabled",
                                        "crontab__hour", "crontab__timezone")),
            list(Run.objects.values("report__title", "scheduled_for", "status", "error")),
            fake_now())
        assert messages[-1]["To"] == to
        _until(lambda report=report: Run.objects.get(report=report).status == Run.Status.SENT,
               30, f"{to}'s run marked sent")  # the e-mail is accepted a moment before
        assert Run.objects.get(report=report).scheduled_for == tick
    time.sleep(6)  # both beats ticked past every time: still one e-mail each
    assert len(inbox.messages) == 4

    run = Run.objects.get(report=weekly)
    assert (run.range_start, run.range_end) == (datetime(2026, 10, 18, 22, tzinfo=UTC),
                                                datetime(2026, 10, 25, 23, tzinfo=UTC))
    files = {p.get_filename(): p.get_content() for p in inbox.messages[0].iter_attachments()}
    with zipfile.ZipFile(io.BytesIO(files["Weekly.zip"])) as zipped:
        kpi = list(csv.reader(io.StringIO(zipped.read("01-Sign-ups.csv").decode())))
    assert kpi[1][:2] == ["Sign-ups", f"{SIGNUPS_IN_WEEK}.0"]
    assert set(files) == {"Weekly.zip", "Weekly.xlsx", "Weekly.pdf"}

    # The platform goes down for three days; when it is back, the daily report of the missed
    # days is sent once, for the latest tick.
    for proc in [worker, *beats]:
        stop(proc)
    set_clock(datetime(2026, 10, 29, 11, 0, tzinfo=UTC))
    processes(_celery(clock, "worker", "-l", "INFO", "--pool", "solo", "-n",
                      "reports2@%h"), env)
    processes(_celery(clock, "beat", "-l", "INFO", "-s", str(tmp_path / "beat3")), env)
    messages = inbox.wait(5, 60)
    assert len(messages) == 5 and messages[-1]["To"] == "daily@example.com"
    time.sleep(8)
    assert len(inbox.messages) == 5
    latest = Run.objects.filter(report=daily).order_by("-scheduled_for").first()
    assert latest.scheduled_for == datetime(2026, 10, 29, 9, 0, tzinfo=UTC)
    assert Run.objects.filter(report=daily).count() == 2
    inbox.controller.stop()


def test_a_worker_killed_mid_run_is_retried_and_sends_once(
        store, make_user, make_project, processes, tmp_path):
    owner = make_user("maria")
    project = make_project("Kill", owner=owner)
    store.events(project, [{"event": "signup", "distinct_id": "a"}])
    rollups.fold()
    report = _report(project, owner, "Killed", "last_24h", "ops@example.com")
    call_command("sync_schedules", stdout=io.StringIO())  # the resume sweeper among them
    inbox = Inbox(stall=True)
    clock = tmp_path / "clock"
    clock.write_text("0")
    env = child_env(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(inbox.port))
    first = processes(_celery(clock, "worker", "-l", "INFO", "--pool", "solo", "-n",
                              "victim@%h"), env)
    run = runs.run_now(report=report)
    _until(lambda: inbox.stalled, 60, "the first worker to reach the SMTP server")
    stop(first, signal.SIGKILL)  # mid-run: its message not yet accepted
    inbox.released = True
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING and not runs.is_busy(run.pk)
    processes(_celery(clock, "worker", "-l", "INFO", "--pool", "solo", "-n",
                      "rescuer@%h"), env)
    processes(_celery(clock, "beat", "-l", "INFO", "-s", str(tmp_path / "beat")), env)
    messages = inbox.wait(1, 60)
    _until(lambda: Run.objects.get(pk=run.pk).status == Run.Status.SENT, 30, "sent")
    time.sleep(3)
    assert len(messages) == 1 and messages[0]["To"] == "ops@example.com"
    run.refresh_from_db()
    assert run.attempts == 2
    assert list(Delivery.objects.filter(run=run).values_list("ok", flat=True)) == [True]
    inbox.controller.stop()
