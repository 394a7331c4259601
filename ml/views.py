"""HTML pages of the ml app: the models of a project with their state and the anomalies (by
severity, time or model), a model's page (its series with the band and the anomalies marked,
importance bars, training window, parameters, evaluation figures), an anomaly's page (its
explanation, what moved with it, feedback) and the correlation page. Thin: reads from
``ml.selectors``, writes through ``ml.services``, forms checked by the API's serializers; the
charts are drawn by ``static/js/ml.js`` from the ml API."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from analytics_site.errors import ApiError, or_404
from analytics_site.fields import valid
from projects.models import Role
from projects.selectors import can_edit, get_project_for

from . import selectors, services
from .api.serializers import ModelWriteSerializer
from .models import STEPS, Anomaly, DetectorChoice, Sensitivity

ORDERINGS = {"severity": "severity", "time": "-started_at", "model": "model"}


def _model_in(request, project_id, model_id, **kwargs):
    model = or_404(selectors.get_model_for, request.user, model_id, **kwargs)
    if model.project_id != int(project_id):
        raise Http404("Anomaly model not found")
    return model


def _anomaly_in(request, project_id, anomaly_id, **kwargs):
    anomaly = or_404(selectors.get_anomaly_for, request.user, anomaly_id, **kwargs)
    if anomaly.project_id != int(project_id):
        raise Http404("Anomaly not found")
    return anomaly


def _message(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return exc.message
    detail = getattr(exc, "detail", {})
    if isinstance(detail, dict) and detail:
        name, found = next(iter(detail.items()))
        return f"{name}: {found[0] if isinstance(found, list) and found else found}"
    return str(exc)


@login_required
def model_list(request, project_id):
    project = or_404(get_project_for, request.user, project_id)
    order = request.GET.get("order", "severity")
    return render(request, "ml/list.html", {
        "project": project, "models": selectors.models_of(project),
        "anomalies": selectors.anomalies_of(project, ordering=ORDERINGS.get(order, "severity"),
                                            include_dismissed=False, limit=100),
        "order": order if order in ORDERINGS else "severity",
        "can_edit": can_edit(request.user, project), "detectors": DetectorChoice.choices,
        "sensitivities": Sensitivity.choices, "steps": STEPS})


@login_required
@require_POST
def model_create(request, project_id):
    project = or_404(get_project_for, request.user, project_id, min_role=Role.EDITOR)
    post = request.POST
    data = {"name": post.get("name", ""), "query": post.get("query", ""),
            "detector": post.get("detector", "auto"),
            "sensitivity": post.get("sensitivity", "medium")}
    for field in ("training_days", "step_seconds"):
        if post.get(field, "").strip().isdigit():
            data[field] = int(post[field])
    try:
        model = services.create_model(project=project, user=request.user,
                                      **valid(ModelWriteSerializer, data))
    except (ApiError, ValidationError) as exc:
        messages.error(request, f"Not created: {_message(exc)}")
        return redirect("ml:list", project_id)
    messages.success(request, "Created: the model trains now.")
    return redirect("ml:model", project_id, model.pk)


@login_required
def model_detail(request, project_id, model_id):
    model = _model_in(request, project_id, model_id)
    return render(request, "ml/model.html", {
        "project": model.project, "model": model, "series": model.series.all(),
        "anomalies": selectors.anomalies_of(model.project, model=model, limit=100),
        "can_edit": can_edit(request.user, model.project)})


@login_required
@require_POST
def model_train(request, project_id, model_id):
    model = _model_in(request, project_id, model_id, min_role=Role.EDITOR)
    try:
        services.train_now(model=model)
    except ApiError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Training asked for: a worker takes it up.")
    return redirect("ml:model", project_id, model_id)


@login_required
@require_POST
def model_delete(request, project_id, model_id):
    model = _model_in(request, project_id, model_id, min_role=Role.EDITOR)
    services.delete_model(model=model)
    messages.success(request, "Model deleted.")
    return redirect("ml:list", project_id)


@login_required
def anomaly_detail(request, project_id, anomaly_id):
    anomaly = _anomaly_in(request, project_id, anomaly_id)
    return render(request, "ml/anomaly.html", {
        "project": anomaly.project, "anomaly": anomaly, "model": anomaly.model,
        "can_edit": can_edit(request.user, anomaly.project)})


@login_required
@require_POST
def anomaly_feedback(request, project_id, anomaly_id):
    anomaly = _anomaly_in(request, project_id, anomaly_id, min_role=Role.EDITOR)
    feedback = request.POST.get("feedback", "")
    if feedback not in (Anomaly.Feedback.NOT_ANOMALY, Anomaly.Feedback.NONE):
        messages.error(request, "Unknown feedback.")
    else:
        services.give_feedback(anomaly=anomaly, feedback=feedback, user=request.user)
        messages.success(request, "Marked: not an anomaly. Its window stays out of the "
                                  "baselines from the next training." if feedback else
                         "Mark taken back.")
    return redirect("ml:anomaly", project_id, anomaly_id)


@login_required
def correlations(request, project_id):
    project = or_404(get_project_for, request.user, project_id)
    return render(request, "ml/correlations.html", {
        "project": project, "related_to": request.GET.get("related_to", "")[:2000]})
