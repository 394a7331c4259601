"""Queues by kind of work (``analytics_site.queues``): every task has its queue, the launcher's
workers consume them all between them, and — on the real workers the launcher starts — an alert
is still evaluated within its interval while a long model training runs."""

import subprocess
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from alerts.models import AlertRule
from analytics_site import launcher, queues
from analytics_site.celery import app
from conftest import child_env, wait_for
from events import rollups
from ml.models import AnomalyModel, Status

STEP = 300


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
    end = int(time.time()) // STEP * STEP - 2 * STEP
    times = np.arange(end - 5 * 86400, end, STEP)
    rng = np.random.default_rng(7)
    hosts = [f"web-{n:02}" for n in range(HOSTS)]
    for n, host in enumerate(hosts):  # five days of 5-minute points per host: one model series each
        values = 50 + 10 * np.sin(times / 86400 * 2 * np.pi) + rng.normal(0, 1, len(times))
        store.points(project, [
            {"name": "cpu", "value": round(float(v), 3),
             "tags": {"host": host, "tier": f"t{n % 3}"},
             "timestamp": datetime.fromtimestamp(int(t), UTC).isoformat()}
            for t, v in zip(times, values, strict=True)])
    rollups.fold()
    # Three models, more trainings than the old single worker had slots for (two): every slot
    # would be training and the alert would wait. Here they queue for the training worker.
    models = [AnomalyModel.objects.create(
        project=project, name=f"CPU by host {n}", query=f"avg:cpu{{tier:t{n}}} by {{host}}",
        training_days=5, step_seconds=STEP) for n in range(3)]
    rule = AlertRule.objects.create(project=project, name="CPU high", query="avg:cpu{}",
                                    threshold=1000, interval_seconds=INTERVAL_S)

    monkeypatch.delenv("WORKER_QUEUES", raising=False)
    env = child_env()
    workers = [subprocess.Popen([*child.argv[:4], "-l", "WARNING", *child.argv[6:]], env=env)
               for child in launcher.workers()]
    try:
        assert {c.name for c in launcher.workers()} == {
            "worker", "worker-reports", "worker-training"}
        wait_for(lambda: len(app.control.ping(timeout=1.0)) == len(workers), 90, "three workers")
        for model in models:
            app.send_task("ml.train_model", args=[model.pk])
        training = AnomalyModel.objects.filter(project=project, status=Status.TRAINING)
        wait_for(training.exists, 60, "a training to start")
        sent = time.monotonic()
        app.send_task("alerts.evaluate")  # what beat sends every few seconds
        wait_for(lambda: AlertRule.objects.filter(pk=rule.pk, last_evaluated_at__isnull=False)
              .exists(), INTERVAL_S * 3, "the alert evaluated")
        delay = time.monotonic() - sent
        still = training.count()
        done = AnomalyModel.objects.filter(project=project, status=Status.READY).count()
        print(f"\nalert evaluated {delay:.2f} s after it was due; trainings: {still} running, "
              f"{done} done")
        # Beside the first training, not after it (one worker on every queue, two slots: the
        # alert waited for a training to end, 8 s here); the trainings one at a time.
        assert (still, done) == (1, 0)
        assert delay <= INTERVAL_S
        wait_for(lambda: AnomalyModel.objects.filter(project=project, status=Status.READY)
              .count() == 3, 300, "the trainings to finish")
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:  # a training cut short: warm shutdown waits
                worker.kill()
                worker.wait(10)


HOSTS = 24
INTERVAL_S = 10
