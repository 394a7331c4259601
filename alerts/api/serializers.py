"""Representations of the alerts API. The write serializers check the shape of a body (types,
text PostgreSQL can hold, times in UTC) before alerts.services checks its meaning."""

from datetime import datetime, timedelta

from django.utils import timezone
from rest_framework import serializers

from analytics_site.fields import UTCDateTimeField, refuse_unstorable
from events.query.timerange import parse_duration, parse_time

from ..models import (
    AlertEvent,
    AlertInstance,
    AlertRule,
    DeliveryAttempt,
    Notification,
    NotificationChannel,
    Silence,
    State,
)
from ..selectors import rule_state


def _moment(value, field: str) -> datetime:
    """A time as the engine reads one (ISO 8601, epoch, now-1h) or, ahead, now+2h."""
    now = timezone.now()
    ahead = value.replace(" ", "") if isinstance(value, str) else ""
    if ahead.startswith("now+"):
        return now + timedelta(seconds=parse_duration(ahead[4:], field))
    return parse_time(value, field, now)


class MomentField(UTCDateTimeField):
    def __init__(self, **kwargs):
        super().__init__(parse=lambda value: _moment(value, self.field_name),
                         forms="ISO 8601, epoch seconds or ms, now-1h or now+2h", **kwargs)


def _labels(**kwargs) -> serializers.DictField:
    return serializers.DictField(child=serializers.CharField(max_length=200, allow_blank=True,
                                                             trim_whitespace=False),
                                 validators=[refuse_unstorable], **kwargs)


class InstanceSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertInstance
        fields = ["id", "rule", "group", "state", "value", "error", "since", "pending_since",
                  "evaluated_at", "last_notified_at"]


class RuleSerializer(serializers.ModelSerializer):
    state = serializers.SerializerMethodField()
    instances = InstanceSerializer(many=True, read_only=True)
    channels = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = AlertRule
        fields = ["id", "project", "name", "query", "reducer", "window_minutes", "condition",
                  "threshold", "for_seconds", "severity", "enabled", "labels", "channels",
                  "no_data", "renotify_minutes", "message", "interval_seconds", "state",
                  "instances", "last_evaluated_at", "next_evaluation_at", "last_error",
                  "created_at", "updated_at"]

    def get_state(self, rule) -> str:
        return rule_state(rule)


class RuleWriteSerializer(serializers.Serializer):
    """For the schema: every field but name, query and threshold is optional."""

    name = serializers.CharField(max_length=100)
    query = serializers.CharField(max_length=2000)
    reducer = serializers.ChoiceField(choices=["last", "avg", "min", "max", "sum", "p95"],
                                      required=False)
    window_minutes = serializers.IntegerField(required=False)
    condition = serializers.ChoiceField(choices=["gt", "gte", "lt", "lte", "eq", "ne"],
                                        required=False)
    threshold = serializers.FloatField()
    for_seconds = serializers.IntegerField(required=False)
    severity = serializers.ChoiceField(choices=["info", "warning", "critical"], required=False)
    enabled = serializers.BooleanField(required=False)
    labels = _labels(required=False, allow_null=True)
    channels = serializers.ListField(child=serializers.IntegerField(), required=False,
                                     allow_null=True)
    no_data = serializers.ChoiceField(choices=["ok", "alerting", "no_data"], required=False)
    renotify_minutes = serializers.IntegerField(required=False)
    message = serializers.CharField(max_length=2000, required=False, allow_blank=True,
                                    allow_null=True)
    interval_seconds = serializers.IntegerField(required=False)


class EventSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    query = serializers.CharField(source="rule.query", read_only=True)

    class Meta:
        model = AlertEvent
        fields = ["id", "rule", "rule_name", "query", "group", "status", "previous", "value",
                  "error", "triggered_at", "resolved_at", "silenced"]


class ChannelSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationChannel
        fields = ["id", "project", "name", "kind", "recipients", "url", "timeout_s", "enabled",
                  "created_at"]


class ChannelWithSecretSerializer(ChannelSerializer):
    """Only in the answer to creating a webhook channel: the secret to verify X-Signature."""

    class Meta(ChannelSerializer.Meta):
        fields = [*ChannelSerializer.Meta.fields, "secret"]


class ChannelWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=["email", "webhook", "slack"])
    recipients = serializers.ListField(child=serializers.EmailField(), required=False)
    url = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    timeout_s = serializers.FloatField(required=False)
    enabled = serializers.BooleanField(required=False)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["at", "ok", "response_code", "error", "duration_ms"]


class NotificationSerializer(serializers.ModelSerializer):
    attempts_log = AttemptSerializer(source="delivery_attempts", many=True, read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "channel", "event", "kind", "status", "attempts", "next_attempt_at",
                  "created_at", "sent_at", "payload", "attempts_log"]


class SilenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Silence
        fields = ["id", "project", "rule", "matchers", "starts_at", "ends_at", "reason",
                  "created_at"]


class SilenceWriteSerializer(serializers.Serializer):
    rule = serializers.IntegerField(required=False, allow_null=True)
    matchers = _labels(required=False, allow_null=True)
    starts_at = MomentField(required=False, allow_null=True,
                            help_text="ISO 8601, epoch, now-1h or now+2h; default now.")
    ends_at = MomentField(help_text="ISO 8601 or now+2h.")
    reason = serializers.CharField(max_length=500)


class AlertsQuery(serializers.Serializer):
    state = serializers.ListField(child=serializers.ChoiceField(choices=State.choices),
                                  required=False, help_text="Only alerts in these states.")


class HistoryQuery(serializers.Serializer):
    start = MomentField(required=False)
    end = MomentField(required=False)
    status = serializers.ChoiceField(choices=["firing"], required=False, help_text=(
        "firing: the firing periods overlapping start..end (both needed)."))
