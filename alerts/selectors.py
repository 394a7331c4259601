"""Reads of the alerts app, scoped like every lookup: an object outside the caller's projects is
404, a role or token scope too small is 403."""

from __future__ import annotations

from projects.models import Role, Scope
from projects.selectors import get_scoped_for

from .models import AlertEvent, AlertInstance, AlertRule, Notification, NotificationChannel, Silence


def _scoped(model, user, pk, *, min_role, token, scope, label):
    return get_scoped_for(user, model.objects, pk, label=label, min_role=min_role, token=token,
                          scope=scope)


def get_rule_for(user, pk, *, min_role=Role.VIEWER, token=None, scope=Scope.READ) -> AlertRule:
    return _scoped(AlertRule, user, pk, min_role=min_role, token=token, scope=scope,
                   label="Alert rule")


def get_channel_for(user, pk, *, min_role=Role.VIEWER, token=None,
                    scope=Scope.READ) -> NotificationChannel:
    return _scoped(NotificationChannel, user, pk, min_role=min_role, token=token, scope=scope,
                   label="Notification channel")


def get_silence_for(user, pk, *, min_role=Role.VIEWER, token=None, scope=Scope.READ) -> Silence:
    return _scoped(Silence, user, pk, min_role=min_role, token=token, scope=scope,
                   label="Silence")


def rules_of(project):
    return (AlertRule.objects.filter(project=project).prefetch_related("instances", "channels")
            .order_by("name", "id"))


def rule_state(rule: AlertRule) -> str:
    """The worst state of its instances (firing > error > pending > no data > ok)."""
    order = ["firing", "error", "pending", "no_data", "ok"]
    states = {i.state for i in rule.instances.all()}
    if not rule.enabled:
        return "disabled"
    return next((s for s in order if s in states), "ok" if rule.last_evaluated_at else "new")


def history_of(project, *, rule=None, start=None, end=None, limit=500):
    events = AlertEvent.objects.filter(rule__project=project).select_related("rule")
    if rule is not None:
        events = events.filter(rule=rule)
    if start is not None:
        events = events.exclude(resolved_at__lt=start)
    if end is not None:
        events = events.filter(triggered_at__lte=end)
    return events.order_by("-triggered_at", "-id")[:limit]


def firing_periods(project, *, start, end):
    """FIRING events overlapping ``start``..``end`` (open ones still fire): the bands that
    dashboards draw on charts of the same query."""
    return (AlertEvent.objects.filter(rule__project=project, status="firing",
                                      triggered_at__lte=end)
            .exclude(resolved_at__lt=start).select_related("rule").order_by("triggered_at"))


def instances_of(project, states=None):
    found = AlertInstance.objects.filter(rule__project=project).select_related("rule")
    if states:
        found = found.filter(state__in=states)
    return found.order_by("rule__name", "group_key")


def anomaly_models_of(project):
    """The project's anomaly models a rule of condition anomaly may watch (through the rule's
    foreign key's model: the alerts app does not import ml)."""
    model = AlertRule.anomaly_model.field.related_model
    return model.objects.filter(project=project).order_by("name", "id")


def channels_of(project):
    return NotificationChannel.objects.filter(project=project).order_by("name", "id")


def deliveries_of(channel, limit=100):
    return (Notification.objects.filter(channel=channel).prefetch_related("delivery_attempts")
            .order_by("-created_at", "-id")[:limit])


def silences_of(project):
    return Silence.objects.filter(project=project).select_related("rule").order_by("-ends_at")
