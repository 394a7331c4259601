"""The models API: create, list, read, change, delete, train on demand, anomalies and
feedback — scoped to the caller's projects, errors in the one format."""

from datetime import UTC, datetime, timedelta

import pytest

from ml.models import Anomaly, AnomalyModel, ModelSeries, Status
from projects.models import Scope

pytestmark = pytest.mark.django_db


def _anomaly(model, **extra) -> Anomaly:
    series = ModelSeries.objects.get_or_create(model=model, key='{"host":"web-02"}',
                                               defaults={"tags": {"host": "web-02"}})[0]
    at = datetime(2026, 11, 1, 12, tzinfo=UTC)
    fields = {"peak_score": 3.4, "severity": "high", "value": 97.0, "expected": 50.0,
              "lower": 40.0, "upper": 60.0, "explanation": [
                  {"feature": "hour-of-day median", "weight": 1.0,
                   "text": "9.4 \u03c3 above the hour-of-day median (expected 50)"}], **extra}
    return Anomaly.objects.create(
        project=model.project, model=model, series=series, tags={"host": "web-02"},
        started_at=at, last_seen_at=at + timedelta(minutes=5), peak_at=at, **fields)


def test_an_editor_creates_a_model_with_the_project_defaults_and_it_is_queued(
        two_projects, token_client):
    client = token_client(two_projects["a_editor"])
    project = two_projects["a"]
    response = client.post(f"/api/v1/projects/{project.pk}/anomaly-models/",
                           {"name": "CPU", "query": "avg:cpu{} by {host}"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["query"] == "avg:cpu{} by {host}"
    assert (body["detector"], body["sensitivity"], body["training_days"],
            body["step_seconds"], body["status"]) == ("auto", "medium", 30, 300, "new")
    assert body["training_requested_at"] is not None
    listed = client.get(f"/api/v1/projects/{project.pk}/anomaly-models/").json()
    assert [m["id"] for m in listed] == [body["id"]]


def test_bad_bodies_get_the_error_format_naming_the_field(two_projects, token_client):
    client = token_client(two_projects["a_editor"])
    url = f"/api/v1/projects/{two_projects['a'].pk}/anomaly-models/"
    for body, field in [({"name": "x", "query": "avg:cpu{"}, None),
                        ({"name": "x", "query": "avg:cpu{}", "sensitivity": "extreme"},
                         "sensitivity"),
                        ({"name": "x", "query": "avg:cpu{}", "training_days": 1},
                         "training_days"),
                        ({"name": "x", "query": "avg:cpu{}", "step_seconds": "300"},
                         "step_seconds"),
                        ({"query": "avg:cpu{}"}, "name")]:
        response = client.post(url, body, format="json")
        assert response.status_code == 400, (body, response.content)
        error = response.json()
        assert set(error) == {"error", "code", "details"}
        if field:
            assert field in error["details"], error
    assert not AnomalyModel.objects.exists()


def test_other_projects_models_and_anomalies_are_not_found_and_viewers_cannot_write(
        two_projects, token_client):
    from ml import services

    model = services.create_model(project=two_projects["a"], name="CPU", query="avg:cpu{}")
    anomaly = _anomaly(model)
    outsider = token_client(two_projects["b_admin"])
    for url in (f"/api/v1/anomaly-models/{model.pk}/", f"/api/v1/anomalies/{anomaly.pk}/",
                f"/api/v1/anomaly-models/{model.pk}/predictions/",
                f"/api/v1/projects/{two_projects['a'].pk}/anomalies/"):
        response = outsider.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == "NOT_FOUND"
    assert outsider.delete(f"/api/v1/anomaly-models/{model.pk}/").status_code == 404
    viewer = token_client(two_projects["a_viewer"])
    assert viewer.get(f"/api/v1/anomaly-models/{model.pk}/").status_code == 200
    assert viewer.post(f"/api/v1/anomaly-models/{model.pk}/train/").status_code == 403
    assert viewer.post(f"/api/v1/anomalies/{anomaly.pk}/feedback/",
                       {"feedback": "not_anomaly"}, format="json").status_code == 403
    read_only = token_client(two_projects["a_admin"], scopes=(Scope.READ,))
    assert read_only.delete(f"/api/v1/anomaly-models/{model.pk}/").status_code == 403
    assert AnomalyModel.objects.filter(pk=model.pk).exists()


def test_anomalies_list_with_their_explanation_and_feedback_asks_for_a_training(
        two_projects, token_client):
    from ml import services

    model = services.create_model(project=two_projects["a"], name="CPU",
                                  query="avg:cpu{} by {host}")
    AnomalyModel.objects.filter(pk=model.pk).update(status=Status.READY,
                                                    training_requested_at=None)
    anomaly = _anomaly(model)
    _anomaly(model, severity="low", peak_score=1.2)
    client = token_client(two_projects["a_editor"])
    url = f"/api/v1/projects/{two_projects['a'].pk}/anomalies/"
    found = client.get(url, {"severity": "high"}).json()
    assert [a["id"] for a in found] == [anomaly.pk]
    assert found[0]["explanation"][0]["text"].startswith("9.4 \u03c3 above")
    assert found[0]["model_name"] == "CPU"
    assert client.get(url, {"severity": "extreme"}).status_code == 400

    response = client.post(f"/api/v1/anomalies/{anomaly.pk}/feedback/",
                           {"feedback": "not_anomaly"}, format="json")
    assert response.status_code == 200
    assert response.json()["feedback"] == "not_anomaly"
    assert AnomalyModel.objects.get(pk=model.pk).training_requested_at is not None
    hidden = client.get(url, {"include_dismissed": "false"}).json()
    assert anomaly.pk not in [a["id"] for a in hidden]


def test_a_change_of_what_the_model_learns_starts_it_over(two_projects, token_client):
    from ml import services

    model = services.create_model(project=two_projects["a"], name="CPU", query="avg:cpu{}")
    ModelSeries.objects.create(model=model, key="", status=Status.READY, version=3,
                               state=b"x", detector="ensemble")
    AnomalyModel.objects.filter(pk=model.pk).update(status=Status.READY)
    client = token_client(two_projects["a_editor"])
    renamed = client.patch(f"/api/v1/anomaly-models/{model.pk}/", {"name": "Busy"},
                           format="json").json()
    assert (renamed["name"], renamed["status"]) == ("Busy", "ready")
    changed = client.patch(f"/api/v1/anomaly-models/{model.pk}/", {"sensitivity": "high"},
                           format="json").json()
    assert changed["status"] == "new"
    row = ModelSeries.objects.get(model=model)
    assert (row.version, row.state, row.status) == (0, None, "new")
    assert client.delete(f"/api/v1/anomaly-models/{model.pk}/").status_code == 204
    assert not AnomalyModel.objects.exists()


def test_a_window_marked_not_an_anomaly_is_kept_out_of_the_next_training(two_projects):
    import numpy as np

    from ml import services, training

    model = services.create_model(project=two_projects["a"], name="CPU",
                                  query="avg:cpu{} by {host}")
    anomaly = _anomaly(model)  # 12:00 to 12:05 on 2026-11-01
    start = int(anomaly.started_at.timestamp())
    times = np.arange(start - 600, start + 900, 300)
    kept = training.excluded(model, '{"host":"web-02"}', times, 300)
    assert kept.all()  # not marked yet: everything trains
    services.give_feedback(anomaly=anomaly, feedback="not_anomaly")
    kept = training.excluded(model, '{"host":"web-02"}', times, 300)
    assert kept.tolist() == [True, True, False, True, True]
    assert training.excluded(model, '{"host":"web-01"}', times, 300).all()


def test_the_nightly_training_is_at_the_projects_hour_in_its_time_zone(two_projects):
    from ml import services, training

    project = two_projects["a"]
    project.timezone = "Europe/Paris"
    project.save()
    model = services.create_model(project=project, name="CPU", query="avg:cpu{}")
    after = datetime(2026, 11, 2, 10, tzinfo=UTC)  # a Monday, 11:00 in Paris
    assert training.next_training(model, after, hour=3) == datetime(2026, 11, 3, 2, tzinfo=UTC)
    model.retrain = "weekly"
    assert training.next_training(model, after, hour=3) == datetime(2026, 11, 9, 2, tzinfo=UTC)
    model.retrain = "manual"
    assert training.next_training(model, after, hour=3) is None


def test_the_beat_tasks_pick_the_models_that_are_due(two_projects):
    from django.utils import timezone

    from ml import services, tasks

    project = two_projects["a"]
    fresh = services.create_model(project=project, name="new", query="avg:cpu{}")
    asked = services.create_model(project=project, name="asked", query="avg:mem{}")
    night = services.create_model(project=project, name="night", query="avg:disk{}")
    later = services.create_model(project=project, name="later", query="avg:net{}")
    off = services.create_model(project=project, name="off", query="avg:io{}", enabled=False)
    now = timezone.now()
    AnomalyModel.objects.filter(pk__in=[asked.pk, night.pk, later.pk]).update(
        status=Status.READY, training_requested_at=None, next_training_at=now + timedelta(
            hours=5))
    AnomalyModel.objects.filter(pk=asked.pk).update(training_requested_at=now)
    AnomalyModel.objects.filter(pk=night.pk).update(next_training_at=now - timedelta(minutes=1))
    due = tasks.train_due()
    assert due == 3  # new, asked and the one whose night came; not the later nor the disabled
    assert tasks.score_due() == 3  # the ready ones: asked, night and later
    assert not AnomalyModel.objects.filter(pk__in=[fresh.pk, off.pk],
                                           status=Status.READY).exists()
