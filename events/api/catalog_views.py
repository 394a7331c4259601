"""The metric catalogue over the API: one metric's page (its definition, first and last seen,
series, tag keys with value counts and top values), a person's edit of the definition, and
autocompletion for the query editors. The list of metrics is ``query_views.MetricList``.

Thin views: the serializers check the request, ``projects.selectors`` scopes it (404 outside the
caller's projects, 403 below an editor for an edit), ``events.query`` reads and
``events.catalog`` writes.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_site.errors import NotFound, ValidationFailed
from analytics_site.fields import valid, valid_query
from projects.models import APIToken, Role, Scope
from projects.selectors import get_project_for

from .. import catalog as catalog_services
from ..models import MetricDefinition
from ..names import METRIC_NAME, TAG_KEY
from ..query import catalog, suggest
from .query_views import PROJECT

TYPES = [t for t, _ in MetricDefinition.Type.choices]


def _project(request, project_id, *, write: bool = False):
    if project_id in (None, ""):
        raise ValidationFailed("project: this field is required.",
                               details={"project": ["This field is required."]})
    token = request.auth if isinstance(request.auth, APIToken) else None
    return get_project_for(request.user, project_id, token=token,
                           min_role=Role.EDITOR if write else Role.VIEWER,
                           scope=Scope.WRITE if write else Scope.READ)


def _page(project, name: str) -> dict:
    page = catalog.metric_page(project.pk, name) if METRIC_NAME.match(name) else None
    if page is None:
        raise NotFound(f"No metric named {name[:200]!r} in this project.",
                       details={"name": name[:200]})
    return page


class TopValue(serializers.Serializer):
    value = serializers.CharField()
    series = serializers.IntegerField(help_text="Series carrying this value.")


class TagKeyOut(serializers.Serializer):
    key = serializers.CharField()
    values = serializers.IntegerField(help_text="Distinct values over the metric's series.")
    top = TopValue(many=True, help_text="The values carried by the most series (up to 10).")


class MetricPage(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    unit = serializers.CharField(allow_blank=True)
    type = serializers.CharField(allow_blank=True, help_text=", ".join(TYPES) + " or empty.")
    source = serializers.CharField(allow_blank=True, help_text=(
        "The receiver that first described it (otlp, prometheus, statsd); empty otherwise."))
    edited_by = serializers.CharField(allow_null=True)
    edited_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    first_seen = serializers.DateTimeField(allow_null=True, help_text=(
        "When its first series was created."))
    last_seen = serializers.DateTimeField(allow_null=True, help_text=(
        "Its latest point, as of the last rollup fold (seconds behind)."))
    series = serializers.IntegerField()
    tags = TagKeyOut(many=True)


class DefinitionEdit(serializers.ModelSerializer):
    # Text checked against the types rather than a choice field: an enum named "type" would
    # collide with the panels' in the schema.
    type = serializers.CharField(required=False, allow_blank=True, max_length=16, help_text=(
        ", ".join(TYPES) + ", or empty."))

    class Meta:
        model = MetricDefinition
        fields = ["description", "unit", "type"]

    def validate_type(self, value: str) -> str:
        if value and value not in TYPES:
            raise serializers.ValidationError(f"One of {', '.join(TYPES)}, or empty.")
        return value


PAGE_EXAMPLE = {
    "name": "http.latency_ms", "description": "Time to first byte of the API's answers",
    "unit": "ms", "type": "distribution", "source": "otlp", "edited_by": "ann",
    "edited_at": "2026-11-23T12:00:00+00:00", "updated_at": "2026-11-23T12:00:00+00:00",
    "first_seen": "2026-11-01T08:00:00+00:00", "last_seen": "2026-11-23T11:59:50+00:00",
    "series": 12, "tags": [{"key": "host", "values": 12,
                            "top": [{"value": "web-01", "series": 1}]}]}


class MetricDetail(APIView):
    runs_queries = True

    @extend_schema(parameters=[PROJECT], responses=MetricPage, operation_id="metrics_retrieve",
                   examples=[OpenApiExample("A metric", response_only=True,
                                            value=PAGE_EXAMPLE)])
    def get(self, request, name):
        project = _project(request, request.query_params.get("project"))
        return Response(_page(project, name))

    @extend_schema(
        parameters=[PROJECT], request=DefinitionEdit, responses=MetricPage,
        operation_id="metrics_definition_update",
        examples=[OpenApiExample("Describe a metric", request_only=True, value={
            "description": "CPU busy share", "unit": "%", "type": "gauge"}),
                  OpenApiExample("A metric", response_only=True, value=PAGE_EXAMPLE)])
    def patch(self, request, name):
        project = _project(request, request.query_params.get("project"), write=True)
        fields = valid(DefinitionEdit, request.data, partial=True)
        _page(project, name)  # 404 for a metric the project does not have
        if fields:
            catalog_services.edit_definition(project=project, name=name, user=request.user,
                                              **fields)
        return Response(_page(project, name))


class AutocompleteQuery(serializers.Serializer):
    kind = serializers.ChoiceField(choices=suggest.KINDS)
    q = serializers.CharField(required=False, default="", max_length=200,
                              trim_whitespace=False, help_text=(
        "What was typed: matched anywhere in the name, any case; prefix matches first."))
    metric = serializers.CharField(required=False, max_length=200, help_text=(
        "The metric (for kind tag_key and tag_value)."))
    key = serializers.CharField(required=False, max_length=200, help_text=(
        "The tag key (for kind tag_value)."))
    limit = serializers.IntegerField(required=False, default=suggest.DEFAULT_LIMIT, min_value=1,
                                     max_value=suggest.MAX_LIMIT)

    def validate(self, attrs):
        kind = attrs["kind"]
        if kind in ("tag_key", "tag_value") and not attrs.get("metric"):
            raise serializers.ValidationError({"metric": [f"Required for kind {kind}."]})
        if kind == "tag_value" and not attrs.get("key"):
            raise serializers.ValidationError({"key": ["Required for kind tag_value."]})
        return attrs


class Suggestion(serializers.Serializer):
    value = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True)
    unit = serializers.CharField(required=False, allow_blank=True, help_text="Metrics.")
    type = serializers.CharField(required=False, allow_blank=True, help_text="Metrics.")
    values = serializers.IntegerField(required=False, help_text="Tag keys: distinct values.")
    series = serializers.IntegerField(required=False, help_text="Tag values: series.")
    kind = serializers.CharField(required=False, help_text="Functions: function or aggregation.")
    signature = serializers.CharField(required=False, help_text="Functions.")
    args = serializers.ListField(child=serializers.CharField(), required=False, help_text=(
        "Functions: the kinds of the arguments after the series (count, agg, duration, number, "
        "fill)."))
    choices = serializers.ListField(child=serializers.CharField(), required=False, help_text=(
        "Functions: the words an agg or fill argument takes."))


class Suggestions(serializers.Serializer):
    results = Suggestion(many=True)


class Autocomplete(APIView):
    runs_queries = True

    @extend_schema(
        parameters=[PROJECT, AutocompleteQuery], responses=Suggestions,
        operation_id="query_autocomplete",
        examples=[OpenApiExample("Metrics", response_only=True, value={"results": [
            {"value": "http.latency_ms", "description": "Time to first byte", "unit": "ms",
             "type": "distribution"}]})])
    def get(self, request):
        given = valid_query(AutocompleteQuery, request)
        project = _project(request, request.query_params.get("project"))
        metric, key = given.get("metric", ""), given.get("key", "")
        if (metric and not METRIC_NAME.match(metric)) or (key and not TAG_KEY.match(key)):
            return Response({"results": []})  # no such metric or key: nothing to suggest
        return Response({"results": suggest.suggest(
            project.pk, kind=given["kind"], text=given["q"], metric=metric, key=key,
            limit=given["limit"])})
