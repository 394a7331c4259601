"""JSON in and out for dashboards, panels and annotations.

The write serializers hold every rule about the shape and values of a body — types, lengths,
choices, text and JSON PostgreSQL can hold, times in UTC, the form of panel options and of
variables — and give ``dashboards.services`` typed values (``PanelOptions``, ``Variable``,
``LayoutItem``, ``PanelDraft``). What needs the database or the query engine (the grid, overlaps,
the panel limit, a query that parses) is the services' to check.

A rule about one part of a JSON value is reported under that part's path, as the API always has:
``options.color``, ``options.thresholds[0]``, ``variables[1].name``, ``layout[0]``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rest_framework import serializers

from analytics_site.errors import ValidationFailed
from analytics_site.fields import JSONValueField, UTCDateTimeField
from events.query import METRIC_NAME, QUERY_KEY, parse_time

from ..compare import COMPARE, OVERLAID_TYPES, is_on
from ..models import GRID_COLUMNS, MAX_PANEL_HEIGHT, Annotation, Dashboard, Panel, PanelType
from ..services import (
    CALCULATIONS,
    EXPORT_VERSION,
    LayoutItem,
    PanelOptions,
    Threshold,
    Variable,
)

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")
OPTION_KEYS = ("unit", "color", "legend", "thresholds", "min", "max", "calculation",
               "anomaly_band", "compare")
MAX_THRESHOLDS = 10
MAX_VARIABLES = 10
BOX = ("x", "y", "w", "h")
INTEGERS = "x, y, w and h are integers."


def _invalid(path: str, *messages: str) -> serializers.ValidationError:
    return serializers.ValidationError({path: list(messages)})


def _is_integer(value) -> bool:
    """A JSON integer: not ``"3"`` or ``3.0``, which DRF's IntegerField would take."""
    return isinstance(value, int) and not isinstance(value, bool)


def _refuse_unknown(data: dict, known) -> None:
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})


