"""Representations of the alerts API, and the checks of what comes in.

The write serializers hold every rule about the shape and the values of a body — types, lengths,
choices, ranges, text PostgreSQL can hold, times in UTC — and hand alerts.services typed values;
the services add what needs the database or the meaning of several fields together. The HTML
forms go through the same serializers. Checks that the API answered from the services before
the serializers held them keep their wording (``_refuse``), so clients see the same errors."""

from datetime import datetime, timedelta
from typing import NoReturn

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.utils import timezone
from rest_framework import serializers
from rest_framework.fields import empty

from analytics_site.errors import ValidationFailed
from analytics_site.fields import UTCDateTimeField, refuse_unstorable
from events.query import parse_duration, parse_time

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
from ..services import UnknownRule

MAX_LABELS = 20
MAX_WINDOW_MINUTES = 24 * 60
MIN_INTERVAL_S = 10


def _refuse(field: str, message: str, detail: str) -> NoReturn:
    raise ValidationFailed(message, details={field: [detail]})


def _moment(value, field: str) -> datetime:
    """A time as the engine reads one (epoch, now-1h) or, ahead, now+2h; ISO 8601 as written,
    for the field to convert to UTC and to keep inside the calendar."""
    now = timezone.now()
    if isinstance(value, str):
        squeezed = value.replace(" ", "")
        if squeezed.startswith("now+"):
            return now + timedelta(seconds=parse_duration(squeezed[4:], field))
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    return parse_time(value, field, now)


class MomentField(UTCDateTimeField):
    def __init__(self, **kwargs):
        super().__init__(parse=lambda value: _moment(value, self.field_name),
                         forms="ISO 8601, epoch seconds or ms, now-1h or now+2h", **kwargs)


class TextField(serializers.CharField):
    """Text, trimmed: a number is refused, where DRF would turn it into text."""

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        if not isinstance(data, str):
            _refuse(self.field_name, f"{self.field_name} must be text.", "Text.")
        return value


class _Bounded:
    """A JSON number (not "5", not true) from ``min_value`` to ``max_value``, both documented."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        name, low, high = self.field_name, self.min_value, self.max_value
        if isinstance(data, bool) or not isinstance(data, int | float):
            _refuse(name, f"{name} must be a number.", "A number.")
        if not low <= value <= high:
            _refuse(name, f"{name} must be between {low} and {high}.",
                    f"Between {low} and {high}.")
        return value


class BoundedIntegerField(_Bounded, serializers.IntegerField):
    pass


class BoundedFloatField(_Bounded, serializers.FloatField):
    pass


class StrictBooleanField(serializers.BooleanField):
    """true or false themselves, not "yes" or 1."""

    def to_internal_value(self, data) -> bool:
        value = super().to_internal_value(data)
        if not isinstance(data, bool):
            _refuse(self.field_name, f"{self.field_name} must be true or false.", "A bool.")
        return value


class LabelsField(serializers.DictField):
    """Up to 20 names (1 to 64 characters) with text values (at most 200); null is none."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.CharField(max_length=200, allow_blank=True,
                                                     trim_whitespace=False),
                         validators=[refuse_unstorable], allow_null=True, **kwargs)

    def run_validation(self, data=empty) -> dict[str, str]:
        value = super().run_validation(data)
        if value is None:
            return {}
        if len(data) > MAX_LABELS or not all(
                isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= 64
                for k, v in data.items()):
            _refuse(self.field_name, f"{self.field_name} must map up to {MAX_LABELS} names to "
                                     f"text values.", "An object of text values.")
        return value


class ChannelIdsField(serializers.ListField):
    """Ids of the project's channels (which are, the service says); null leaves them as
    they are."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.IntegerField(), allow_null=True, **kwargs)

    def to_internal_value(self, data) -> list[int]:
        value = super().to_internal_value(data)
        if not all(isinstance(i, int) for i in data):
            _refuse("channels", "channels must be a list of channel ids.", "A list of ids.")
        return value


class RecipientsField(serializers.ListField):
    """E-mail addresses as written (no spaces around them); how many a channel needs depends
    on its kind, which the service knows."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.EmailField(), **kwargs)

    def to_internal_value(self, data) -> list[str]:
        value = super().to_internal_value(data)
        for i, address in enumerate(data):
            try:
                validate_email(address)
            except DjangoValidationError:
                _refuse(f"recipients[{i}]", f"recipients[{i}] is not an e-mail address.",
                        "An e-mail address.")
        return value


class RuleField(serializers.IntegerField):
    """A rule by its id; whether it is the project's is the service's to say."""

    def to_internal_value(self, data) -> AlertRule:
        rule = AlertRule.objects.filter(pk=super().to_internal_value(data)).first()
        if rule is None:
            raise UnknownRule()
        return rule


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
                  "no_data", "renotify_minutes", "message", "interval_seconds", "report",
                  "anomaly_model", "state",
                  "instances", "last_evaluated_at", "next_evaluation_at", "last_error",
                  "created_at", "updated_at"]

    def get_state(self, rule) -> str:
        return rule_state(rule)


