"""The HTML forms of the alerts list and the channels page, through the test client: they are
checked by the API's own serializers, so what the API refuses the page refuses too — with a
message after the redirect, never a 500 — and what passes is saved by the same services."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts import services
from alerts.models import NotificationChannel, Silence

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client, two_projects):
    client.force_login(two_projects["a_editor"])
    return client


@pytest.fixture
def project(two_projects):
    return two_projects["a"]


def _post(client, url: str, form: dict) -> tuple[str, list[str]]:
    """Where the form redirects to, and the messages that page shows."""
    response = client.post(url, form, follow=True)
    [(where, status)] = response.redirect_chain
    assert (status, response.status_code) == (302, 200)
    return where, [str(m) for m in response.context["messages"]]


def _silence(client, project, **form) -> list[str]:
    where, said = _post(client, f"/projects/{project.pk}/alerts/silences/new/", {
        "rule": "", "matchers": "team=web", "duration": "1h", "reason": "deploy", **form})
    assert where == f"/projects/{project.pk}/alerts/"
    return said


def test_a_silence_from_the_form_is_saved(editor, project):
    rule = services.create_rule(project=project, name="CPU", query="avg:cpu{}", threshold=90)
    assert _silence(editor, project, rule=str(rule.pk), matchers=" team = web , env=prod",
                    duration="2h") == ["Silenced."]
    silence = Silence.objects.get()
    assert (silence.rule, silence.matchers, silence.reason) == (
        rule, {"team": "web", "env": "prod"}, "deploy")
    assert silence.ends_at - silence.starts_at == pytest.approx(timedelta(hours=2),
                                                                abs=timedelta(seconds=5))
    assert abs(silence.starts_at - datetime.now(UTC)) < timedelta(seconds=5)


def test_a_rule_id_that_is_not_a_number_is_a_message(editor, project):
    # "²".isdigit() is true, int("²") fails.
    assert _silence(editor, project, rule="²") == [
        "Not silenced: rule: A valid integer is required."]
    assert not Silence.objects.exists()


def test_a_rule_of_another_project_is_unknown(editor, project, two_projects):
    other = services.create_rule(project=two_projects["b"], name="CPU", query="avg:cpu{}",
                                 threshold=90)
    assert _silence(editor, project, rule=str(other.pk)) == [
        "Not silenced: No such rule in this project."]
    assert _silence(editor, project, rule="999999999") == [
        "Not silenced: No such rule in this project."]
    assert not Silence.objects.exists()


@pytest.mark.parametrize(("form", "said"), [
    ({"reason": "deploy\x00"}, "Not silenced: reason: Null characters are not allowed."),
    ({"matchers": "team\x00=web"}, "Not silenced: matchers: Null characters are not allowed."),
    ({"matchers": "team=w\x00b"},
     "Not silenced: matchers: team: Null characters are not allowed."),
])
def test_a_nul_character_is_a_message(editor, project, form, said):
    assert _silence(editor, project, **form) == [said]
    assert not Silence.objects.exists()


def test_a_duration_beyond_the_calendar_is_a_message(editor, project):
    assert _silence(editor, project, duration="99999999999w") == [
        "Not silenced: ends_at: A time: ISO 8601, epoch seconds or ms, now-1h or now+2h."]
    assert not Silence.objects.exists()


def test_a_silence_needs_a_rule_or_labels(editor, project):
    assert _silence(editor, project, matchers="") == [
        "Not silenced: A silence needs a rule or label matchers."]


def _channel(client, project, **form) -> list[str]:
    where, said = _post(client, f"/projects/{project.pk}/alerts/channels/new/", form)
    assert where == f"/projects/{project.pk}/alerts/channels/"
    return said


def test_an_email_channel_from_the_form_is_saved(editor, project):
    assert _channel(editor, project, name="on-call", kind="email",
                    recipients="ops@example.com, cto@example.com") == ["Added “on-call”."]
    channel = NotificationChannel.objects.get()
    assert (channel.kind, channel.recipients, channel.url, channel.secret) == (
        "email", ["ops@example.com", "cto@example.com"], "", "")


@pytest.mark.parametrize(("form", "said"), [
    ({"name": "on\x00call", "kind": "email", "recipients": "ops@example.com"},
     "Not added: name: Null characters are not allowed."),
    ({"name": "on-call", "kind": "email", "recipients": "ops"},
     "Not added: recipients: 0: Enter a valid email address."),
    ({"name": "on-call", "kind": "email", "recipients": ""},
     "Not added: recipients: 1 to 20 e-mail addresses."),
    ({"name": "hook", "kind": "webhook", "url": ""}, "Not added: url is required."),
    ({"name": "hook", "kind": "sms", "url": "https://hooks.example.com/"},
     "Not added: kind: \"sms\" is not a valid choice."),
])
def test_a_refused_channel_is_a_message(editor, project, form, said):
    assert _channel(editor, project, **form) == [said]
    assert not NotificationChannel.objects.exists()
