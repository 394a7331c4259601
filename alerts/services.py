"""Writes of the alerts app: rules, channels and silences, each checked field by field with the
usual error format (the field named); and "send a test notification"."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from analytics_site.errors import ApiError, ValidationFailed
from events import query as engine
from events.query import parse_duration, parse_time

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
MAX_LABELS = 20
MAX_WINDOW_MINUTES = 24 * 60
MIN_INTERVAL_S = 10


def _text(data: dict, name: str, limit: int, *, required=True, default="") -> str:
    value = data.get(name, default)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be text.", details={name: ["Text."]})
    value = value.strip()
    if required and not value:
        raise ValidationFailed(f"{name} is required.", details={name: ["Required."]})
    if len(value) > limit:
        raise ValidationFailed(f"{name} is longer than {limit} characters.",
                               details={name: [f"At most {limit} characters."]})
    return value


def _choice(data: dict, name: str, choices, default: str) -> str:
    value = data.get(name, default)
    if value not in choices.values:
        raise ValidationFailed(f"{name} must be one of {', '.join(choices.values)}.",
                               details={name: [f"One of {', '.join(choices.values)}."]})
    return value


def _number(data: dict, name: str, *, default=None, low=None, high=None, integer=False):
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(f"{name} must be a number.", details={name: ["A number."]})
    if integer and int(value) != value:
        raise ValidationFailed(f"{name} must be a whole number.",
                               details={name: ["A whole number."]})
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValidationFailed(f"{name} must be between {low} and {high}.",
                               details={name: [f"Between {low} and {high}."]})
    return int(value) if integer else float(value)


def _labels(value, name: str = "labels") -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_LABELS or not all(
            isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= 64 and len(v) <= 200
            for k, v in value.items()):
        raise ValidationFailed(f"{name} must map up to {MAX_LABELS} names to text values.",
                               details={name: ["An object of text values."]})
    return value


def check_query(text: str) -> str:
    """The query must parse (the engine's error, with its position, otherwise)."""
    engine.parse(text)
    return text


RULE_DEFAULTS = {"reducer": Reducer.AVG, "window_minutes": 5, "condition": Condition.GT,
                 "for_seconds": 0, "severity": Severity.WARNING, "enabled": True, "labels": {},
                 "no_data": NoData.NO_DATA, "renotify_minutes": 0, "message": DEFAULT_MESSAGE,
                 "interval_seconds": 60}


def clean_rule(project, data: dict, current: AlertRule | None = None) -> dict:
    """Every field of a rule, checked; a missing field keeps its current (or default) value."""
    base = {**RULE_DEFAULTS}
    if current is not None:
        base.update({k: getattr(current, k) for k in [*RULE_DEFAULTS, "name", "query",
                                                        "threshold"]})
    merged = {**base, **{k: v for k, v in data.items() if k != "channels"}}
    clean = {
        "name": _text(merged, "name", 100),
        "query": check_query(_text(merged, "query", 2000)),
        "reducer": _choice(merged, "reducer", Reducer, Reducer.AVG),
        "window_minutes": _number(merged, "window_minutes", low=1, high=MAX_WINDOW_MINUTES,
                                  integer=True),
        "condition": _choice(merged, "condition", Condition, Condition.GT),
        "threshold": _number(merged, "threshold", low=-1e300, high=1e300),
        "for_seconds": _number(merged, "for_seconds", low=0, high=7 * 86400, integer=True),
        "severity": _choice(merged, "severity", Severity, Severity.WARNING),
        "labels": _labels(merged.get("labels")),
        "no_data": _choice(merged, "no_data", NoData, NoData.NO_DATA),
        "renotify_minutes": _number(merged, "renotify_minutes", low=0, high=7 * 1440,
                                    integer=True),
        "message": _text(merged, "message", 2000, required=False),
        "interval_seconds": _number(merged, "interval_seconds", low=MIN_INTERVAL_S,
                                    high=86400, integer=True),
    }
    if not isinstance(merged.get("enabled"), bool):
        raise ValidationFailed("enabled must be true or false.", details={"enabled": ["A bool."]})
    clean["enabled"] = merged["enabled"]
    return clean


def _channels(project, ids) -> list[NotificationChannel] | None:
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise ValidationFailed("channels must be a list of channel ids.",
                               details={"channels": ["A list of ids."]})
    found = list(NotificationChannel.objects.filter(project=project, pk__in=ids))
    missing = sorted(set(ids) - {c.pk for c in found})
    if missing:
        raise ValidationFailed(f"No channel {missing[0]} in this project.",
                               details={"channels": [f"Unknown channel {i}." for i in missing]})
    return found


@transaction.atomic
def create_rule(*, project, data: dict, user=None) -> AlertRule:
    fields = clean_rule(project, data)
    channels = _channels(project, data.get("channels"))
    rule = AlertRule.objects.create(project=project, created_by=user,
                                    next_evaluation_at=None, **fields)  # due now
    if channels:
        rule.channels.set(channels)
    return rule


@transaction.atomic
def update_rule(*, rule: AlertRule, data: dict) -> AlertRule:
    fields = clean_rule(rule.project, data, current=rule)
    channels = _channels(rule.project, data.get("channels"))
    changed_query = (fields["query"], fields["window_minutes"]) != (rule.query,
                                                                     rule.window_minutes)
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.next_evaluation_at = None  # due: the new definition is evaluated in the next cycle
    rule.save()
    if channels is not None:
        rule.channels.set(channels)
    if changed_query:
        # Other groups may come from the new query; the old ones' history stays.
        rule.instances.exclude(state="firing").delete()
    return rule


def delete_rule(*, rule: AlertRule) -> None:
    rule.delete()


# -- channels -------------------------------------------------------------------------------------
def clean_channel(project, data: dict, current: NotificationChannel | None = None) -> dict:
    base = {"kind": current.kind, "name": current.name, "recipients": current.recipients,
            "url": current.url, "timeout_s": current.timeout_s, "enabled": current.enabled} \
        if current else {"recipients": [], "url": "", "timeout_s": 5.0, "enabled": True}
    merged = {**base, **data}
    kind = _choice(merged, "kind", ChannelKind, "")
    clean = {"name": _text(merged, "name", 100), "kind": kind,
             "timeout_s": _number(merged, "timeout_s", low=0.5, high=30),
             "enabled": bool(merged.get("enabled", True)), "recipients": [], "url": ""}
    if kind == ChannelKind.EMAIL:
        recipients = merged.get("recipients")
        if (not isinstance(recipients, list) or not recipients
                or len(recipients) > MAX_RECIPIENTS):
            raise ValidationFailed(f"recipients: 1 to {MAX_RECIPIENTS} e-mail addresses.",
                                   details={"recipients": ["A list of e-mail addresses."]})
        from django.core.exceptions import ValidationError
        from django.core.validators import validate_email

        for i, address in enumerate(recipients):
            try:
                validate_email(address)
            except (ValidationError, TypeError):
                raise ValidationFailed(f"recipients[{i}] is not an e-mail address.",
                                       details={f"recipients[{i}]": ["An e-mail address."]}
                                       ) from None
        clean["recipients"] = recipients
    else:
        clean["url"] = _text(merged, "url", 2000)
        check_url(clean["url"])
    return clean


def create_channel(*, project, data: dict) -> NotificationChannel:
    fields = clean_channel(project, data)
    secret = secrets.token_urlsafe(32) if fields["kind"] == ChannelKind.WEBHOOK else ""
    return NotificationChannel.objects.create(project=project, secret=secret, **fields)


def update_channel(*, channel: NotificationChannel, data: dict) -> NotificationChannel:
    for name, value in clean_channel(channel.project, data, current=channel).items():
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
def _moment(value, name: str) -> datetime:
    """A time like the engine's (ISO 8601, epoch, now, now-1h) or, for silences, ahead: now+2h."""
    now = timezone.now()
    if isinstance(value, str) and value.replace(" ", "").startswith("now+"):
        return now + timedelta(seconds=parse_duration(value.replace(" ", "")[4:], name))
    try:
        return parse_time(value, name, now)
    except (ApiError, ValueError, TypeError):
        raise ValidationFailed(f"{name} must be a time (ISO 8601 or now-1h).",
                               details={name: ["A time."]}) from None


def create_silence(*, project, data: dict, user=None) -> Silence:
    rule = None
    if data.get("rule") is not None:
        rule = AlertRule.objects.filter(project=project, pk=data["rule"]).first()
        if rule is None:
            raise ValidationFailed("No such rule in this project.",
                                   details={"rule": ["Unknown rule."]})
    matchers = _labels(data.get("matchers"), "matchers")
    if rule is None and not matchers:
        raise ValidationFailed("A silence needs a rule or label matchers.",
                               details={"matchers": ["A rule or at least one label."]})
    starts = _moment(data.get("starts_at") or "now", "starts_at")
    ends = _moment(data.get("ends_at"), "ends_at")
    if ends <= starts:
        raise ValidationFailed("ends_at must be after starts_at.",
                               details={"ends_at": ["After starts_at."]})
    return Silence.objects.create(project=project, rule=rule, matchers=matchers,
                                  starts_at=starts, ends_at=ends,
                                  reason=_text(data, "reason", 500), created_by=user)


def end_silence(*, silence: Silence) -> Silence:
    now = timezone.now()
    if silence.ends_at > now:
        silence.ends_at = max(now, silence.starts_at)
        silence.save(update_fields=["ends_at"])
    return silence
