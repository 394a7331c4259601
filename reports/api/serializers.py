"""JSON in and out for reports, blocks, schedules, recipients and runs.

The write serializers hold every rule about a body's shape and values — types, lengths,
choices, options per block kind, text and JSON PostgreSQL can hold, times in UTC — and give
``reports.services`` typed values; what needs the database or the engine (a query that parses,
the block limit, an order naming each block once, channels of the project) is the services'.
A rule about one part of a value is reported under its path: ``options.type``,
``variables[0].name``."""

from __future__ import annotations

import math
import re
import zoneinfo
from datetime import UTC, datetime
from datetime import time as dt_time

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics_site.fields import JSONValueField, UTCDateTimeField
from events.query import METRIC_NAME, QUERY_KEY, parse_duration, parse_time

from .. import links, rendering, scheduling, selectors
from ..models import (
    Block,
    BlockKind,
    Delivery,
    Format,
    RangeKind,
    Recipient,
    Report,
    Run,
    RunFile,
    Schedule,
    ScheduleKind,
)
from ..services import MAX_BLOCKS

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")
MAX_VARIABLES = 10
MAX_VALUES = 100
OPTION_KEYS = {
    "chart": {"type", "step"},
    "table": {"mode", "calculation", "step"},
    "kpi": {"calculation", "unit", "metric", "step"},
    "text": {"markdown"},
    "product": {"report", "limit"},
}


def _invalid(path: str, *messages: str) -> serializers.ValidationError:
    return serializers.ValidationError({path: list(messages)})


def _refuse_unknown(data, known) -> None:
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})


class StrictCharField(serializers.CharField):
    """Text sent as text: a number is not a title or a query."""

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def _timezones() -> set[str]:
    return zoneinfo.available_timezones()


class TimeZoneField(StrictCharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=64, allow_blank=True, **kwargs)

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        if value and value not in _timezones():
            raise serializers.ValidationError("An IANA time zone, e.g. Europe/Paris.")
        return value


def _moment(value, field: str) -> datetime:
    if isinstance(value, str) and value.strip().startswith("now"):
        return parse_time(value.strip(), field, datetime.now(UTC))
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError("not a time")


class MomentField(UTCDateTimeField):
    def __init__(self, **kwargs):
        super().__init__(parse=lambda value: _moment(value, self.field_name),
                         forms="ISO 8601 or relative like now-7d", **kwargs)


# -- block options --------------------------------------------------------------------------------
def _step(value, path: str) -> str:
    if value in ("auto", None):
        return "auto"
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _invalid(path, "auto, or a duration like 1m, 1h, 1d.")
    parse_duration(value, path)  # INVALID_RANGE naming the field otherwise
    return str(value)


def block_options(kind: str, value) -> dict:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise _invalid("options", "An object.")
    unknown = sorted(set(value) - OPTION_KEYS.get(kind, set()))
    if unknown:
        raise serializers.ValidationError({f"options.{k}": [f"Not an option of a {kind} block."]
                                           for k in unknown})
    options: dict = {}
    if "step" in value:
        options["step"] = _step(value["step"], "options.step")
    if kind == "chart":
        chart = value.get("type", "line")
        if chart not in rendering.CHART_TYPES:
            raise _invalid("options.type", *rendering.CHART_TYPES)
        options["type"] = chart
    if kind == "table":
        mode = value.get("mode", "series")
        if mode not in rendering.TABLE_MODES:
            raise _invalid("options.mode", *rendering.TABLE_MODES)
        options["mode"] = mode
    if kind in ("table", "kpi") and "calculation" in value:
        if value["calculation"] not in rendering.KPI_CALCULATIONS:
            raise _invalid("options.calculation", *rendering.KPI_CALCULATIONS)
        options["calculation"] = value["calculation"]
    if kind == "kpi":
        if "unit" in value:
            if not isinstance(value["unit"], str) or len(value["unit"]) > 20 \
                    or "\x00" in value["unit"]:
                raise _invalid("options.unit", "Text of at most 20 characters.")
            options["unit"] = value["unit"].strip()
        if value.get("metric") is not None:
            if value["metric"] not in rendering.OVERVIEW_METRICS:
                raise _invalid("options.metric", *rendering.OVERVIEW_METRICS)
            options["metric"] = value["metric"]
    if kind == "text":
        text = value.get("markdown", "")
        if not isinstance(text, str) or len(text) > 20_000:
            raise _invalid("options.markdown", "Markdown text of at most 20,000 characters.")
        options["markdown"] = text
    if kind == "product":
        if value.get("report") not in rendering.PRODUCT_REPORTS:
            raise _invalid("options.report", *rendering.PRODUCT_REPORTS)
        options["report"] = value["report"]
        limit = value.get("limit", rendering.PRODUCT_LIMIT)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
            raise _invalid("options.limit", "An integer from 1 to 100.")
        options["limit"] = limit
    return options


