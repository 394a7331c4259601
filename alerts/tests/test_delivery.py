"""Notifications reaching real receivers on loopback: e-mail through an SMTP server (aiosmtpd),
signed webhooks and Slack-style messages to an HTTP receiver; retries with backoff and every
attempt logged; the guard that keeps webhooks off internal addresses."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import delivery, services
from alerts.models import DeliveryAttempt, Notification
from alerts.tests.receivers import mailbox, webhook  # noqa: F401 - fixtures
from alerts.urlguard import UnsafeURL, check_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(make_project):
    return make_project("Shop")


def _note(channel, kind="firing"):
    return Notification.objects.create(channel=channel, kind=kind, payload={
        "kind": kind, "state": "firing", "rule": {"id": 1, "name": "Checkout errors"},
        "group": {"host": "web-1"}, "value": 12.5, "threshold": 5,
        "message": "[FIRING] Checkout errors: 12.5 > 5 (host=web-1)"})


def test_email_arrives_at_the_smtp_server(project, mailbox):  # noqa: F811
    channel = services.create_channel(project=project, name="on-call", kind="email",
                                      recipients=["ops@example.com", "cto@example.com"])
    note = delivery.deliver(_note(channel).pk)
    assert note.status == "sent" and note.attempts == 1
    [mail] = mailbox.messages
    assert mail["to"] == ["ops@example.com", "cto@example.com"]
    assert mail["message"]["Subject"] == "[FIRING] Checkout errors"
    assert mail["message"].get_payload().strip() == (
        "[FIRING] Checkout errors: 12.5 > 5 (host=web-1)")
    attempt = DeliveryAttempt.objects.get(notification=note)
    assert (attempt.ok, attempt.response_code, attempt.error) == (True, 250, "")


def test_a_webhook_is_signed_with_the_channels_secret(project, webhook):  # noqa: F811
    channel = services.create_channel(project=project, name="hook", kind="webhook",
                                      url=webhook.url, timeout_s=2)
    assert len(channel.secret) >= 40
    note = _note(channel)
    assert delivery.deliver(note.pk).status == "sent"
    [request] = webhook.requests
    expected = hmac.new(channel.secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Signature"] == expected
    assert request["headers"]["X-Notification-Id"] == str(note.pk)
    assert request["json"]["id"] == note.pk
    assert request["json"]["value"] == 12.5 and request["json"]["group"] == {"host": "web-1"}
    # Someone else's secret does not verify.
    assert hmac.new(b"guess", request["body"], hashlib.sha256).hexdigest() != expected


def test_slack_gets_its_text_message(project, webhook):  # noqa: F811
    channel = services.create_channel(project=project, name="slack", kind="slack", url=webhook.url)
    assert delivery.deliver(_note(channel).pk).status == "sent"
    assert webhook.requests[0]["json"] == {
        "text": "[FIRING] Checkout errors: 12.5 > 5 (host=web-1)"}
    assert "X-Signature" not in webhook.requests[0]["headers"]


def test_failures_are_retried_with_backoff_and_each_try_logged(project, webhook):  # noqa: F811
    channel = services.create_channel(project=project, name="hook", kind="webhook",
                                      url=webhook.url)
    webhook.statuses.extend([500, 503])
    note = _note(channel)
    first = delivery.deliver(note.pk)
    assert (first.status, first.attempts) == ("pending", 1)
    wait = first.next_attempt_at - timezone.now()
    assert timedelta(seconds=3) < wait <= timedelta(seconds=5)
    assert delivery.deliver(note.pk) is None  # not due yet: nothing sent
    assert len(webhook.requests) == 1
    Notification.objects.filter(pk=note.pk).update(next_attempt_at=timezone.now())
    second = delivery.deliver(note.pk)
    assert second.attempts == 2
    assert timedelta(seconds=8) < second.next_attempt_at - timezone.now() <= timedelta(seconds=10)
    Notification.objects.filter(pk=note.pk).update(next_attempt_at=timezone.now())
    assert delivery.deliver(note.pk).status == "sent"
    log = list(DeliveryAttempt.objects.filter(notification=note).order_by("at")
               .values_list("ok", "response_code", "error"))
    assert log == [(False, 500, "receiver says no"), (False, 503, "receiver says no"),
                   (True, 200, "")]
    assert delivery.deliver(note.pk) is None  # sent: never again


def test_a_receiver_that_never_answers_ends_failed(project, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    channel = services.create_channel(project=project, name="dead", kind="webhook",
                                      url="http://127.0.0.1:9/hook", timeout_s=0.5)
    note = _note(channel)
    for _ in range(delivery.MAX_ATTEMPTS):
        Notification.objects.filter(pk=note.pk).update(next_attempt_at=None)
        delivery.deliver(note.pk)
    note.refresh_from_db()
    assert (note.status, note.attempts) == ("failed", delivery.MAX_ATTEMPTS)
    errors = DeliveryAttempt.objects.filter(notification=note).values_list("error", flat=True)
    assert all(e.startswith("ConnectError") for e in errors)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/hook",
    "http://10.1.2.3/hook", "http://192.168.0.10/hook", "http://172.16.5.4/hook",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
    "http://0.0.0.0:80/", "http://[::ffff:127.0.0.1]/", "ftp://example.com/x", "http:///nohost"])
def test_internal_and_odd_urls_are_refused(url):
    with pytest.raises(UnsafeURL):
        check_url(url)


def test_a_public_address_passes_and_allowed_networks_open_a_door(settings):
    check_url("http://93.184.216.34/hook")  # a public address (no DNS needed)
    with pytest.raises(UnsafeURL):
        check_url("http://10.0.5.7/hook")
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.0.5.0/24"]
    check_url("http://10.0.5.7/hook")
    with pytest.raises(UnsafeURL):
        check_url("http://10.0.6.7/hook")


def test_the_guard_holds_on_save_and_again_on_delivery(project, token_client, settings):
    owner = project.memberships.get().user
    client = token_client(owner)
    response = client.post(f"/api/v1/projects/{project.pk}/notification-channels/", {
        "name": "metadata", "kind": "webhook",
        "url": "http://169.254.169.254/latest/meta-data/"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "WEBHOOK_URL_REFUSED"
    assert body["details"] == {"url": ["Internal address 169.254.169.254."]}
    # A channel saved while allowed, then the operator closes the door: refused at send time,
    # logged, and not retried.
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    channel = services.create_channel(project=project, name="was ok", kind="webhook",
                                      url="http://127.0.0.1:9/hook")
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    note = delivery.deliver(_note(channel).pk)
    assert (note.status, note.attempts) == ("failed", delivery.MAX_ATTEMPTS)
    assert "internal address" in DeliveryAttempt.objects.get(notification=note).error


def test_send_test_notification_through_the_api(project, token_client, webhook,  # noqa: F811
                                                django_capture_on_commit_callbacks):
    client = token_client(project.memberships.get().user)
    created = client.post(f"/api/v1/projects/{project.pk}/notification-channels/", {
        "name": "hook", "kind": "webhook", "url": webhook.url}, format="json")
    assert created.status_code == 201 and created.json()["secret"]
    channel_id = created.json()["id"]
    assert "secret" not in client.get(f"/api/v1/notification-channels/{channel_id}/").json()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(f"/api/v1/notification-channels/{channel_id}/test/")
    assert response.status_code == 202 and response.json()["kind"] == "test"
    assert len(callbacks) == 1
    delivery.deliver(response.json()["id"])  # what the queued task does
    sent = webhook.requests
    assert sent[0]["json"]["kind"] == "test"
    assert json.loads(sent[0]["body"])["message"].startswith("Test notification from channel")
    log = client.get(f"/api/v1/notification-channels/{channel_id}/deliveries/").json()
    assert [(n["kind"], n["status"], [a["response_code"] for a in n["attempts_log"]])
            for n in log] == [("test", "sent", [200])]
