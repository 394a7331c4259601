"""On the demo data (``events.demo``: a week of realistic metrics with two injected incidents),
models of the default detector find both incidents, each with its explanation."""

from datetime import UTC, datetime, timedelta

import pytest

from events import rollups
from events.demo import data as demo
from ml import services, training
from ml.models import Anomaly

pytestmark = pytest.mark.slow


def test_models_on_the_demo_week_find_its_injected_incidents(store, make_project):
    project = make_project("Demo")
    start, end = demo.window(datetime.now(UTC), 7)
    incidents = {i.kind: i for i in demo.incidents(UTC, start, end)}
    wanted = {"http.latency_ms", "queue.depth"}
    points = [p for p in demo.metric_points(seed=7, tz=UTC, start=start, end=end)
              if p["name"] in wanted]
    for i in range(0, len(points), 5000):
        store.points(project, points[i:i + 5000])
    rollups.fold(max_seconds=60)

    for query, kind in (("avg:http.latency_ms{} by {host}", "latency"),
                        ("avg:queue.depth{} by {host}", "backlog")):
        model = services.create_model(project=project, name=kind, query=query,
                                      training_days=7, step_seconds=300)
        training.train(model)
        assert model.status == "ready", model.error
        incident = incidents[kind]
        found = Anomaly.objects.filter(
            model=model, tags={"host": incident.host},
            started_at__lt=incident.end, last_seen_at__gt=incident.start)
        assert found.exists(), (kind, list(Anomaly.objects.filter(model=model).values_list(
            "tags", "started_at")))
        first = found.order_by("started_at").first()
        assert first.started_at <= incident.start + timedelta(minutes=20)
        assert first.explanation and "above" in first.explanation[0]["text"]