class StrictCharField(serializers.CharField):
    """Text that was sent as text: a number is not a name or a query."""

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# -- panel options --------------------------------------------------------------------------------
def _number(value, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(path, "Must be a number.")
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float (JSONValueField refuses infinity)
        raise _invalid(path, "Must be a number.") from None


def _thresholds(steps) -> list[Threshold]:
    if not isinstance(steps, list) or len(steps) > MAX_THRESHOLDS:
        raise _invalid("options.thresholds", f"Up to {MAX_THRESHOLDS} {{value, color}}.")
    clean: list[Threshold] = []
    for i, step in enumerate(steps):
        path = f"options.thresholds[{i}]"
        if not isinstance(step, dict) or not isinstance(step.get("color"), str) \
                or not _COLOR.match(step["color"]):
            raise _invalid(path, "{value, color}")
        clean.append({"value": _number(step.get("value"), path), "color": step["color"]})
    return sorted(clean, key=lambda step: step["value"])


def panel_options(value) -> PanelOptions:
    """unit, color, legend, thresholds [{value, color}], min, max, calculation, anomaly_band
    (line and area panels: the band and anomalies of the project's model of the same query),
    compare (line, area and bar panels: none, previous_period, 1d or 1w — the same query that
    much earlier, drawn over it); null is none."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid("options", "Object.")
    unknown = sorted(set(value) - set(OPTION_KEYS))
    if unknown:
        raise serializers.ValidationError({f"options.{key}": ["Unknown option."]
                                           for key in unknown})
    options: PanelOptions = {}
    if "unit" in value:
        unit = value["unit"].strip() if isinstance(value["unit"], str) else ""
        if not unit:
            raise _invalid("options.unit", "This field may not be blank.")
        if len(unit) > 20:
            raise _invalid("options.unit", "At most 20 characters.")
        options["unit"] = unit
    if "color" in value:
        if not isinstance(value["color"], str) or not _COLOR.match(value["color"]):
            raise _invalid("options.color", "A colour like #4c6ef5.")
        options["color"] = value["color"]
    if "legend" in value:
        if not isinstance(value["legend"], bool):
            raise _invalid("options.legend", "true or false.")
        options["legend"] = value["legend"]
    if "anomaly_band" in value:
        if not isinstance(value["anomaly_band"], bool):
            raise _invalid("options.anomaly_band", "true or false.")
        options["anomaly_band"] = value["anomaly_band"]
    if "compare" in value:
        if value["compare"] not in COMPARE:
            raise _invalid("options.compare", *COMPARE)
        options["compare"] = value["compare"]
    for bound in ("min", "max"):
        if value.get(bound) is not None:
            options[bound] = _number(value[bound], f"options.{bound}")
    if "calculation" in value:
        if value["calculation"] not in CALCULATIONS:
            raise _invalid("options.calculation", *CALCULATIONS)
        options["calculation"] = value["calculation"]
    if "thresholds" in value:
        options["thresholds"] = _thresholds(value["thresholds"])
    return options


# -- variables ------------------------------------------------------------------------------------
def dashboard_variables(value) -> list[Variable]:
    """[{"name": "host", "metric": "http.latency_ms", "tag": "host"}, ...], names unique."""
    if not isinstance(value, list) or len(value) > MAX_VARIABLES:
        raise _invalid("variables", f"Up to {MAX_VARIABLES} {{name, metric, tag}}.")
    clean: list[Variable] = []
    for i, item in enumerate(value):
        path = f"variables[{i}]"
        if not isinstance(item, dict) or set(item) - {"name", "metric", "tag"}:
            raise _invalid(path, "{name, metric, tag}")
        name, metric, tag = item.get("name"), item.get("metric"), item.get("tag")
        if not isinstance(name, str) or not _VARIABLE.match(name) \
                or any(v["name"] == name for v in clean):
            raise _invalid(f"{path}.name", "Letters, digits and _, unique.")
        if not isinstance(metric, str) or not METRIC_NAME.match(metric):
            raise _invalid(f"{path}.metric", "A metric name.")
        if not isinstance(tag, str) or not QUERY_KEY.match(tag):
            raise _invalid(f"{path}.tag", "A tag key.")
        clean.append({"name": name, "metric": metric, "tag": tag})
    return clean


# -- times ----------------------------------------------------------------------------------------
def _moment(value, field: str) -> datetime:
    """ISO 8601, or relative to now like the query ranges (now-6h). ``UTCDateTimeField`` then
    converts it to UTC: PostgreSQL refuses offsets beyond ±15:59 that Python parses. A time it
    cannot read is the API's ValidationFailed, which the field lets out as it is."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("now"):
            return parse_time(text, field, datetime.now(UTC))
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValidationFailed(f"{field}: an ISO 8601 time.", details={field: ["ISO 8601 time."]})


class MomentField(UTCDateTimeField):
    def __init__(self, **kwargs):
        super().__init__(parse=lambda value: _moment(value, self.field_name),
                         forms="ISO 8601 or relative like now-6h", **kwargs)


# -- out ------------------------------------------------------------------------------------------
class PanelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Panel
        fields = ["id", "title", "type", "query", "options", "x", "y", "w", "h", "updated_at"]
        read_only_fields = fields


class DashboardSerializer(serializers.ModelSerializer):
    panels = PanelSerializer(many=True, read_only=True)

    class Meta:
        model = Dashboard
        fields = ["id", "project", "name", "description", "variables", "panels", "created_at",
                  "updated_at"]
        read_only_fields = fields


class AnnotationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Annotation
        fields = ["id", "dashboard", "at", "ends_at", "text", "created_at"]
        read_only_fields = fields


# -- in -------------------------------------------------------------------------------------------
# Validated data: create_dashboard's arguments, or (partial) update_dashboard's. A partial update
# refuses fields it does not know, so a misspelt one is not silently dropped.
class DashboardWriteSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                        allow_null=True)
    variables = JSONValueField(required=False, help_text=(
        '[{"name": "host", "metric": "http.latency_ms", "tag": "host"}]'))

    def validate_description(self, value: str | None) -> str:
        return value or ""

    def validate(self, attrs: dict) -> dict:
        if self.partial:
            _refuse_unknown(self.initial_data, self.fields)
        if "variables" in attrs:
            attrs["variables"] = dashboard_variables(attrs["variables"])
        return attrs


