"""Runs, in process, against a loopback SMTP server: the e-mail as received (HTML with inline
charts, a plain-text part, the chosen attachments holding the engine's numbers, the signed
link); a run is sent once however often it is executed; a failing SMTP server is retried with
backoff, each attempt recorded; a condition skips a recipient; the signed link opens that run
only, expires and can be revoked."""

import csv
import io
import re
import socket
import zipfile
from datetime import timedelta

import openpyxl
import pytest
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from reports import links, runs, services
from reports.models import Delivery, Run

from .conftest import PAGE_VIEWS, SIGNUPS

pytestmark = pytest.mark.django_db(transaction=True)


class FlakyMailbox:
    """aiosmtpd on loopback that answers 451 to the first ``failures`` messages."""

    def __init__(self, failures: int = 0):
        from aiosmtpd.controller import Controller

        self.messages, self.refused, self.failures = [], 0, failures
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if box.refused < box.failures:
                    box.refused += 1
                    return "451 Try again later"
                from email import message_from_bytes, policy

                box.messages.append({"to": envelope.rcpt_tos, "message": message_from_bytes(
                    envelope.content, policy=policy.default)})
                return "250 OK"

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()


@pytest.fixture
def smtp(settings):
    def start(failures=0):
        box = FlakyMailbox(failures)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", box.port
        boxes.append(box)
        return box

    boxes = []
    settings.PUBLIC_URL = "http://reports.test"
    yield start
    for box in boxes:
        box.controller.stop()


def _attachments(message) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def test_a_run_arrives_with_html_text_inline_charts_attachments_and_link(report, smtp):
    box = smtp()
    services.add_recipient(report=report, email="team@example.com",
                           formats=["csv", "xlsx", "pdf"])
    run = runs.run_now(report=report, user=None)
    done = runs.execute(run.pk)
    assert done.status == Run.Status.SENT
    [received] = box.messages
    message = received["message"]
    assert received["to"] == ["team@example.com"]
    assert message["Subject"].startswith("Weekly shop — ")
    assert message["Message-ID"] == runs.message_id(run, "team@example.com")
    text = message.get_body(("plain",)).get_content()
    assert f"{SIGNUPS}" in text and "page_view | 30" in text
    html_part = message.get_body(("html",))
    html = html_part.get_content()
    related = message.get_body(("related",))
    images = [p for p in related.iter_parts() if p.get_content_type() == "image/png"]
    assert len(images) == 2  # the chart and the KPI's sparkline
    for image in images:
        assert f"cid:{image['Content-ID'].strip().strip('<>')}" in html
    assert "&lt;script&gt;x()&lt;/script&gt;" in html and "<script>" not in html
    # The link signs the run with a timestamp (it expires), so it is read from the message and
    # checked to open this run, not recomputed (a second later it would differ).
    [link] = set(re.findall(r"http://reports\.test/r/[^/\s\"<>]+/", html))
    assert link in text
    assert links.run_of(link.removeprefix("http://reports.test/r/").rstrip("/")) == done
    files = _attachments(message)
    assert sorted(files) == ["Weekly-shop.pdf", "Weekly-shop.xlsx", "Weekly-shop.zip"]
    with zipfile.ZipFile(io.BytesIO(files["Weekly-shop.zip"])) as zipped:
        rows = list(csv.reader(io.StringIO(zipped.read("03-Events-by-name.csv").decode())))
    assert rows[1:] == [["page_view", f"{PAGE_VIEWS}.0", "", ""], ["signup", f"{SIGNUPS}.0",
                                                                   "", ""]]
    book = openpyxl.load_workbook(io.BytesIO(files["Weekly-shop.xlsx"]))
    assert book["Sign-ups"]["B2"].value == SIGNUPS
    pdf_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(
        files["Weekly-shop.pdf"])).pages)
    assert "Events by name" in pdf_text and "page_view" in pdf_text
    sizes = {f.format: f.size for f in done.files.filter(inline=False)}
    assert sizes == {fmt: len(files[name]) for fmt, name in (
        ("csv", "Weekly-shop.zip"), ("xlsx", "Weekly-shop.xlsx"), ("pdf", "Weekly-shop.pdf"))}


