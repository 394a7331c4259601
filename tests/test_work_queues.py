"""Queues by kind of work (``analytics_site.queues``): every task has its queue, the launcher's
workers consume them all between them, and — on the real workers the launcher starts — an alert
is still evaluated within its interval while a long model training runs."""

from functools import partial

import pytest

from analytics_site import queues
from analytics_site.celery import app
from conftest import child_env
from tests.training_load import INTERVAL_S, MODELS, alert_delay_during_training


def _routed() -> dict[str, str]:
    app.loader.import_default_modules()
    return {name: app.amqp.router.route({}, name)["queue"].name
            for name in sorted(app.tasks) if not name.startswith("celery.")}


def test_each_kind_of_work_has_its_queue():
    routed = _routed()
    assert {name: queue for name, queue in routed.items() if queue != "default"} == routed
    assert {n: q for n, q in routed.items() if q == "training"} == {"ml.train_model": "training"}
    assert {n for n, q in routed.items() if q == "alerts"} == {
        "alerts.evaluate", "alerts.deliver", "alerts.sweep_deliveries", "alerts.attach_report"}
    assert {q for n, q in routed.items() if n.startswith("events.")} == {"ingest"}
    assert {q for n, q in routed.items() if n.startswith("reports.")} == {"reports"}
    assert routed["ml.score_model"] == routed["ml.train_due"] == "scoring"


@pytest.mark.parametrize(("spec", "layout"), [
    (None, [("ingest,alerts,scoring,default", 2, "worker"), ("reports", 1, "worker-reports"),
            ("training", 1, "worker-training")]),
    ("training:1; alerts,ingest:4", [
        ("training,scoring,reports,default", 1, "worker"),
        ("alerts,ingest", 4, "worker-alerts")]),
    ("default", [("default,ingest,alerts,scoring,reports,training", 2, "worker")]),
])
def test_worker_queues_cover_every_queue(spec, layout):
    found = queues.groups(spec, concurrency=2)
    assert [(",".join(g.queues), g.concurrency, g.name) for g in found] == layout


@pytest.mark.parametrize(("spec", "said"), [
    ("ingest,bogus", "unknown queue bogus"),
    ("ingest alerts,ingest", "ingest named twice"),
    ("alerts:0", "concurrency of 'alerts:0' is 1 to 64"),
    ("alerts:x", "concurrency of 'alerts:x' is 1 to 64"),
])
def test_a_wrong_worker_queues_value_is_named(spec, said):
    with pytest.raises(queues.BadWorkerQueues, match=said):
        queues.groups(spec)



@pytest.mark.slow
def test_an_alert_is_evaluated_within_its_interval_while_a_long_training_runs(
        store, make_project, monkeypatch):
    project = make_project("Queues")
    monkeypatch.delenv("WORKER_QUEUES", raising=False)
    found = alert_delay_during_training(
        project=project, write_points=partial(store.points, project), env=child_env(),
        finish_within=300)
    print(f"\nalert evaluated {found.delay_s:.2f} s after it was due; trainings: "
          f"{found.trainings_running} running, {found.trainings_done} done")
    # Beside the first training, not after it (one worker on every queue, two slots: the alert
    # waited for a training to end, 8 s here); the trainings one at a time.
    assert (found.trainings_running, found.trainings_done) == (1, 0)
    assert found.delay_s <= INTERVAL_S
    assert found.trainings_finished == MODELS
