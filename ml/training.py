"""Training a model: each series of its query fitted on its training window, read through
``events.query``, with the windows people marked "not an anomaly" left out of the baselines.

The first training of a series (and the first after the model's definition changed) also walks
through that history the way scoring would have (``detectors.walk_forward``: trained on what
came before, night by night), so the model's page shows the anomalies of the past weeks at once
and the band has a history. Later trainings (nightly, or when asked) refit on the window and
carry on from the watermark. Every state change of the model — training, ready, failed with the
error — is committed as it happens, so the pages show it."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.db import transaction
from django.utils import timezone

from analytics_site.errors import ApiError

from . import band, storage
from .anomalies import Tracker
from .detectors import DEFAULT, Detector, NotEnoughData, create, walk_forward
from .detectors.base import DAY
from .models import Anomaly, AnomalyModel, ModelSeries, Retrain, Status
from .series import fetch, group_key, label, whole_buckets_end

logger = logging.getLogger(__name__)

BACKFILL_MIN_HISTORY = 2 * DAY  # a season needs two cycles before its band means anything


def detector_name(model: AnomalyModel) -> str:
    return DEFAULT if model.detector == "auto" else model.detector


def make(model: AnomalyModel):
    name = detector_name(model)
    return lambda: create(name, model.sensitivity)


def next_training(model: AnomalyModel, after: datetime, hour: int = 3) -> datetime | None:
    """The next night (``hour`` local to the project) — or the next Monday's — after
    ``after``; None for a model trained only on demand."""
    if model.retrain == Retrain.MANUAL:
        return None
    zone = ZoneInfo(model.project.timezone)
    local = after.astimezone(zone)
    moment = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if moment <= local:
        moment += timedelta(days=1)
    if model.retrain == Retrain.WEEKLY:
        moment += timedelta(days=(7 - moment.weekday()) % 7)
    return moment.astimezone(UTC)


def excluded(model: AnomalyModel, key: str, times: np.ndarray, step: int) -> np.ndarray:
    """Which points to keep for training: not those inside a window marked not an anomaly."""
    keep = np.ones(len(times), dtype=bool)
    marked = Anomaly.objects.filter(model=model, series__key=key,
                                    feedback=Anomaly.Feedback.NOT_ANOMALY)
    for start, last in marked.values_list("started_at", "last_seen_at"):
        keep &= ~((times >= int(start.timestamp())) & (times < int(last.timestamp())))
    return keep


def _set(model: AnomalyModel, **fields) -> None:
    """Commit a change of the model's status at once (outside any longer transaction)."""
    for name, value in fields.items():
        setattr(model, name, value)
    AnomalyModel.objects.filter(pk=model.pk).update(**fields)


def train(model: AnomalyModel, *, now: datetime | None = None, hour: int = 3) -> AnomalyModel:
    """Train every series of ``model``; returns it ready or failed (with the error)."""
    now = now or timezone.now()
    started = time.monotonic()
    _set(model, status=Status.TRAINING, error="", training_requested_at=None)
    try:
        found = fetch(model.project, model.query,
                      start=now - timedelta(days=model.training_days),
                      end=whole_buckets_end(now, model.step_seconds), step=model.step_seconds)
        if not found:
            raise NotEnoughData("The query has no data in the training window.")
        report = [_train_series(model, item.tags, item.series, now)
                  for item in found]
    except (ApiError, NotEnoughData) as exc:
        _set(model, status=Status.FAILED, error=getattr(exc, "message", str(exc))[:2000],
             next_training_at=next_training(model, now, hour))
        return model
    except Exception as exc:  # a detector or storage fault: shown on the model, logged here
        logger.exception("training model %s failed", model.pk)
        _set(model, status=Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000],
             next_training_at=next_training(model, now, hour))
        return model
    trained = [r for r in report if r["status"] == Status.READY]
    failed = [r for r in report if r["status"] != Status.READY]
    status = Status.READY if trained else Status.FAILED
    error = "" if trained else "; ".join(sorted({r["error"] for r in failed}))[:2000]
    evaluation = {"detector": detector_name(model), "series": report,
                  "seconds": round(time.monotonic() - started, 2),
                  "trained_at": now.isoformat()}
    from .selectors import model_importance  # reads the anomalies just stored

    _set(model, status=status, error=error, trained_at=now, evaluation=evaluation,
         next_training_at=next_training(model, now, hour))
    _set(model, importance=model_importance(model))
    return model


