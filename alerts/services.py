"""Writes of the alerts app: rules, channels and silences; and "send a test notification".

They take typed keyword arguments, checked for shape by alerts.api.serializers (the API and the
HTML forms alike), and keep the rules that need the database or the meaning of several fields:
the query parses, channels and rules belong to the project, a channel has what its kind needs
and a webhook goes only where the outbound guard allows, a silence has a rule or matchers and
ends after it starts."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict, Unpack

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from analytics_site.errors import ValidationFailed
from events import query as engine
from projects.models import Project

from . import notifications
from .models import (
    DEFAULT_MESSAGE,
    AlertRule,
    ChannelKind,
    Condition,
    NoData,
    Notification,
    NotificationChannel,
    Reducer,
    Severity,
    Silence,
)
from .urlguard import check_url

MAX_RECIPIENTS = 20


class UnknownRule(ValidationFailed):
    """One answer for a rule that does not exist and for one of another project, so that an
    answer cannot tell which ids exist elsewhere."""

    def __init__(self):
        super().__init__("No such rule in this project.", details={"rule": ["Unknown rule."]})


class RuleSettings(TypedDict, total=False):
    """What a rule has besides its name, query and threshold; left out, the default below (or,
    in a change, the rule's current value)."""

    reducer: str
    window_minutes: int
    condition: str
    for_seconds: int
    severity: str
    enabled: bool
    labels: dict[str, str]
    no_data: str
    renotify_minutes: int
    message: str
    interval_seconds: int


class RuleChanges(RuleSettings, total=False):
    name: str
    query: str
    threshold: float


RULE_DEFAULTS: RuleSettings = {
    "reducer": Reducer.AVG, "window_minutes": 5, "condition": Condition.GT, "for_seconds": 0,
    "severity": Severity.WARNING, "enabled": True, "labels": {}, "no_data": NoData.NO_DATA,
    "renotify_minutes": 0, "message": DEFAULT_MESSAGE, "interval_seconds": 60}


def _known(given: dict, names) -> None:
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise TypeError(f"Not a field: {', '.join(unknown)}")


def check_query(text: str) -> str:
    """The query must parse (the engine's error, with its position, otherwise)."""
    engine.parse(text)
    return text


def _channels(project: Project, ids: Sequence[int]) -> list[NotificationChannel]:
    found = list(NotificationChannel.objects.filter(project=project, pk__in=ids))
    missing = sorted(set(ids) - {c.pk for c in found})
    if missing:
        raise ValidationFailed(f"No channel {missing[0]} in this project.",
                               details={"channels": [f"Unknown channel {i}." for i in missing]})
    return found


def _of_project(project: Project, field: str, pk: int, label: str):
    """The object a rule's foreign key ``field`` names, if it is one of ``project``'s (through
    the field's model: the alerts app imports neither reports nor ml)."""
    model = getattr(AlertRule, field).field.related_model
    found = model.objects.filter(project=project, pk=pk).first()
    if found is None:
        raise ValidationFailed(f"No {label} {pk} in this project.",
                               details={field: [f"Unknown {label} {pk}."]})
    return found


def _report(project: Project, report_id: int | None):
    """The report a rule sends with its firings."""
    return None if report_id is None else _of_project(project, "report", report_id, "report")


def _anomaly_model(project: Project, model_id: int | None):
    """The anomaly model a rule of condition `anomaly` watches."""
    if model_id is None:
        raise ValidationFailed("A rule of condition anomaly needs an anomaly model.",
                               details={"anomaly_model": ["Required for condition anomaly."]})
    return _of_project(project, "anomaly_model", model_id, "anomaly model")


def _watched(rule: AlertRule, condition: str, model_id) -> None:
    """Condition `anomaly` names a model of the project and watches its query; the others
    name none."""
    if condition == Condition.ANOMALY:
        rule.anomaly_model = _anomaly_model(rule.project, model_id)
        rule.query = rule.anomaly_model.query
    else:
        rule.anomaly_model = None
        if not rule.query:
            raise ValidationFailed("query is required.", details={"query": ["Required."]})
        check_query(rule.query)


@transaction.atomic
def create_rule(*, project: Project, name: str, threshold: float, query: str = "",
                channels: Sequence[int] = (), user: AbstractBaseUser | None = None,
                report: int | None = None, anomaly_model: int | None = None,
                **settings: Unpack[RuleSettings]) -> AlertRule:
    _known(settings, RuleSettings.__annotations__)
    rule = AlertRule(project=project, created_by=user, name=name, query=query,
                     threshold=threshold, next_evaluation_at=None,  # due now
                     **{**RULE_DEFAULTS, **settings})
    _watched(rule, rule.condition, anomaly_model)
    attached = _channels(project, channels)
    rule.report = _report(project, report)
    rule.save()
    if attached:
        rule.channels.set(attached)
    return rule


@transaction.atomic
def update_rule(*, rule: AlertRule, channels: Sequence[int] | None = None,
                report: int | object | None = ..., anomaly_model: int | object | None = ...,
                **changes: Unpack[RuleChanges]) -> AlertRule:
    """Change the given fields (and, given, the channels: None leaves them as they are; the
    report: None removes it, left out keeps it; the anomaly model likewise)."""
    _known(changes, RuleChanges.__annotations__)
    if report is not ...:
        rule.report = _report(rule.project, report)
    before = (rule.query, rule.window_minutes, rule.anomaly_model_id)
    model_id = rule.anomaly_model_id if anomaly_model is ... else anomaly_model
    for name, value in changes.items():
        setattr(rule, name, value)
    _watched(rule, rule.condition, model_id)
    attached = None if channels is None else _channels(rule.project, channels)
    changed_query = (rule.query, rule.window_minutes, rule.anomaly_model_id) != before
    rule.next_evaluation_at = None  # due: the new definition is evaluated in the next cycle
    rule.save()
    if attached is not None:
        rule.channels.set(attached)
    if changed_query:
        # Other groups may come from the new query; the old ones' history stays.
        rule.instances.exclude(state="firing").delete()
    return rule


def delete_rule(*, rule: AlertRule) -> None:
    rule.delete()


# -- channels -------------------------------------------------------------------------------------
class ChannelChanges(TypedDict, total=False):
    name: str
    kind: str
    recipients: list[str]
    url: str
    timeout_s: float
    enabled: bool


def _destination(kind: str, recipients: Sequence[str], url: str) -> tuple[list[str], str]:
    """What the kind needs: e-mail, 1 to 20 addresses; a webhook, a URL the outbound guard
    allows. The other one is dropped."""
    if kind == ChannelKind.EMAIL:
        if not recipients or len(recipients) > MAX_RECIPIENTS:
            raise ValidationFailed(f"recipients: 1 to {MAX_RECIPIENTS} e-mail addresses.",
                                   details={"recipients": ["A list of e-mail addresses."]})
        return list(recipients), ""
    if not url:
        raise ValidationFailed("url is required.", details={"url": ["Required."]})
    check_url(url)
    return [], url


@transaction.atomic
def create_channel(*, project: Project, name: str, kind: str, recipients: Sequence[str] = (),
                   url: str = "", timeout_s: float = 5.0,
                   enabled: bool = True) -> NotificationChannel:
    recipients, url = _destination(kind, recipients, url)
    secret = secrets.token_urlsafe(32) if kind == ChannelKind.WEBHOOK else ""
    return NotificationChannel.objects.create(
        project=project, name=name, kind=kind, recipients=recipients, url=url,
        timeout_s=timeout_s, enabled=enabled, secret=secret)


@transaction.atomic
def update_channel(*, channel: NotificationChannel,
                   **changes: Unpack[ChannelChanges]) -> NotificationChannel:
    """Change the given fields; the kind, new or current, says which destination must be
    there."""
    _known(changes, ChannelChanges.__annotations__)
    recipients, url = _destination(changes.get("kind", channel.kind),
                                   changes.get("recipients", channel.recipients),
                                   changes.get("url", channel.url))
    for name, value in {**changes, "recipients": recipients, "url": url}.items():
        setattr(channel, name, value)
    if channel.kind == ChannelKind.WEBHOOK and not channel.secret:
        channel.secret = secrets.token_urlsafe(32)
    channel.save()
    return channel


def delete_channel(*, channel: NotificationChannel) -> None:
    channel.delete()


def send_test(*, channel: NotificationChannel, enqueue=None) -> Notification:
    """A test notification through the normal delivery path (queued, retried, logged)."""
    note = Notification.objects.create(channel=channel, kind=Notification.Kind.TEST, payload={
        "kind": "test", "state": "test", "project": channel.project_id,
        "rule": {"id": None, "name": "Test notification", "query": "", "severity": "info",
                 "labels": {}},
        "group": {}, "value": None, "threshold": None, "condition": None,
        "triggered_at": timezone.now().isoformat(), "resolved_at": None,
        "message": f"Test notification from channel “{channel.name}”: it works.", "url": ""})
    transaction.on_commit(lambda: notifications.enqueue([note.pk], enqueue))
    return note


# -- silences -------------------------------------------------------------------------------------
@transaction.atomic
def create_silence(*, project: Project, rule: AlertRule | None, matchers: dict[str, str],
                   starts_at: datetime, ends_at: datetime, reason: str,
                   user: AbstractBaseUser | None = None) -> Silence:
    if rule is not None and rule.project_id != project.pk:
        raise UnknownRule()
    if rule is None and not matchers:
        raise ValidationFailed("A silence needs a rule or label matchers.",
                               details={"matchers": ["A rule or at least one label."]})
    if ends_at <= starts_at:
        raise ValidationFailed("ends_at must be after starts_at.",
                               details={"ends_at": ["After starts_at."]})
    return Silence.objects.create(project=project, rule=rule, matchers=matchers,
                                  starts_at=starts_at, ends_at=ends_at, reason=reason,
                                  created_by=user)


def end_silence(*, silence: Silence) -> Silence:
    now = timezone.now()
    if silence.ends_at > now:
        silence.ends_at = max(now, silence.starts_at)
        silence.save(update_fields=["ends_at"])
    return silence
