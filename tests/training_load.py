"""An alert evaluated while long model trainings run on the launcher's real Celery workers: the
scenario of ``tests/test_work_queues.py`` (which asserts on it) and ``bench/scale.py`` (which
reports it), kept in one place so both measure the same thing.

Five days of 5-minute ``cpu`` points for 24 hosts are written and folded, three anomaly models
are made over them and one alert rule; the workers of ``launcher.workers()`` (the default
``WORKER_QUEUES`` layout) start as processes, the three trainings are sent, and once one is
training ``alerts.evaluate`` is sent as beat would. The delay is from that send to the rule's
``last_evaluated_at`` being set."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from alerts.models import AlertRule
from analytics_site import launcher
from analytics_site.celery import app
from conftest import wait_for
from events import rollups
from ml.models import AnomalyModel, Status
from projects.models import Project

BASE_DIR = Path(__file__).resolve().parents[1]
HOSTS = 24
MODELS = 3
INTERVAL_S = 10
STEP = 300


@dataclass(frozen=True)
class AlertDelay:
    delay_s: float
    trainings_running: int  # when the rule was evaluated
    trainings_done: int  # when the rule was evaluated
    trainings_finished: int  # ready once the trainings were waited for, up to finish_within


def alert_delay_during_training(*, project: Project, write_points: Callable[[list[dict]], object],
                                env: Mapping[str, str], finish_within: float = 300) -> AlertDelay:
    """The scenario on ``project``, its points written by ``write_points(items)``, the workers
    started with ``env`` (the same servers as this process); ``launcher.workers()`` reads
    ``WORKER_QUEUES`` from this process's environment, which must leave it unset. The trainings
    get ``finish_within`` seconds to finish after the measurement; the workers are stopped on
    the way out whatever happens, cutting a training still running."""
    models, rule = _load(project, write_points)
    children = launcher.workers()
    assert {c.name for c in children} == {"worker", "worker-reports", "worker-training"}
    # The children's output goes to stderr: a caller's stdout (the bench's JSON line) stays its own.
    workers = [subprocess.Popen([*child.argv[:4], "-l", "WARNING", *child.argv[6:]],
                                env=dict(env), cwd=BASE_DIR, stdout=2)
               for child in children]
    try:
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
        ready = AnomalyModel.objects.filter(project=project, status=Status.READY)
        done = ready.count()
        unsettled = AnomalyModel.objects.filter(project=project,
                                                status__in=[Status.NEW, Status.TRAINING])
        with suppress(AssertionError):  # cut, not failed: the caller sees how many finished
            wait_for(lambda: not unsettled.exists(), finish_within, "the trainings to finish")
        return AlertDelay(delay_s=delay, trainings_running=still, trainings_done=done,
                          trainings_finished=ready.count())
    finally:
        _stop(workers)


def _load(project: Project, write_points: Callable[[list[dict]], object]
          ) -> tuple[list[AnomalyModel], AlertRule]:
    end = int(time.time()) // STEP * STEP - 2 * STEP
    times = np.arange(end - 5 * 86400, end, STEP)
    rng = np.random.default_rng(7)
    for n in range(HOSTS):  # five days of 5-minute points per host: one model series each
        values = 50 + 10 * np.sin(times / 86400 * 2 * np.pi) + rng.normal(0, 1, len(times))
        write_points([{"name": "cpu", "value": round(float(v), 3),
                       "tags": {"host": f"web-{n:02}", "tier": f"t{n % 3}"},
                       "timestamp": datetime.fromtimestamp(int(t), UTC).isoformat()}
                      for t, v in zip(times, values, strict=True)])
    rollups.fold(max_seconds=120)
    # Three models, more trainings than the old single worker had slots for (two): every slot
    # would be training and the alert would wait. Here they queue for the training worker.
    models = [AnomalyModel.objects.create(
        project=project, name=f"CPU by host {n}", query=f"avg:cpu{{tier:t{n}}} by {{host}}",
        training_days=5, step_seconds=STEP) for n in range(MODELS)]
    rule = AlertRule.objects.create(project=project, name="CPU high", query="avg:cpu{}",
                                    threshold=1000, interval_seconds=INTERVAL_S)
    return models, rule


def _stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:  # a training cut short: warm shutdown waits
            worker.kill()
            worker.wait(10)