def _train_series(model: AnomalyModel, tags: dict, series, now: datetime) -> dict:
    key = group_key(tags)
    row, _ = ModelSeries.objects.get_or_create(model=model, key=key, defaults={"tags": tags})
    keep = excluded(model, key, series.times, model.step_seconds)
    first = row.version == 0 or row.detector != detector_name(model)
    summary = {"key": key, "label": label(tags), "detector": detector_name(model),
               "points": int(np.isfinite(series.values).sum())}
    try:
        if first:
            detector, backfilled = _backfill(model, row, series, keep)
            summary["backfill_anomalies"] = backfilled
        else:
            detector = make(model)().fit(series.masked(keep))
    except NotEnoughData as exc:
        ModelSeries.objects.filter(pk=row.pk).update(status=Status.FAILED, error=str(exc))
        return {**summary, "status": Status.FAILED, "error": str(exc)}
    summary.update(describe(detector))
    state = detector.state()
    rolling = state.pop("rolling")
    last = int(series.times[-1]) + model.step_seconds if len(series) else int(now.timestamp())
    ModelSeries.objects.filter(pk=row.pk).update(
        detector=detector_name(model), status=Status.READY, error="",
        state=storage.dump(state), rolling=storage.dump(rolling), version=row.version + 1,
        trained_at=now, trained_from=datetime.fromtimestamp(int(series.times[0]), UTC),
        trained_points=summary["points"], summary=summary,
        scored_until=datetime.fromtimestamp(last, UTC))
    return {**summary, "status": Status.READY, "error": ""}


def _backfill(model: AnomalyModel, row: ModelSeries, series, keep) -> tuple[Detector, int]:
    """Walk through the history as scoring would have, store its anomalies and its band."""
    scores, detector = walk_forward(make(model), series, training_days=model.training_days,
                                    keep=keep, min_history=BACKFILL_MIN_HISTORY)
    if not detector.is_fitted:
        detector = make(model)().fit(series.masked(keep))  # raises NotEnoughData if it must
    with transaction.atomic():
        Anomaly.objects.filter(series=row, backfill=True).delete()
        tracker = Tracker(model, model.step_seconds, backfill=True)
        tracker.take(row, scores)
        changed = tracker.save()
    band.write(model.project, band.points(model.pk, row.pk, row.tags, scores))
    return detector, len(changed)


def describe(detector: Detector) -> dict:
    """Figures of a trained detector for the model's page."""
    found = {"sensitivity": detector.sensitivity}
    trained = detector.trained or {}
    members = trained.get("members") or [trained]
    for member in members:
        inner = member.get("trained", member)
        if "season" in inner and "season" not in found:
            period = inner["season"]["period"]
            found["season"] = {0: "none", DAY: "daily", 7 * DAY: "weekly"}.get(period, period)
            found["season_gain"] = round(float(inner["season"].get("gain", 0.0)), 3)
    thresholds = [m.get("trained", m).get("threshold") for m in members]
    found["thresholds"] = [round(float(t), 2) for t in thresholds if t is not None]
    found["importance"] = [c.as_dict() for c in detector.importance()[:8]]
    return found


def request_training(model: AnomalyModel) -> None:
    """Ask for a training soon (the beat task runs it); asking twice is one training."""
    AnomalyModel.objects.filter(pk=model.pk, training_requested_at__isnull=True).update(
        training_requested_at=timezone.now())
