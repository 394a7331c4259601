from rest_framework import serializers

from ..models import Annotation, Dashboard, Panel, PanelType


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
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    variables = serializers.JSONField(required=False, help_text=(
        '[{"name": "host", "metric": "http.latency_ms", "tag": "host"}]'))


class PanelWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=PanelType.choices, default=PanelType.LINE)
    query = serializers.CharField(max_length=2000)
    options = serializers.JSONField(required=False)
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


class AnnotationWriteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=500)
    at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    dashboard = serializers.IntegerField(required=False, allow_null=True,
                                         help_text="Only on this dashboard; empty: on all.")
