"""JSON in and out for dashboards, panels and annotations. The write serializers check the shape
of a body (types, text PostgreSQL can hold, times in UTC); dashboards.services its meaning."""

from rest_framework import serializers

from analytics_site.fields import JSONValueField, UTCDateTimeField

from .. import services
from ..models import Annotation, Dashboard, Panel, PanelType


class MomentField(UTCDateTimeField):
    def __init__(self, **kwargs):
        super().__init__(parse=lambda value: services.parse_moment(value, self.field_name),
                         forms="ISO 8601 or relative like now-6h", **kwargs)


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


class DashboardWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                        allow_null=True)
    variables = JSONValueField(required=False, help_text=(
        '[{"name": "host", "metric": "http.latency_ms", "tag": "host"}]'))


class PanelWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=PanelType.choices, default=PanelType.LINE)
    query = serializers.CharField(max_length=2000)
    options = JSONValueField(required=False, allow_null=True)
    x = serializers.IntegerField(required=False, min_value=0)
    y = serializers.IntegerField(required=False, min_value=0)
    w = serializers.IntegerField(required=False, min_value=1, max_value=12)
    h = serializers.IntegerField(required=False, min_value=1, max_value=24)


class LayoutItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    x = serializers.IntegerField()
    y = serializers.IntegerField()
    w = serializers.IntegerField()
    h = serializers.IntegerField()


class AnnotationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Annotation
        fields = ["id", "dashboard", "at", "ends_at", "text", "created_at"]
        read_only_fields = fields


class DashboardExportSerializer(serializers.Serializer):
    """A dashboard as JSON: what export gives and import takes back."""

    version = serializers.ChoiceField(choices=[services.EXPORT_VERSION])
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    variables = JSONValueField(required=False)
    panels = PanelWriteSerializer(many=True, required=False)


class AnnotationWriteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=500)
    at = MomentField()
    ends_at = MomentField(required=False, allow_null=True)
    dashboard = serializers.IntegerField(required=False, allow_null=True,
                                         help_text="Only on this dashboard; empty: on all.")


class AnnotationsQuery(serializers.Serializer):
    start = MomentField(required=False)
    end = MomentField(required=False)
    dashboard = serializers.IntegerField(required=False, help_text=(
        "Only the marks on this dashboard and those on every dashboard."))
