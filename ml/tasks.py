"""Celery tasks of the ml app: thin wrappers that take ids and call a service. Training and
scoring of one model never run twice at once (a lock in Redis, released when done and expiring
if a worker dies), so a beat tick that comes while the last run goes on is a no-op."""

from __future__ import annotations

from contextlib import contextmanager

from celery import shared_task
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from . import related, scoring, training
from .models import Anomaly, AnomalyModel, Status
from .selectors import defaults_of

SCORE_EXPIRES_S = 55
TRAIN_EXPIRES_S = 600


@contextmanager
def _only_one(name: str, seconds: int):
    key = f"ml:lock:{name}"
    taken = cache.add(key, 1, timeout=seconds)
    try:
        yield taken
    finally:
        if taken:
            cache.delete(key)


@shared_task(name="ml.train_model")
def train_model(model_id: int) -> str:
    with _only_one(f"train:{model_id}", 3600) as mine:
        if not mine:
            return "busy"
        model = AnomalyModel.objects.select_related("project").filter(pk=model_id).first()
        if model is None or not model.enabled:
            return "gone"
        hour = defaults_of(model.project).training_hour
        return training.train(model, hour=hour).status


@shared_task(name="ml.train_due")
def train_due() -> int:
    """Models asked to train, new ones, and those whose night has come."""
    now = timezone.now()
    due = (AnomalyModel.objects.filter(enabled=True)
           .filter(Q(training_requested_at__isnull=False) | Q(status=Status.NEW)
                   | Q(next_training_at__lte=now))
           .exclude(status=Status.TRAINING).values_list("pk", flat=True))
    ids = list(due)
    for pk in ids:
        train_model.apply_async(args=[pk], expires=TRAIN_EXPIRES_S)
    return len(ids)


@shared_task(name="ml.score_model")
def score_model(model_id: int) -> int:
    with _only_one(f"score:{model_id}", 300) as mine:
        if not mine:
            return 0
        model = AnomalyModel.objects.select_related("project").filter(pk=model_id).first()
        if model is None or not model.enabled:
            return 0
        return scoring.score(model)


@shared_task(name="ml.score_due")
def score_due() -> int:
    """Every minute: each ready model scores what arrived since its watermark."""
    ids = list(AnomalyModel.objects.filter(enabled=True, status=Status.READY)
               .values_list("pk", flat=True))
    for pk in ids:
        score_model.apply_async(args=[pk], expires=SCORE_EXPIRES_S)
    return len(ids)


@shared_task(name="ml.relate_anomaly")
def relate_anomaly(anomaly_id: int) -> int:
    """What moved with an anomaly, kept on it (its page and notifications show it)."""
    anomaly = Anomaly.objects.select_related("model__project").filter(pk=anomaly_id).first()
    if anomaly is None:
        return 0
    found = related.moved_with(anomaly)
    Anomaly.objects.filter(pk=anomaly_id).update(related=found)
    return len(found)
