"""Representations of the ml API and the checks of what comes in: every rule of shape and value
(types, lengths, choices, ranges, times in UTC) is here, and ``ml.services`` gets typed values.
"""

from __future__ import annotations

from typing import NoReturn

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics_site.errors import ValidationFailed
from analytics_site.fields import UTCDateTimeField
from events.query import parse_time

from ..models import STEPS, Anomaly, AnomalyModel, DetectorChoice, Retrain, Sensitivity

MAX_RANGE_DAYS = 31
REDUCERS = ["last", "avg", "min", "max", "sum", "p95"]
CONDITIONS = ["gt", "gte", "lt", "lte", "eq", "ne"]
STEP_VALUES = [step for step, _ in STEPS]


def _named_choice(name: str, choices: list, text: str) -> type:
    """A choice of text whose schema is a pattern, not an enum: the alerts API has fields of
    the same names (reducer, condition) with other labels, and the schema's enum components
    are named by field."""

    @extend_schema_field({"type": "string", "pattern": f"^({'|'.join(choices)})$",
                          "description": text})
    class Field(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices=choices, **kwargs)

    Field.__name__ = name
    return Field


ReducerField = _named_choice("ReducerField", REDUCERS, "The rule's reducer: "
                             + ", ".join(REDUCERS) + ".")
ConditionField = _named_choice("ConditionField", CONDITIONS, "The rule's condition: "
                               + ", ".join(CONDITIONS) + ".")


def _refuse(field: str, message: str, detail: str) -> NoReturn:
    raise ValidationFailed(message, details={field: [detail]})


class MomentField(UTCDateTimeField):
    """ISO 8601, epoch seconds or ms, or ``now-1h``: as the query engine reads a time."""

    def __init__(self, **kwargs):
        super().__init__(parse=lambda value: parse_time(value, self.field_name, timezone.now()),
                         forms="ISO 8601, epoch seconds or ms, now-1h", **kwargs)


class TextField(serializers.CharField):
    """Text, trimmed: a number is refused, where DRF would turn it into text."""

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            _refuse(self.field_name, f"{self.field_name} must be text.", "Text.")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (not "5", not true, not 5.5) inside the documented range."""

    def to_internal_value(self, data) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            _refuse(self.field_name, f"{self.field_name} must be an integer.", "An integer.")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data) -> bool:
        if not isinstance(data, bool):
            _refuse(self.field_name, f"{self.field_name} must be true or false.", "A bool.")
        return data


class ContributionSerializer(serializers.Serializer):
    feature = serializers.CharField()
    weight = serializers.FloatField()
    text = serializers.CharField()


class ModelSerializer(serializers.ModelSerializer):
    importance = ContributionSerializer(many=True, read_only=True)
    series = serializers.SerializerMethodField()

    class Meta:
        model = AnomalyModel
        fields = ["id", "project", "name", "query", "detector", "sensitivity", "training_days",
                  "step_seconds", "retrain", "enabled", "status", "error", "trained_at",
                  "next_training_at", "training_requested_at", "last_scored_at", "evaluation",
                  "importance", "series", "created_at", "updated_at"]

    def get_series(self, model) -> list[dict]:
        return [{"id": row.pk, "tags": row.tags, "detector": row.detector,
                 "status": row.status, "error": row.error,
                 "trained_points": row.trained_points,
                 "scored_until": row.scored_until.isoformat() if row.scored_until else None,
                 "last_score": row.last_score}
                for row in model.series.all()]


class ModelWriteSerializer(serializers.Serializer):
    """name and query are needed to create; a PATCH gives only what it changes. Left out, a
    setting takes the project's defaults."""

    name = TextField(max_length=100)
    query = TextField(max_length=2000)
    detector = serializers.ChoiceField(choices=DetectorChoice.values, required=False)
    sensitivity = serializers.ChoiceField(choices=Sensitivity.values, required=False)
    training_days = StrictIntegerField(min_value=2, max_value=90, required=False)
    step_seconds = serializers.ChoiceField(choices=STEPS, required=False)
    retrain = serializers.ChoiceField(choices=Retrain.values, required=False)
    enabled = StrictBooleanField(required=False)

    def validate_step_seconds(self, value):
        if isinstance(value, bool) or not isinstance(self.initial_data.get("step_seconds"), int):
            _refuse("step_seconds", "step_seconds must be one of 60, 300, 900, 3600.",
                    "An integer.")
        return int(value)


class AnomalySerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    explanation = ContributionSerializer(many=True, read_only=True)

    class Meta:
        model = Anomaly
        fields = ["id", "project", "model", "model_name", "series", "tags", "started_at",
                  "ended_at", "last_seen_at", "peak_at", "peak_score", "severity", "value",
                  "expected", "lower", "upper", "points", "explanation", "groups", "related",
                  "feedback", "feedback_at", "backfill"]


class FeedbackSerializer(serializers.Serializer):
    feedback = serializers.ChoiceField(choices=[c for c, _ in Anomaly.Feedback.choices],
                                       allow_blank=True,
                                       help_text='"not_anomaly", or "" to take it back.')


class AnomaliesQuery(serializers.Serializer):
    model = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    severity = serializers.ChoiceField(choices=["low", "medium", "high"], required=False)
    start = MomentField(required=False)
    end = MomentField(required=False)
    ordering = serializers.ChoiceField(
        choices=["-started_at", "started_at", "-peak_score", "severity", "model"],
        required=False, default="-started_at")
    include_dismissed = serializers.BooleanField(required=False, default=True)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=200)


class RangeQuery(serializers.Serializer):
    start = MomentField(required=False, help_text="Default: 1 day before the end.")
    end = MomentField(required=False, help_text="Default: now.")

    def validate(self, data):
        end = data.get("end") or timezone.now()
        start = data.get("start") or end - timezone.timedelta(days=1)
        if start >= end:
            _refuse("start", "start must be before end.", "Before end.")
        if (end - start).days > MAX_RANGE_DAYS:
            _refuse("start", f"A range of at most {MAX_RANGE_DAYS} days.",
                    f"At most {MAX_RANGE_DAYS} days.")
        return {"start": start, "end": end}


class CorrelationSerializer(serializers.Serializer):
    queries = serializers.ListField(child=TextField(max_length=2000), required=False,
                                    max_length=25, help_text="The series to correlate.")
    related_to = TextField(max_length=2000, required=False, help_text=(
        "Instead of queries: this series and the 20 most related to it."))
    start = MomentField(required=False)
    end = MomentField(required=False)
    step = StrictIntegerField(min_value=60, max_value=3600, required=False, default=300,
                              help_text="Seconds per bucket: 60, 300, 900 or 3600.")
    method = serializers.ChoiceField(choices=["pearson", "spearman"], default="pearson")
    max_lag = StrictIntegerField(min_value=0, max_value=60, required=False, default=0)
    changes = StrictBooleanField(required=False, default=False)

    def validate_step(self, value):
        if value not in STEP_VALUES:
            _refuse("step", "step must be 60, 300, 900 or 3600.", "60, 300, 900 or 3600.")
        return value

    def validate(self, data):
        if not data.get("queries") and not data.get("related_to"):
            _refuse("queries", "Give queries or related_to.", "Required.")
        end = data.get("end") or timezone.now()
        start = data.get("start") or end - timezone.timedelta(days=1)
        if start >= end:
            _refuse("start", "start must be before end.", "Before end.")
        if (end - start).total_seconds() / int(data["step"]) > 4000:
            _refuse("step", "At most 4,000 buckets: a larger step or a shorter range.",
                    "At most 4,000 buckets.")
        return {**data, "start": start, "end": end, "step": int(data["step"])}


class FailureSerializer(serializers.Serializer):
    """An alert rule's definition (as the alerts API writes it) and the hours ahead."""

    query = TextField(max_length=2000)
    reducer = ReducerField(default="avg")
    window_minutes = StrictIntegerField(min_value=1, max_value=1440, default=5)
    condition = ConditionField(default="gt")
    threshold = serializers.FloatField(min_value=-1e15, max_value=1e15)
    for_seconds = StrictIntegerField(min_value=0, max_value=86400, default=0)
    hours = StrictIntegerField(min_value=1, max_value=72, default=24)

    def validate_threshold(self, value):
        raw = self.initial_data.get("threshold")
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            _refuse("threshold", "threshold must be a number.", "A number.")
        return value
