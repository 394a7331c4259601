"""HTML pages of the alerts app: the rules list (state badges, last evaluation, silences), a
rule's page (instances, history timeline, chart with the threshold and firing bands, evaluate
now), the rule form (live preview and 24 h backtest) and the channels page (delivery log, send a
test). Thin: reads from alerts.selectors, writes through alerts.services and alerts.evaluation;
the forms are checked by the API's own serializers and refused with the API's own messages; the
scripts use the alerts API."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from analytics_site.errors import ApiError, api_exception_handler, or_404
from analytics_site.fields import valid
from projects.models import Role
from projects.selectors import can_edit, get_project_for

from . import evaluation, selectors, services
from .api.serializers import (
    ChannelSerializer,
    ChannelWriteSerializer,
    RuleSerializer,
    SilenceWriteSerializer,
)
from .models import ChannelKind, Condition, NoData, Reducer, Severity

REFUSED = (ApiError, ValidationError)


def _refusal(exc: Exception) -> str:
    """What the API answers to the same input, for the page's message; for a value inside a
    field, where the API says only "Invalid input.", the path to it and what is wrong."""
    body = api_exception_handler(exc, {}).data
    path, detail = [], body["details"]
    while body["error"] == "Invalid input." and isinstance(detail, dict) and detail:
        name, detail = next(iter(detail.items()))
        path.append(str(name))
    if not path or not isinstance(detail, list) or not detail:
        return body["error"]
    return ": ".join([*path, str(detail[0])])


def _pairs(text: str) -> dict[str, str]:
    """``team=web, env=prod`` as the object the API takes."""
    return {name.strip(): value.strip() for name, _, value in
            (part.partition("=") for part in text.split(",") if "=" in part)}


def _rule_in(request, project_id, rule_id, **kwargs):
    rule = or_404(selectors.get_rule_for, request.user, rule_id, **kwargs)
    if rule.project_id != int(project_id):
        raise Http404("Alert rule not found")
    return rule


@login_required
def rule_list(request, project_id):
    project = or_404(get_project_for, request.user, project_id)
    rules = list(selectors.rules_of(project))
    for rule in rules:
        rule.state = selectors.rule_state(rule)
    return render(request, "alerts/list.html", {
        "project": project, "rules": rules, "silences": selectors.silences_of(project)[:50],
        "can_edit": can_edit(request.user, project)})


@login_required
def rule_detail(request, project_id, rule_id):
    rule = _rule_in(request, project_id, rule_id)
    # Values and the threshold read in the unit of the rule's query (the catalogue's, as now).
    unit = evaluation.rule_unit(rule)
    instances = list(rule.instances.all())
    history = list(selectors.history_of(rule.project, rule=rule)[:200])
    for row in (*instances, *history):
        row.value_text = evaluation.format_value(row.value, unit)
    return render(request, "alerts/detail.html", {
        "project": rule.project, "rule": rule, "state": selectors.rule_state(rule),
        "instances": instances, "history": history, "unit": unit,
        "threshold_text": evaluation.format_value(rule.threshold, unit),
        "rule_data": RuleSerializer(rule).data, "can_edit": can_edit(request.user,
                                                                      rule.project)})


@login_required
def rule_form(request, project_id, rule_id=None):
    project = or_404(get_project_for, request.user, project_id, min_role=Role.EDITOR)
    rule = _rule_in(request, project_id, rule_id, min_role=Role.EDITOR) if rule_id else None
    # A new rule may come prefilled (?name=&query=), e.g. from the metrics explorer.
    data = RuleSerializer(rule).data if rule else {
        "id": None, **services.RULE_DEFAULTS, "name": request.GET.get("name", ""),
        "query": request.GET.get("query", ""), "threshold": None, "channels": []}
    return render(request, "alerts/form.html", {
        "project": project, "rule": rule, "rule_data": data,
        "channels": ChannelSerializer(selectors.channels_of(project), many=True).data,
        "anomaly_models": selectors.anomaly_models_of(project),
        "reducers": Reducer.choices, "conditions": Condition.choices,
        "severities": Severity.choices, "no_data_choices": NoData.choices})


@login_required
@require_POST
def rule_evaluate(request, project_id, rule_id):
    rule = _rule_in(request, project_id, rule_id, min_role=Role.EDITOR)
    report = evaluation.evaluate_now(rule)
    rule.refresh_from_db()
    if rule.last_error:
        messages.error(request, f"Evaluated: the query failed — {rule.last_error}")
    else:
        messages.success(request, f"Evaluated now: {report.transitions} state change(s).")
    return redirect("alerts:detail", project_id, rule_id)


@login_required
@require_POST
def silence_create(request, project_id):
    project = or_404(get_project_for, request.user, project_id, min_role=Role.EDITOR)
    post = request.POST
    data = {"reason": post.get("reason", ""), "ends_at": f"now+{post.get('duration', '1h')}",
            "matchers": _pairs(post.get("matchers", ""))}
    if post.get("rule"):
        data["rule"] = post["rule"]
    try:
        services.create_silence(project=project, user=request.user,
                                **valid(SilenceWriteSerializer, data))
    except REFUSED as exc:
        messages.error(request, f"Not silenced: {_refusal(exc)}")
    else:
        messages.success(request, "Silenced.")
    return redirect("alerts:list", project_id)


@login_required
@require_POST
def silence_end(request, project_id, silence_id):
    silence = or_404(selectors.get_silence_for, request.user, silence_id, min_role=Role.EDITOR)
    if silence.project_id != int(project_id):
        raise Http404("Silence not found")
    services.end_silence(silence=silence)
    messages.success(request, "Silence ended.")
    return redirect("alerts:list", project_id)


@login_required
def channels(request, project_id):
    project = or_404(get_project_for, request.user, project_id)
    found = list(selectors.channels_of(project))
    for channel in found:
        channel.log = selectors.deliveries_of(channel, limit=20)
    return render(request, "alerts/channels.html", {
        "project": project, "channels": found, "kinds": ChannelKind.choices,
        "can_edit": can_edit(request.user, project)})


@login_required
@require_POST
def channel_create(request, project_id):
    project = or_404(get_project_for, request.user, project_id, min_role=Role.EDITOR)
    post = request.POST
    data = {"name": post.get("name", ""), "kind": post.get("kind", "")}
    if data["kind"] == ChannelKind.EMAIL:
        data["recipients"] = [r.strip() for r in post.get("recipients", "").split(",")
                              if r.strip()]
    else:
        data["url"] = post.get("url", "")
    try:
        channel = services.create_channel(project=project,
                                          **valid(ChannelWriteSerializer, data))
    except REFUSED as exc:
        messages.error(request, f"Not added: {_refusal(exc)}")
    else:
        note = f"Added “{channel.name}”."
        if channel.secret:
            note += (f" Its signing secret (X-Signature, HMAC-SHA256 of the body), shown once: "
                     f"{channel.secret}")
        messages.success(request, note)
    return redirect("alerts:channels", project_id)


@login_required
@require_POST
def channel_action(request, project_id, channel_id, action):
    channel = or_404(selectors.get_channel_for, request.user, channel_id, min_role=Role.EDITOR)
    if channel.project_id != int(project_id):
        raise Http404("Channel not found")
    if action == "test":
        services.send_test(channel=channel)
        messages.success(request, f"A test notification to “{channel.name}” is on its way; "
                                  "its delivery shows below.")
    elif action == "delete":
        services.delete_channel(channel=channel)
        messages.success(request, f"Deleted “{channel.name}”.")
    else:
        raise Http404("No such action")
    return redirect("alerts:channels", project_id)
