"""Reads of the ml app, scoped like every lookup: an object outside the caller's projects is 404,
a role or token scope too small is 403."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from analytics_site.errors import ApiError
from projects.models import Project, Role, Scope
from projects.selectors import get_scoped_for

from .models import Anomaly, AnomalyModel, ModelDefaults, Status
from .series import canonical

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def get_model_for(user, pk, *, min_role=Role.VIEWER, token=None,
                  scope=Scope.READ) -> AnomalyModel:
    return get_scoped_for(user, AnomalyModel.objects, pk, label="Anomaly model",
                          min_role=min_role, token=token, scope=scope)


def get_anomaly_for(user, pk, *, min_role=Role.VIEWER, token=None, scope=Scope.READ) -> Anomaly:
    return get_scoped_for(user, Anomaly.objects.select_related("model", "series"), pk,
                          label="Anomaly", min_role=min_role, token=token, scope=scope)


def models_of(project: Project) -> QuerySet[AnomalyModel]:
    return (AnomalyModel.objects.filter(project=project)
            .annotate(series_count=Count("series", distinct=True),
                      open_anomalies=Count("anomalies", filter=Q(
                          anomalies__ended_at__isnull=True, anomalies__feedback=""),
                          distinct=True))
            .order_by("name", "id"))


def anomalies_of(project: Project, *, model: AnomalyModel | None = None,
                 start: datetime | None = None, end: datetime | None = None,
                 severity: str | None = None, include_dismissed: bool = True,
                 ordering: str = "-started_at", limit: int = 200) -> list[Anomaly]:
    """A project's anomalies, newest first (or by ``severity``, ``-peak_score``)."""
    found = Anomaly.objects.filter(project=project).select_related("model", "series")
    if model is not None:
        found = found.filter(model=model)
    if start is not None:
        found = found.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))
    if end is not None:
        found = found.filter(started_at__lte=end)
    if severity:
        found = found.filter(severity=severity)
    if not include_dismissed:
        found = found.filter(feedback="")
    if ordering == "severity":
        rows = list(found.order_by("-peak_score", "-started_at")[:limit])
        return sorted(rows, key=lambda a: (SEVERITY_ORDER[a.severity], -a.peak_score))
    order = {"-started_at": ("-started_at", "-id"), "started_at": ("started_at", "id"),
             "-peak_score": ("-peak_score", "-id"), "model": ("model__name", "-started_at")}
    return list(found.order_by(*order.get(ordering, order["-started_at"]))[:limit])


def model_for_query(project: Project, query: str) -> AnomalyModel | None:
    """The project's ready model of ``query`` (the same query once written canonically)."""
    try:
        text = canonical(query)
    except ApiError:
        return None
    return (AnomalyModel.objects.filter(project=project, query=text, enabled=True,
                                        status=Status.READY)
            .select_related("project").order_by("-trained_at", "id").first())


def defaults_of(project: Project) -> ModelDefaults:
    """The project's defaults for new models (unsaved ones when none were set)."""
    return ModelDefaults.objects.filter(project=project).first() or ModelDefaults(project=project)


def model_importance(model: AnomalyModel) -> list[dict]:
    """Bars for the model's page: what its anomalies were made of (their explanations'
    features, weighted by their shares and peaks), else what its detectors weigh."""
    weights: dict[str, float] = defaultdict(float)
    texts: dict[str, str] = {}
    for explanation, peak in (Anomaly.objects.filter(model=model, feedback="")
                              .values_list("explanation", "peak_score")[:500]):
        for item in explanation or []:
            weights[item["feature"]] += float(item.get("weight", 0)) * max(1.0, peak)
            texts.setdefault(item["feature"], item["feature"])
    if not weights:
        for row in model.series.filter(status=Status.READY)[:50]:
            for item in (row.summary or {}).get("importance", []):
                weights[item["feature"]] += float(item.get("weight", 0))
                texts.setdefault(item["feature"], item.get("text", item["feature"]))
    total = sum(weights.values()) or 1.0
    ranked = sorted(weights.items(), key=lambda kv: -kv[1])[:12]
    return [{"feature": f, "weight": round(w / total, 4), "text": texts[f]} for f, w in ranked]


def predictions(model: AnomalyModel, *, start: datetime, end: datetime) -> dict:
    """The model's judgement of each bucket of [start, end), per series: ``[ms, value,
    expected, lower, upper, score]`` (None where a bucket has no data or was not judged), the
    values read now through the engine, the band as scoring stored it."""
    from . import band
    from .series import fetch, group_key

    step = model.step_seconds
    rows = {row.key: row for row in model.series.all()}
    found = fetch(model.project, model.query, start=start, end=end, step=step)
    answer = band.read(model.project, model.pk, by=("ml_series",), start=start.isoformat(),
                       end=end.isoformat(), step=step)
    judged: dict[tuple[str, str], dict[int, float | None]] = {}
    for item in answer["data"]:
        series_id = (item.get("tags") or {}).get("ml_series", "")
        judged[(series_id, item["name"])] = {int(ms): v for ms, v in item["points"]}
    out = []
    for item in found:
        row = rows.get(group_key(item.tags))
        own = str(row.pk) if row else ""
        fields = [judged.get((own, name), {}) for name in ("expected", "lower", "upper",
                                                           "score")]
        points = []
        for t, value in zip(item.series.times.tolist(), item.series.values.tolist(),
                            strict=True):
            ms = t * 1000
            points.append([ms, None if value != value else value,
                           *(field.get(ms) for field in fields)])
        out.append({"series": row.pk if row else None, "tags": item.tags, "points": points})
    return {"model": model.pk, "step": step, "start": start.isoformat(),
            "end": end.isoformat(), "series": out}