def report_variables(value) -> list[dict]:
    if not isinstance(value, list) or len(value) > MAX_VARIABLES:
        raise _invalid("variables", f"Up to {MAX_VARIABLES} {{name, metric, tag, values}}.")
    clean: list[dict] = []
    for i, item in enumerate(value):
        path = f"variables[{i}]"
        if not isinstance(item, dict) or set(item) - {"name", "metric", "tag", "values"}:
            raise _invalid(path, "{name, metric, tag, values}")
        name, metric, tag = item.get("name"), item.get("metric"), item.get("tag")
        values = item.get("values") or []
        if not isinstance(name, str) or not _NAME.match(name) \
                or any(v["name"] == name for v in clean):
            raise _invalid(f"{path}.name", "Letters, digits and _, unique.")
        if not isinstance(metric, str) or not METRIC_NAME.match(metric):
            raise _invalid(f"{path}.metric", "A metric name.")
        if not isinstance(tag, str) or not QUERY_KEY.match(tag):
            raise _invalid(f"{path}.tag", "A tag key.")
        if not isinstance(values, list) or len(values) > MAX_VALUES or not all(
                isinstance(v, str) and 0 < len(v) <= 200 for v in values):
            raise _invalid(f"{path}.values", f"Up to {MAX_VALUES} values (none: all).")
        clean.append({"name": name, "metric": metric, "tag": tag, "values": sorted(set(values))})
    return clean


# -- out ------------------------------------------------------------------------------------------
class BlockSerializer(serializers.ModelSerializer):
    class Meta:
        model = Block
        fields = ["id", "position", "kind", "title", "query", "options"]
        read_only_fields = fields


class ScheduleSerializer(serializers.ModelSerializer):
    time = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    next_run_at = serializers.SerializerMethodField()

    class Meta:
        model = Schedule
        fields = ["kind", "time", "weekday", "day_of_month", "cron", "enabled", "description",
                  "next_run_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(help_text=(
        "Local time of day in the report's time zone, HH:MM (no offset: JSON Schema's "
        '"time" format would need one).')))
    def get_time(self, obj: Schedule) -> str:
        at = obj.time if isinstance(obj.time, dt_time) else dt_time.fromisoformat(obj.time)
        return f"{at:%H:%M}"

    def get_description(self, obj: Schedule) -> str:
        return scheduling.describe(obj)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_run_at(self, obj: Schedule) -> str | None:
        moment = selectors.next_run_of(obj.report, timezone.now())
        return moment.isoformat() if moment else None


class RecipientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Recipient
        fields = ["id", "email", "formats", "min_change_percent", "condition_block",
                  "created_at"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "target", "channel", "attempt", "at", "ok", "skipped", "code", "error",
                  "duration_ms"]
        read_only_fields = fields


class RunFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunFile
        fields = ["id", "name", "format", "content_type", "size", "inline"]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    files = RunFileSerializer(many=True, read_only=True)
    deliveries = DeliverySerializer(many=True, read_only=True)
    link = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = ["id", "report", "trigger", "scheduled_for", "status", "created_at",
                  "started_at", "finished_at", "duration_ms", "range_start", "range_end",
                  "timezone", "recipients", "attempts", "next_attempt_at", "error", "files",
                  "deliveries", "link"]
        read_only_fields = fields

    def get_link(self, obj: Run) -> str:
        """The signed link of the run's page and files (no login; this run only)."""
        return links.url_of(obj)


class RunSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Run
        fields = ["id", "trigger", "scheduled_for", "status", "created_at", "finished_at",
                  "duration_ms", "attempts", "error"]
        read_only_fields = fields


class ReportSerializer(serializers.ModelSerializer):
    blocks = BlockSerializer(many=True, read_only=True)
    recipients = RecipientSerializer(many=True, read_only=True)
    schedule = serializers.SerializerMethodField()
    effective_timezone = serializers.CharField(source="zone", read_only=True)
    channels = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Report
        fields = ["id", "project", "title", "description", "timezone", "effective_timezone",
                  "range", "custom_start", "custom_end", "compare", "variables", "channels",
                  "blocks", "recipients", "schedule", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(ScheduleSerializer(allow_null=True))
    def get_schedule(self, obj: Report):
        schedule = selectors.schedule_of(obj)
        return ScheduleSerializer(schedule).data if schedule else None


# -- in -------------------------------------------------------------------------------------------
class BlockWriteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=BlockKind.choices)
    title = StrictCharField(max_length=200, required=False, allow_blank=True)
    query = StrictCharField(max_length=2000, required=False, allow_blank=True)
    options = JSONValueField(required=False, allow_null=True)

    def to_internal_value(self, data) -> dict:
        values = super().to_internal_value(data)
        values["options"] = block_options(values["kind"], values.get("options"))
        return values


class BlockUpdateSerializer(serializers.Serializer):
    title = StrictCharField(max_length=200, required=False, allow_blank=True)
    query = StrictCharField(max_length=2000, required=False, allow_blank=True)
    options = JSONValueField(required=False, allow_null=True)

    def to_internal_value(self, data) -> dict:
        values = super().to_internal_value(data)
        _refuse_unknown(data, self.fields)
        if "options" in values:
            values["options"] = block_options(self.context["kind"], values["options"])
        return values


class ReportWriteSerializer(serializers.Serializer):
    title = StrictCharField(max_length=200)
    description = StrictCharField(max_length=1000, required=False, allow_blank=True)
    timezone = TimeZoneField(required=False)
    range = serializers.ChoiceField(choices=RangeKind.choices, required=False)
    custom_start = MomentField(required=False, allow_null=True)
    custom_end = MomentField(required=False, allow_null=True)
    compare = serializers.BooleanField(required=False)
    variables = JSONValueField(required=False, help_text=(
        '[{"name": "host", "metric": "cpu", "tag": "host", "values": ["web-1"]}]'))
    channels = serializers.ListField(child=serializers.IntegerField(min_value=1,
                                                                    max_value=2**62),
                                     required=False, max_length=20)
    blocks = BlockWriteSerializer(many=True, required=False, max_length=MAX_BLOCKS)

    def to_internal_value(self, data) -> dict:
        values = super().to_internal_value(data)
        if self.partial:
            _refuse_unknown(data, set(self.fields) - {"blocks"})
        if "variables" in values:
            values["variables"] = report_variables(values["variables"])
        return values


