"""Writes of the ml app: models (create, change, delete, train now), feedback on anomalies, and
a project's defaults. They take typed keyword arguments, checked for shape by
``ml.api.serializers`` (the API and the pages alike), and keep the rules that need the database
or the engine: the query parses (and is stored in its canonical text, which is how panels and
alert rules find their model), a change of what a model learns retrains it from scratch."""

from __future__ import annotations

import logging
from typing import TypedDict, Unpack

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from analytics_site.errors import ValidationFailed
from projects.models import Project

from .models import Anomaly, AnomalyModel, ModelDefaults, ModelSeries, Status
from .selectors import defaults_of
from .series import canonical
from .training import request_training

logger = logging.getLogger(__name__)
TRAIN_TASK = "ml.train_model"
# Changing one of these makes the stored states meaningless: the series start over.
RELEARN = ("query", "detector", "sensitivity", "step_seconds")


class ModelSettings(TypedDict, total=False):
    detector: str
    sensitivity: str
    training_days: int
    step_seconds: int
    retrain: str
    enabled: bool


class ModelChanges(ModelSettings, total=False):
    name: str
    query: str


class DefaultsChanges(TypedDict, total=False):
    detector: str
    sensitivity: str
    training_days: int
    step_seconds: int
    retrain: str
    training_hour: int


def _queue_training(model: AnomalyModel) -> None:
    """Train soon: the request is stored (the beat task takes it up) and, after the commit, a
    worker is asked at once (by task name, like the other apps' tasks)."""
    request_training(model)

    def ask() -> None:
        try:
            current_app.send_task(TRAIN_TASK, args=[model.pk], expires=600)
        except Exception:  # the beat task takes the request up anyway
            logger.warning("could not queue the training of model %s", model.pk, exc_info=True)

    transaction.on_commit(ask)


@transaction.atomic
def create_model(*, project: Project, name: str, query: str,
                 user: AbstractBaseUser | None = None,
                 **settings: Unpack[ModelSettings]) -> AnomalyModel:
    defaults = defaults_of(project)
    values = {"detector": defaults.detector, "sensitivity": defaults.sensitivity,
              "training_days": defaults.training_days, "step_seconds": defaults.step_seconds,
              "retrain": defaults.retrain, **settings}
    model = AnomalyModel.objects.create(project=project, name=name, query=canonical(query),
                                        created_by=user, **values)
    if model.enabled:
        _queue_training(model)
    return model


@transaction.atomic
def update_model(*, model: AnomalyModel, **changes: Unpack[ModelChanges]) -> AnomalyModel:
    if "query" in changes:
        changes["query"] = canonical(changes["query"])
    relearn = any(name in changes and changes[name] != getattr(model, name)
                  for name in RELEARN)
    for name, value in changes.items():
        setattr(model, name, value)
    if relearn:
        # What was learned no longer applies: the series start over (their anomalies stay).
        ModelSeries.objects.filter(model=model).update(
            version=0, state=None, rolling=None, status=Status.NEW, scored_until=None,
            detector="")
        model.status = Status.NEW
    model.save()
    if model.enabled and (relearn or "training_days" in changes or model.status == Status.NEW):
        _queue_training(model)
    return model


def delete_model(*, model: AnomalyModel) -> None:
    model.delete()


@transaction.atomic
def train_now(*, model: AnomalyModel) -> AnomalyModel:
    if not model.enabled:
        raise ValidationFailed("The model is disabled: enable it to train it.",
                               details={"enabled": ["Disabled."]})
    _queue_training(model)
    model.refresh_from_db()
    return model


@transaction.atomic
def give_feedback(*, anomaly: Anomaly, feedback: str,
                  user: AbstractBaseUser | None = None) -> Anomaly:
    """"not_anomaly": the anomaly is set aside and its window is kept out of the model's
    baselines from the next training on (asked for now); "": the mark is taken back."""
    anomaly.feedback = feedback
    anomaly.feedback_by = user if feedback else None
    anomaly.feedback_at = timezone.now() if feedback else None
    anomaly.save(update_fields=["feedback", "feedback_by", "feedback_at"])
    if anomaly.model.enabled:
        _queue_training(anomaly.model)
    return anomaly


@transaction.atomic
def save_defaults(*, project: Project, **changes: Unpack[DefaultsChanges]) -> ModelDefaults:
    defaults, _ = ModelDefaults.objects.get_or_create(project=project)
    for name, value in changes.items():
        setattr(defaults, name, value)
    defaults.save()
    return defaults
