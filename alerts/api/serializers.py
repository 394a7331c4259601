"""Representations of the alerts API (writes are checked by alerts.services)."""

from rest_framework import serializers

from ..models import (
    AlertEvent,
    AlertInstance,
    AlertRule,
    DeliveryAttempt,
    Notification,
    NotificationChannel,
    Silence,
)
from ..selectors import rule_state


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
    labels = serializers.DictField(child=serializers.CharField(), required=False)
    channels = serializers.ListField(child=serializers.IntegerField(), required=False)
    no_data = serializers.ChoiceField(choices=["ok", "alerting", "no_data"], required=False)
    renotify_minutes = serializers.IntegerField(required=False)
    message = serializers.CharField(required=False)
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
    url = serializers.URLField(required=False)
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
    rule = serializers.IntegerField(required=False)
    matchers = serializers.DictField(child=serializers.CharField(), required=False)
    starts_at = serializers.CharField(required=False)
    ends_at = serializers.CharField()
    reason = serializers.CharField(max_length=500)
