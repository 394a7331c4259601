"""A report sent when an alert fires, through a real Celery worker: the rule names a report; the
evaluation holds the firing's notifications, the reports app renders the report for the hours
around the firing, and the notifications go out with it — the e-mail with the PDF attached
(holding the engine's number) and the link, the webhook with the link — once each. The two apps
meet only through task names and the notification's report_run (they do not import each other),
so this test lives outside both."""

import io
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from pypdf import PdfReader

from alerts import evaluation
from alerts import services as alerts
from alerts.models import Notification
from alerts.tests.receivers import mailbox, webhook  # noqa: F401 - fixtures
from conftest import child_env
from events import rollups
from reports import services as reports
from reports.models import Run

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rule_names_a_report_of_its_own_project_only(two_projects, token_client):
    a, b = two_projects["a"], two_projects["b"]
    own = reports.create_report(project=a, user=None, title="Ours")
    theirs = reports.create_report(project=b, user=None, title="Theirs")
    client = token_client(two_projects["a_editor"])
    rule = {"name": "CPU", "query": "avg:cpu{}", "threshold": 90}
    refused = client.post(f"/api/v1/projects/{a.pk}/alert-rules/",
                          {**rule, "report": theirs.pk}, format="json")
    assert refused.status_code == 400
    assert refused.json()["details"] == {"report": [f"Unknown report {theirs.pk}."]}
    made = client.post(f"/api/v1/projects/{a.pk}/alert-rules/", {**rule, "report": own.pk},
                       format="json")
    assert made.status_code == 201 and made.json()["report"] == own.pk
    kept = client.patch(f"/api/v1/alert-rules/{made.json()['id']}/", {"threshold": 80},
                        format="json")
    assert kept.json()["report"] == own.pk
    removed = client.patch(f"/api/v1/alert-rules/{made.json()['id']}/", {"report": None},
                           format="json")
    assert removed.json()["report"] is None


@pytest.mark.slow
def test_a_firing_rule_sends_its_report_with_the_email_and_the_webhook(
        store, make_user, make_project, mailbox, webhook):  # noqa: F811
    owner = make_user("maria")
    project = make_project("Fleet", owner=owner)
    now = datetime.now(UTC)
    store.points(project, [{"name": "cpu", "value": 97.0,
                            "timestamp": (now - timedelta(minutes=m)).isoformat()}
                           for m in range(0, 4)])
    store.events(project, [{"event": "error", "distinct_id": f"u{i}",
                            "timestamp": (now - timedelta(minutes=i + 1)).isoformat()}
                           for i in range(7)])
    rollups.fold()
    report = reports.create_report(project=project, user=owner, title="Incident", blocks=[
        {"kind": "kpi", "title": "Errors", "query": "count:events{event:error}"},
        {"kind": "chart", "title": "CPU", "query": "avg:cpu{}"}])
    email = alerts.create_channel(project=project, name="ops", kind="email",
                                  recipients=["ops@example.com"])
    hook = alerts.create_channel(project=project, name="hook", kind="webhook", url=webhook.url)
    rule = alerts.create_rule(project=project, name="CPU high", query="avg:cpu{}",
                              threshold=90, channels=[email.pk, hook.pk], report=report.pk)

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "analytics_site", "worker", "-l", "WARNING",
         "--pool", "solo", "-n", "alert-report@%h"],
        env=child_env(WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8", EMAIL_HOST="127.0.0.1",
                      EMAIL_PORT=str(mailbox.port), PUBLIC_URL="http://reports.test"))
    try:
        evaluation.evaluate_now(rule)  # fires; its notifications wait for the report
        held = list(Notification.objects.values_list("status", "report_run"))
        assert held == [("pending", None), ("pending", None)]
        [request] = webhook.wait_for(1, timeout=90)
        deadline = time.monotonic() + 30
        while not mailbox.messages and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(30)

    run = Run.objects.get(report=report)
    assert (run.trigger, run.status, run.context["rule"]) == ("alert", "sent", "CPU high")
    assert run.range_start <= now - timedelta(hours=5) and run.range_end >= now
    body = request["json"]
    assert body["kind"] == "firing"
    link = body["report"]["url"]
    assert link.startswith("http://reports.test/r/") and body["report"]["title"] == "Incident"
    page = Client().get(link.removeprefix("http://reports.test"))
    assert page.status_code == 200 and "Errors" in page.content.decode()

    [received] = mailbox.messages
    message = received["message"]
    assert received["to"] == ["ops@example.com"]
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    assert link in text.get_payload(decode=True).decode()
    [pdf] = [p for p in message.walk() if p.get_filename() == "Incident.pdf"]
    pdf_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(
        pdf.get_payload(decode=True))).pages)
    assert re.search(r"Errors\s+7\s", pdf_text), pdf_text
    assert sorted(Notification.objects.values_list("status", flat=True)) == ["sent", "sent"]
    assert len(webhook.requests) == 1