class DashboardCopySerializer(serializers.Serializer):
    """A dashboard's export (``GET /api/v1/dashboards/{id}/export/``): what "Make a report"
    sends."""

    version = serializers.IntegerField(required=False)
    name = StrictCharField(max_length=200)
    description = StrictCharField(max_length=1000, required=False, allow_blank=True)
    variables = JSONValueField(required=False)
    panels = JSONValueField(required=False)

    def validate(self, attrs: dict) -> dict:
        attrs.pop("version", None)
        variables = attrs.get("variables") or []
        if not isinstance(variables, list):
            raise _invalid("variables", "A list.")
        attrs["variables"] = report_variables([{k: v for k, v in item.items()
                                                if k in ("name", "metric", "tag")}
                                               if isinstance(item, dict) else item
                                               for item in variables])
        panels = attrs.get("panels") or []
        if not isinstance(panels, list) or len(panels) > MAX_BLOCKS:
            raise _invalid("panels", f"A list of at most {MAX_BLOCKS} panels.")
        clean = []
        for i, panel in enumerate(panels):
            if not isinstance(panel, dict) or not isinstance(panel.get("query"), str) \
                    or not isinstance(panel.get("title", ""), str) \
                    or len(panel["query"]) > 2000 or len(panel.get("title", "")) > 200:
                raise _invalid(f"panels[{i}]", "{title, type, query, options, x, y}")
            box = {k: panel.get(k, 0) for k in ("x", "y")}
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in box.values()):
                raise _invalid(f"panels[{i}]", "x and y are integers.")
            options = panel.get("options") or {}
            clean.append({"title": panel.get("title", ""), "query": panel["query"],
                          "type": str(panel.get("type", "line")), **box,
                          "options": options if isinstance(options, dict) else {}})
        attrs["panels"] = clean
        return attrs


class OrderSerializer(serializers.Serializer):
    order = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**62),
                                  max_length=MAX_BLOCKS)


class ScheduleWriteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ScheduleKind.choices)
    time = serializers.TimeField(required=False, default=dt_time(9, 0))
    weekday = serializers.IntegerField(min_value=0, max_value=6, required=False, default=0)
    day_of_month = serializers.IntegerField(min_value=1, max_value=28, required=False,
                                            default=1)
    cron = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
    enabled = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs: dict) -> dict:
        if attrs["kind"] == ScheduleKind.CRON and not attrs["cron"].strip():
            raise _invalid("cron", "A cron expression: minute hour day month weekday.")
        attrs["cron"] = " ".join(attrs["cron"].split())
        return attrs


class FormatsField(serializers.ListField):
    child = serializers.ChoiceField(choices=Format.choices)

    def to_internal_value(self, data) -> list[str]:
        values = super().to_internal_value(data)
        return [f for f in ("csv", "xlsx", "pdf", "json") if f in values]


class RecipientWriteSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    formats = FormatsField(required=False, default=["pdf"], max_length=4)
    min_change_percent = serializers.FloatField(required=False, allow_null=True, min_value=0,
                                                max_value=1e6)
    condition_block = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                               max_value=2**62)

    def validate_min_change_percent(self, value):
        if value is not None and not math.isfinite(value):
            raise serializers.ValidationError("A finite number.")
        return value


class RecipientUpdateSerializer(serializers.Serializer):
    formats = FormatsField(required=False, max_length=4)
    min_change_percent = serializers.FloatField(required=False, allow_null=True, min_value=0,
                                                max_value=1e6)
    condition_block = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                               max_value=2**62)

    def to_internal_value(self, data) -> dict:
        values = super().to_internal_value(data)
        _refuse_unknown(data, self.fields)
        return values


class RangeQuery(serializers.Serializer):
    start = MomentField(required=False, help_text="Instead of the report's range: from.")
    end = MomentField(required=False, help_text="… to (both or neither).")

    def validate(self, attrs: dict) -> dict:
        if ("start" in attrs) != ("end" in attrs):
            raise _invalid("end", "Give start and end together.")
        if "start" in attrs and attrs["end"] <= attrs["start"]:
            raise _invalid("end", "After start.")
        if "start" in attrs and (attrs["end"] - attrs["start"]).days > 400:
            raise _invalid("start", "A range is at most 400 days.")
        return attrs