class RuleWriteSerializer(serializers.Serializer):
    """Every field but name, query and threshold is optional (query too for condition
    anomaly, which watches its model's); a PATCH gives only those it changes."""

    # Left out, a field keeps services.create_rule's default (or, in a PATCH, its value).
    name = TextField(max_length=100)
    query = TextField(max_length=2000, required=False,
                      help_text="Required but for condition anomaly (the model's query).")
    reducer = serializers.ChoiceField(choices=["last", "avg", "min", "max", "sum", "p95"],
                                      required=False)
    window_minutes = BoundedIntegerField(min_value=1, max_value=MAX_WINDOW_MINUTES,
                                         required=False)
    condition = serializers.ChoiceField(
        choices=["gt", "gte", "lt", "lte", "eq", "ne", "anomaly"], required=False,
        help_text="anomaly: fires while anomaly_model flags a series anomalous with a score "
                  "of at least threshold (1.0 is the band's edge at the model's sensitivity).")
    threshold = BoundedFloatField(min_value=-1e300, max_value=1e300)
    for_seconds = BoundedIntegerField(min_value=0, max_value=7 * 86400, required=False)
    severity = serializers.ChoiceField(choices=["info", "warning", "critical"], required=False)
    enabled = StrictBooleanField(required=False)
    labels = LabelsField(required=False)
    channels = ChannelIdsField(required=False)
    no_data = serializers.ChoiceField(choices=["ok", "alerting", "no_data"], required=False)
    renotify_minutes = BoundedIntegerField(min_value=0, max_value=7 * 1440, required=False)
    message = TextField(max_length=2000, required=False, allow_blank=True, allow_null=True)
    interval_seconds = BoundedIntegerField(min_value=MIN_INTERVAL_S, max_value=86400,
                                           required=False)
    report = BoundedIntegerField(min_value=1, max_value=2**62, required=False, allow_null=True,
                                 help_text="A report of the project, rendered around each "
                                           "firing and sent with the notification.")
    anomaly_model = BoundedIntegerField(min_value=1, max_value=2**62, required=False,
                                        allow_null=True, help_text=(
                                            "Condition anomaly: an anomaly model of the "
                                            "project."))

    def validate_message(self, message: str | None) -> str:
        return message or ""

    def validate(self, attrs: dict) -> dict:
        if attrs.get("channels", []) is None:
            del attrs["channels"]  # null: the channels stay as they are
        return attrs


class RulePreviewSerializer(RuleWriteSerializer):
    """A rule to backtest, not saved: it needs no name, and notifies no one — the form sends
    its channels along, which are read as a list of ids and left out. Documented as
    RuleWriteSerializer: a component of its own would rename the shared enums."""

    name = TextField(max_length=100, default="preview")
    channels = serializers.ListField(child=serializers.IntegerField(), required=False,
                                     allow_null=True)

    def to_internal_value(self, data) -> dict:
        if isinstance(data, dict):
            if "query" not in data:
                _refuse("query", "query is required.", "Required.")
            if "threshold" not in data:
                _refuse("threshold", "threshold must be a number.", "A number.")
        return super().to_internal_value(data)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("condition") == "anomaly":
            _refuse("condition", "An anomaly rule has no backtest: its model's page shows "
                                 "the anomalies it found.", "Not anomaly.")
        attrs.pop("channels", None)
        attrs.pop("report", None)
        attrs.pop("anomaly_model", None)
        return attrs


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
    # Which of recipients and url a channel needs follows from its kind, new or current (in a
    # PATCH): services.create_channel and update_channel check it.
    name = TextField(max_length=100)
    kind = serializers.ChoiceField(choices=["email", "webhook", "slack"])
    recipients = RecipientsField(required=False)
    url = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    timeout_s = BoundedFloatField(min_value=0.5, max_value=30, required=False)
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
    rule = RuleField(required=False, allow_null=True)
    matchers = LabelsField(required=False)
    starts_at = MomentField(required=False, allow_null=True,
                            help_text="ISO 8601, epoch, now-1h or now+2h; default now.")
    ends_at = MomentField(help_text="ISO 8601 or now+2h.")
    reason = TextField(max_length=500)

    def validate(self, attrs: dict) -> dict:
        return {**attrs, "rule": attrs.get("rule"), "matchers": attrs.get("matchers", {}),
                "starts_at": attrs.get("starts_at") or timezone.now()}


class AlertsQuery(serializers.Serializer):
    state = serializers.ListField(child=serializers.ChoiceField(choices=State.choices),
                                  required=False, help_text="Only alerts in these states.")


class HistoryQuery(serializers.Serializer):
    start = MomentField(required=False)
    end = MomentField(required=False)
    status = serializers.ChoiceField(choices=["firing"], required=False, help_text=(
        "firing: the firing periods overlapping start..end (both needed)."))
