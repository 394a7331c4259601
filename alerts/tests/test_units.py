"""Alert messages read in the unit of the rule's query: the value and the threshold of a latency
rule over a metric the catalogue gives in ms arrive at the SMTP stand-in as "1.2 s" and "1 s",
the webhook carries the raw numbers with the unit beside them, and the rule's page says the
same."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts import delivery, evaluation, services
from alerts.tests.receivers import mailbox, webhook  # noqa: F401 - fixtures
from events import rollups
from events.models import MetricDefinition

BASE = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)


@pytest.fixture
def owner(make_user):
    return make_user()


@pytest.fixture
def latency(store, make_project, owner):
    project = make_project("Shop", owner=owner)
    store.points(project, [
        {"name": "http.latency_ms", "value": 1200.0, "tags": {"host": "web-1"},
         "timestamp": (BASE + timedelta(minutes=m)).isoformat()} for m in range(-10, 1)])
    rollups.fold()
    MetricDefinition.objects.create(project=project, name="http.latency_ms", unit="ms")
    return project


def test_the_notification_says_the_value_and_threshold_in_the_query_unit(
        latency, mailbox, webhook):  # noqa: F811
    email = services.create_channel(project=latency, name="on-call", kind="email",
                                    recipients=["ops@example.com"])
    hook = services.create_channel(project=latency, name="hook", kind="webhook",
                                   url=webhook.url)
    services.create_rule(
        project=latency, name="Slow checkout", query="p95:http.latency_ms{}", reducer="max",
        window_minutes=5, condition="gt", threshold=1000, interval_seconds=10,
        channels=[email.pk, hook.pk],
        message="{rule}: p95 of http.latency_ms is {value}, above {threshold}")
    queued = []
    evaluation.evaluate_due(now=BASE, enqueue=queued.append)
    assert len(queued) == 2
    for pk in queued:
        assert delivery.deliver(pk).status == "sent"

    [mail] = mailbox.messages
    assert mail["message"].get_payload().strip() == (
        "Slow checkout: p95 of http.latency_ms is 1.2 s, above 1 s")
    [request] = webhook.requests
    assert (request["json"]["value"], request["json"]["threshold"], request["json"]["unit"]) == (
        1200.0, 1000.0, "ms")
    assert request["json"]["message"] == "Slow checkout: p95 of http.latency_ms is 1.2 s, above 1 s"


def test_the_rule_page_shows_value_and_threshold_with_the_unit(latency, owner, client):
    rule = services.create_rule(
        project=latency, name="Slow checkout", query="p95:http.latency_ms{}", reducer="max",
        window_minutes=5, condition="gt", threshold=1000, interval_seconds=10)
    evaluation.evaluate_due(now=BASE, enqueue=lambda pk: None)
    client.force_login(owner)
    page = client.get(f"/projects/{latency.pk}/alerts/{rule.pk}/").content.decode()
    assert "<code>p95:http.latency_ms{}</code> · maximum over 5 min &gt; 1 s · every" in page
    assert "<td>1.2 s</td>" in page
    assert "value 1.2 s" in page

    MetricDefinition.objects.filter(project=latency).update(unit="s")  # a person corrects it
    page = client.get(f"/projects/{latency.pk}/alerts/{rule.pk}/").content.decode()
    assert "&gt; 16.67 min" in page and "<td>20 min</td>" in page