# Validated data: create_panel's arguments (a PanelDraft), or (partial) update_panel's: title,
# type, query and options only, since a panel moves with the layout.
class PanelWriteSerializer(serializers.Serializer):
    title = StrictCharField(max_length=100)
    type = serializers.ChoiceField(choices=PanelType.choices, default=PanelType.LINE)
    query = StrictCharField(max_length=2000)
    options = JSONValueField(required=False, allow_null=True)
    x = serializers.IntegerField(required=False, min_value=0)
    y = serializers.IntegerField(required=False, min_value=0)
    w = serializers.IntegerField(required=False, min_value=1, max_value=GRID_COLUMNS)
    h = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PANEL_HEIGHT)

    def to_internal_value(self, data) -> dict:
        values = super().to_internal_value(data)
        if self.partial:
            _refuse_unknown(data, ("title", "type", "query", "options"))
        if not all(_is_integer(data[key]) for key in BOX if key in data):
            raise _invalid("position", INTEGERS)
        if "options" in values:
            values["options"] = panel_options(values["options"])
            # Without a type (a PATCH), update_panel checks against the panel's own.
            if (values["options"].get("anomaly_band") and "type" in values
                    and values["type"] not in (PanelType.LINE, PanelType.AREA)):
                raise _invalid("options.anomaly_band", "Line and area panels only.")
            if (is_on(values["options"].get("compare")) and "type" in values
                    and values["type"] not in OVERLAID_TYPES):
                raise _invalid("options.compare", "Line, area and bar panels only.")
        return values


class LayoutSerializer(serializers.ListSerializer):
    # A whole layout: save_layout's items, each checked here so that a bad one is named by its
    # place. An id that is not an integer names no panel; save_layout answers it with the ids
    # it expects.

    def validate_empty_values(self, data):
        return False, data  # null is no layout either: to_internal_value says what one is

    def to_internal_value(self, data) -> list[LayoutItem]:
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise _invalid("layout", "A list of {id, x, y, w, h}.")
        items: list[LayoutItem] = []
        for i, item in enumerate(data):
            if not all(_is_integer(item.get(key)) for key in BOX):
                raise _invalid(f"layout[{i}]", INTEGERS)
            panel_id = item.get("id")
            items.append({"id": panel_id if _is_integer(panel_id) else None,
                          "x": item["x"], "y": item["y"], "w": item["w"], "h": item["h"]})
        return items


class LayoutItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    x = serializers.IntegerField()
    y = serializers.IntegerField()
    w = serializers.IntegerField()
    h = serializers.IntegerField()

    class Meta:
        list_serializer_class = LayoutSerializer


# Validated data: import_dashboard's arguments. Each panel is checked as PanelWriteSerializer
# checks one, so a bad panel is named by its place in "panels".
class DashboardExportSerializer(serializers.Serializer):
    """A dashboard as JSON: what export gives and import takes back."""

    version = serializers.ChoiceField(choices=[EXPORT_VERSION])
    name = StrictCharField(max_length=100)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    variables = JSONValueField(required=False)
    panels = PanelWriteSerializer(many=True, required=False)

    def validate(self, attrs: dict) -> dict:
        attrs.pop("version")
        if "variables" in attrs:
            attrs["variables"] = dashboard_variables(attrs["variables"])
        return attrs


class AnnotationWriteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=500)
    at = MomentField()
    ends_at = MomentField(required=False, allow_null=True)
    dashboard = serializers.IntegerField(required=False, allow_null=True,
                                         help_text="Only on this dashboard; empty: on all.")

    def validate(self, attrs: dict) -> dict:
        if attrs.get("ends_at") is not None and attrs["ends_at"] < attrs["at"]:
            raise _invalid("ends_at", "Not before at.")
        return attrs


class AnnotationsQuery(serializers.Serializer):
    start = MomentField(required=False)
    end = MomentField(required=False)
    dashboard = serializers.IntegerField(required=False, help_text=(
        "Only the marks on this dashboard and those on every dashboard."))