def test_executing_a_run_again_sends_nothing_twice(report, smtp):
    box = smtp()
    services.add_recipient(report=report, email="a@example.com", formats=["pdf"])
    services.add_recipient(report=report, email="b@example.com", formats=[])
    run = runs.run_now(report=report)
    for _ in range(3):
        runs.execute(run.pk)
    assert sorted(m["to"][0] for m in box.messages) == ["a@example.com", "b@example.com"]
    assert Delivery.objects.filter(run=run, ok=True).count() == 2


def test_a_failing_smtp_server_is_retried_with_backoff_each_attempt_recorded(report, smtp):
    box = smtp(failures=2)
    services.add_recipient(report=report, email="ops@example.com", formats=["csv"])
    run = runs.run_now(report=report)
    first = runs.execute(run.pk)
    assert first.status == Run.Status.RETRYING
    assert (first.next_attempt_at - timezone.now()).total_seconds() == pytest.approx(5, abs=2)
    assert runs.execute(run.pk).attempts == 1  # not due yet: nothing happens
    second = runs.execute(run.pk, now=first.next_attempt_at)
    assert second.status == Run.Status.RETRYING and second.attempts == 2
    assert (second.next_attempt_at - timezone.now()).total_seconds() == pytest.approx(10, abs=2)
    third = runs.execute(run.pk, now=second.next_attempt_at)
    assert third.status == Run.Status.SENT and third.attempts == 3
    attempts = list(Delivery.objects.filter(run=run).values_list("attempt", "ok", "error"))
    assert [(a, ok) for a, ok, _ in attempts] == [(1, False), (2, False), (3, True)]
    assert "451" in attempts[0][2]
    assert len(box.messages) == 1


def test_a_recipient_whose_condition_does_not_hold_is_skipped(report, smtp):
    box = smtp()
    services.add_recipient(report=report, email="calm@example.com", min_change_percent=50)
    services.add_recipient(report=report, email="all@example.com")
    done = runs.execute(runs.run_now(report=report).pk)
    assert [m["to"] for m in box.messages] == [["all@example.com"]]
    skipped = Delivery.objects.get(run=done, target="calm@example.com")
    assert skipped.skipped and "50 %" in skipped.error


def test_one_scheduled_tick_is_one_run(report):
    services.set_schedule(report=report, kind="daily", time=timezone.now().time().replace(
        second=0, microsecond=0))
    first = runs.claim_scheduled(report.pk)
    again = runs.claim_scheduled(report.pk, now=timezone.now() + timedelta(seconds=30))
    assert first.pk == again.pk
    assert Run.objects.filter(report=report).count() == 1


def test_the_signed_link_opens_that_run_only_expires_and_is_revoked(report, smtp, shop):
    smtp()
    services.add_recipient(report=report, email="x@example.com", formats=["csv"])
    first = runs.execute(runs.run_now(report=report).pk)
    second = runs.execute(runs.run_now(report=report).pk)
    token = links.token_of(first)
    anonymous = Client()
    page = anonymous.get(f"/r/{token}/")
    assert page.status_code == 200
    assert "Weekly shop" in page.content.decode() and "Sign-ups" in page.content.decode()
    own = first.files.get(format="csv")
    other = second.files.get(format="csv")
    assert anonymous.get(f"/r/{token}/files/{own.pk}/").content == bytes(own.content)
    assert anonymous.get(f"/r/{token}/files/{other.pk}/").status_code == 404
    assert links.run_of(token, max_age=0) is None  # expired
    assert anonymous.get(f"/r/{token[:-2]}xx/").status_code == 404
    services.revoke_link(run=first)
    assert anonymous.get(f"/r/{token}/").status_code == 404
    assert anonymous.get(f"/r/{links.token_of(first)}/").status_code == 200
    assert anonymous.get(f"/projects/{shop['project'].pk}/reports/").status_code == 302


def test_a_dead_workers_run_is_queued_again_and_a_live_ones_is_not(report):
    run = runs.run_now(report=report)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
    assert runs.resume_stale() == [run.pk]
    run.refresh_from_db()
    assert run.status == Run.Status.RETRYING
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
    with runs._run_lock(run.pk) as got:  # a live worker holds it
        assert got
        import threading

        found = []
        thread = threading.Thread(target=lambda: found.append(runs.resume_stale()))
        thread.start()
        thread.join()
    assert found == [[]]
