"""An alert rule of condition `anomaly`: it watches an anomaly model of its project and fires,
after its `for`, while the model has an anomaly of a series with a score of at least the
threshold (1.0: the band's edge at the model's sensitivity); the notification — its payload,
the e-mail and the webhook — carries the anomaly's explanation and the link to its page; it
resolves when the anomaly ends. The alerts app reads ml's rows through its foreign key (the
two apps do not import each other), so this test lives outside both."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from alerts import delivery, evaluation
from alerts import services as alerts
from alerts.models import AlertInstance, Notification, State
from alerts.tests.receivers import mailbox, webhook  # noqa: F401 - fixtures
from ml.models import Anomaly, AnomalyModel, ModelSeries

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC).replace(microsecond=0)
WHY = "9.4 \u03c3 above the hour-of-day median (expected 50)"


def _model(project, name="CPU"):
    model = AnomalyModel.objects.create(project=project, name=name,
                                        query="avg:cpu{} by {host}", status="ready")
    for host, score in (("web-1", 0.4), ("web-2", 0.2)):
        ModelSeries.objects.create(model=model, key=evaluation.group_key({"host": host}),
                                   tags={"host": host}, status="ready", last_score=score)
    return model


def _anomaly(model, host="web-1", peak=3.4):
    series = model.series.get(tags={"host": host})
    start = NOW - timedelta(minutes=10)
    return Anomaly.objects.create(
        project=model.project, model=model, series=series, tags={"host": host},
        started_at=start, last_seen_at=NOW, peak_at=start, peak_score=peak, severity="high",
        value=97.0, expected=50.0, lower=40.0, upper=60.0,
        explanation=[{"feature": "hour-of-day median", "weight": 1.0, "text": WHY}])


def _run(at):
    queued = []
    evaluation.evaluate_due(now=at, enqueue=queued.append)
    return [Notification.objects.get(pk=pk) for pk in queued]


def test_an_anomaly_rule_fires_with_the_explanation_and_resolves_when_it_ends(
        make_project, mailbox, webhook):  # noqa: F811
    project = make_project("Fleet")
    model = _model(project)
    mail = alerts.create_channel(project=project, name="on-call", kind="email",
                                 recipients=["ops@example.com"])
    hook = alerts.create_channel(project=project, name="hook", kind="webhook",
                                 url=webhook.url, timeout_s=2)
    rule = alerts.create_rule(project=project, name="CPU anomaly", condition="anomaly",
                              anomaly_model=model.pk, threshold=1.0, for_seconds=60,
                              interval_seconds=10, channels=[mail.pk, hook.pk])
    assert rule.query == "avg:cpu{} by {host}"  # the model's
    web1 = evaluation.group_key({"host": "web-1"})

    assert _run(NOW) == []  # no anomaly: both series OK, their last score the value
    assert {i.group_key: (i.state, i.value) for i in AlertInstance.objects.filter(rule=rule)} \
        == {web1: (State.OK, 0.4), evaluation.group_key({"host": "web-2"}): (State.OK, 0.2)}

    anomaly = _anomaly(model)
    assert _run(NOW + timedelta(seconds=10)) == []
    assert AlertInstance.objects.get(rule=rule, group_key=web1).state == State.PENDING
    notes = _run(NOW + timedelta(seconds=70))  # `for` held
    instance = AlertInstance.objects.get(rule=rule, group_key=web1)
    assert (instance.state, instance.value) == (State.FIRING, 3.4)
    assert sorted(n.channel.name for n in notes) == ["hook", "on-call"]
    url = f"/projects/{project.pk}/ml/anomalies/{anomaly.pk}/"
    payload = notes[0].payload
    assert payload["kind"] == "firing" and payload["group"] == {"host": "web-1"}
    assert payload["anomaly"]["id"] == anomaly.pk and payload["anomaly"]["text"] == WHY
    assert payload["anomaly"]["url"].endswith(url)
    assert payload["anomaly"]["explanation"][0]["feature"] == "hour-of-day median"
    assert payload["message"].startswith("[FIRING] CPU anomaly: 3.4 anomaly ≥ 1 (host=web-1)")
    assert f"\nAnomaly: {WHY} — " in payload["message"] and payload["message"].endswith(url)

    for note in notes:
        assert delivery.deliver(note.pk).status == "sent"
    [sent] = mailbox.messages
    text = sent["message"].get_payload(decode=True).decode()
    assert WHY in text and url in text
    [request] = webhook.requests
    assert request["json"]["anomaly"]["text"] == WHY
    assert WHY in request["json"]["message"]

    anomaly.ended_at = NOW + timedelta(seconds=80)
    anomaly.save()
    ended = NOW + timedelta(seconds=80) + timedelta(minutes=rule.window_minutes, seconds=10)
    notes = _run(ended)
    assert AlertInstance.objects.get(rule=rule, group_key=web1).state == State.OK
    assert [n.kind for n in notes] == ["resolved", "resolved"]
    assert "anomaly" not in notes[0].payload


def test_an_anomaly_below_the_threshold_or_marked_not_an_anomaly_does_not_fire(make_project):
    project = make_project("Fleet")
    model = _model(project)
    rule = alerts.create_rule(project=project, name="Big ones", condition="anomaly",
                              anomaly_model=model.pk, threshold=5.0, interval_seconds=10)
    anomaly = _anomaly(model, peak=3.4)
    _run(NOW)
    assert set(AlertInstance.objects.filter(rule=rule).values_list("state", flat=True)) == {
        State.OK}
    anomaly.peak_score = 6.0
    anomaly.feedback = "not_anomaly"
    anomaly.save()
    _run(NOW + timedelta(seconds=10))
    assert set(AlertInstance.objects.filter(rule=rule).values_list("state", flat=True)) == {
        State.OK}


def test_the_model_must_be_one_of_the_projects(two_projects, token_client):
    a, b = two_projects["a"], two_projects["b"]
    own, theirs = _model(a), _model(b, name="Theirs")
    client = token_client(two_projects["a_editor"])
    url = f"/api/v1/projects/{a.pk}/alert-rules/"
    rule = {"name": "CPU anomaly", "condition": "anomaly", "threshold": 1}
    refused = client.post(url, {**rule, "anomaly_model": theirs.pk}, format="json")
    assert refused.status_code == 400
    assert refused.json()["details"] == {"anomaly_model": [f"Unknown anomaly model {theirs.pk}."]}
    missing = client.post(url, rule, format="json")
    assert missing.status_code == 400
    assert missing.json()["details"] == {"anomaly_model": ["Required for condition anomaly."]}
    no_query = client.post(url, {"name": "CPU", "threshold": 1}, format="json")
    assert no_query.status_code == 400 and no_query.json()["details"] == {"query": ["Required."]}
    made = client.post(url, {**rule, "anomaly_model": own.pk}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["anomaly_model"], body["query"]) == (own.pk, "avg:cpu{} by {host}")
    moved = client.patch(f"/api/v1/alert-rules/{body['id']}/", {"anomaly_model": theirs.pk},
                         format="json")
    assert moved.status_code == 400
    back = client.patch(f"/api/v1/alert-rules/{body['id']}/",
                        {"condition": "gt", "query": "avg:cpu{}"}, format="json")
    assert back.status_code == 200 and back.json()["anomaly_model"] is None
    preview = client.post(f"{url}preview/", {**rule, "query": "avg:cpu{}"}, format="json")
    assert preview.status_code == 400 and "condition" in preview.json()["details"]


def test_the_pages_show_the_model_and_offer_the_projects_models(make_user, make_project):
    owner = make_user("maria")
    project = make_project("Fleet", owner=owner)
    model = _model(project)
    rule = alerts.create_rule(project=project, name="CPU anomaly", condition="anomaly",
                              anomaly_model=model.pk, threshold=1.5)
    client = Client()
    client.force_login(owner)
    page = client.get(f"/projects/{project.pk}/alerts/{rule.pk}/").content.decode()
    assert f'href="/projects/{project.pk}/ml/models/{model.pk}/">CPU</a>' in page
    assert "scoring ≥ 1.5" in page and 'id="rule-failure"' not in page
    form = client.get(f"/projects/{project.pk}/alerts/{rule.pk}/edit/").content.decode()
    assert f'<option value="{model.pk}">CPU</option>' in form
    assert '"anomaly_model": ' + str(model.pk) in form
