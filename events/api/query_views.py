"""The read API over ``events.query``: queries, the metric catalogue and live windows.

Thin DRF views: check the shape of the request (its serializer: types, text PostgreSQL can
hold), find the project the caller may read (404 outside their projects, 403 for a token without
the read scope), hand the request to the engine, return its answer.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_site.errors import NotFound, ValidationFailed
from analytics_site.fields import (
    JSONValueField,
    UTCDateTimeField,
    refuse_unstorable,
    valid,
    valid_query,
)
from projects.models import APIToken, Scope
from projects.selectors import get_project_for

from .. import query as engine
from ..query import catalog
from ..query.timerange import parse_time


def _project(request, project_id):
    if project_id in (None, ""):
        raise ValidationFailed("project: this field is required.",
                               details={"project": ["This field is required."]})
    token = request.auth if isinstance(request.auth, APIToken) else None
    return get_project_for(request.user, project_id, token=token, scope=Scope.READ)


PROJECT = OpenApiParameter("project", int, required=True, description="Project id.")


class Moment(UTCDateTimeField):
    """A time as the engine reads one, checked to be inside the calendar."""

    def __init__(self, **kwargs):
        super().__init__(parse=lambda value: parse_time(value, self.field_name, timezone.now()),
                         forms="ISO 8601, epoch seconds or ms, or relative like now-24h", **kwargs)


class QueryForm(serializers.Serializer):
    """What is asked: one query, or named queries with an optional formula over them."""

    project = serializers.IntegerField()
    query = JSONValueField(required=False, allow_null=True, help_text=(
        "A query in the text form (`avg:http.latency_ms{env:prod} by {host}`) or the JSON form."))
    queries = serializers.DictField(child=JSONValueField(), required=False, allow_null=True,
                                    validators=[refuse_unstorable],
                                    help_text="Named queries (text or JSON form).")
    formula = serializers.CharField(required=False, allow_null=True,
                                    help_text="Over the names: `a / b * 100`.")


class QueryRequest(QueryForm):
    start = Moment(required=False, allow_null=True,
                   help_text="ISO 8601, epoch s/ms or now-24h; default now-1h.")
    end = Moment(required=False, allow_null=True, help_text="ISO 8601, epoch s/ms or now; "
                                                            "default now.")
    step = JSONValueField(required=False, allow_null=True, help_text=(
        "Seconds or 1m, 1h, 1d; default about 300 points."))
    fill = serializers.ChoiceField(choices=engine.FILLS, default="null", allow_null=True)
    variables = serializers.DictField(required=False, allow_null=True,
                                      validators=[refuse_unstorable], help_text=(
        'Values for $name in filters: {"host": ["web-01", "web-02"]}; null or [] for all.'))


class QueryForms(serializers.Serializer):
    text = serializers.CharField(help_text="The canonical text form.")
    json = serializers.JSONField(help_text="The JSON form.")


class QueryParseResponse(serializers.Serializer):
    text = serializers.CharField(required=False, help_text="For query: the canonical text.")
    json = serializers.JSONField(required=False, help_text="For query: the JSON form.")
    queries = serializers.DictField(child=QueryForms(), required=False,
                                    help_text="For queries: each name's forms.")
    formula = QueryForms(required=False, allow_null=True, help_text=(
        "For queries with a formula: the formula with the names written out."))


class MetricsQuery(serializers.Serializer):
    search = serializers.CharField(required=False, trim_whitespace=False,
                                   help_text="Part of the name or the description, any case.")
    limit = serializers.IntegerField(required=False, default=100, min_value=1, max_value=1000)


class MetricItem(serializers.Serializer):
    name = serializers.CharField()
    series = serializers.IntegerField()
    description = serializers.CharField(allow_blank=True)
    unit = serializers.CharField(allow_blank=True)
    type = serializers.CharField(allow_blank=True)
    source = serializers.CharField(allow_blank=True)


class MetricListResponse(serializers.Serializer):
    results = MetricItem(many=True)


class MetricPath(serializers.Serializer):
    name = serializers.CharField(trim_whitespace=False)


class SeriesOut(serializers.Serializer):
    name = serializers.CharField()
    tags = serializers.DictField(child=serializers.CharField(allow_null=True))
    points = serializers.ListField(child=serializers.ListField(),
                                   help_text="[[epoch_ms, value or null], ...]")
    other = serializers.BooleanField(required=False)
    unit = serializers.CharField(allow_blank=True, help_text=(
        "The unit of the values, from the metric catalogue through the query: ms, bytes/s, "
        "requests…; empty when they have none (counts, events, ratios)."))


class QueryMeta(serializers.Serializer):
    table = serializers.CharField(help_text="raw, rollup_1m, rollup_1h or mixed")
    tables = serializers.ListField(child=serializers.CharField())
    resolution = serializers.IntegerField(help_text="Step in seconds.")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    cached = serializers.BooleanField()
    took_ms = serializers.FloatField()
    series = serializers.IntegerField()
    notes = serializers.ListField(child=serializers.CharField())


class QueryResponse(serializers.Serializer):
    data = SeriesOut(many=True)
    meta = QueryMeta()


class QueryView(APIView):
    runs_queries = True

    @extend_schema(
        request=QueryRequest, responses=QueryResponse, operation_id="query",
        examples=[
            OpenApiExample("One query", request_only=True, value={
                "project": 1, "query": "p95:http.latency_ms{env:prod} by {host}",
                "start": "now-24h", "end": "now"}),
            OpenApiExample("A formula over named queries", request_only=True, value={
                "project": 1, "queries": {"errors": "sum:errors{}",
                                          "requests": "count:events{event:request}"},
                "formula": "errors / requests * 100", "start": "now-7d", "step": "1h"}),
            OpenApiExample("Answer", response_only=True, value={
                "data": [{"name": "p95:http.latency_ms{env:prod} by {host}",
                          "tags": {"host": "web-01"},
                          "points": [[1763856000000, 182.4], [1763856300000, None]],
                          "unit": "ms"}],
                "meta": {"table": "rollup_1m", "tables": ["rollup_1m"], "resolution": 300,
                         "start": "2026-11-22T12:00:00+00:00",
                         "end": "2026-11-23T12:05:00+00:00", "cached": False,
                         "took_ms": 12.7, "series": 1, "notes": []}}),
        ])
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        valid(QueryRequest, body)
        project = _project(request, body.get("project"))
        return Response(engine.execute(
            project, query=body.get("query"), queries=body.get("queries"),
            formula=body.get("formula"), start=body.get("start"), end=body.get("end"),
            step=body.get("step"), fill=body.get("fill") or "null",
            variables=body.get("variables"), as_json=True))


class QueryParseView(APIView):
    """A query in either form, read back in both: the query builders write the JSON form and
    show the text, or read the text into their controls, through the engine's own grammar. It
    only parses: nothing is read from the data tables."""

    runs_queries = True  # reads only: a POST that changes nothing

    @extend_schema(
        request=QueryForm, responses=QueryParseResponse, operation_id="query_parse",
        examples=[
            OpenApiExample("Text to JSON", request_only=True, value={
                "project": 1, "query": "moving_avg(avg:cpu{env:prod} by {host}, 5)"}),
            OpenApiExample("Named queries and a formula", request_only=True, value={
                "project": 1, "queries": {"a": "sum:orders{}"},
                "formula": "a / timeshift(a, 1w)"}),
            OpenApiExample("Forms", response_only=True, value={
                "text": "moving_avg(avg:cpu{env:prod} by {host}, 5)",
                "json": {"function": "moving_avg", "args": [
                    {"aggregation": "avg", "source": "cpu",
                     "filters": [{"key": "env", "op": "eq", "values": ["prod"]}],
                     "by": ["host"], "limit": 10}, 5]}}),
        ])
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        valid(QueryForm, body)
        _project(request, body.get("project"))
        return Response(engine.canonical(query=body.get("query"), queries=body.get("queries"),
                                         formula=body.get("formula")))


class MetricList(APIView):
    """The project's metrics with their definitions (``catalog_views`` has one metric's page)."""

    runs_queries = True

    @extend_schema(parameters=[PROJECT, MetricsQuery], responses=MetricListResponse,
                   operation_id="metrics_list",
                   examples=[OpenApiExample("Metrics", response_only=True, value={"results": [
                       {"name": "http.latency_ms", "series": 12, "description": "Time to "
                        "first byte", "unit": "ms", "type": "distribution",
                        "source": "otlp"}]})])
    def get(self, request):
        given = valid_query(MetricsQuery, request)
        project = _project(request, request.query_params.get("project"))
        return Response({"results": catalog.metric_names(
            project.pk, given.get("search", "")[:200], given["limit"])})


class MetricTags(APIView):
    @extend_schema(parameters=[PROJECT], responses=OpenApiTypes.OBJECT,
                   operation_id="metrics_tags")
    def get(self, request, name):
        valid(MetricPath, {"name": name})
        project = _project(request, request.query_params.get("project"))
        tags = catalog.metric_tags(project.pk, name)
        if tags is None:
            raise NotFound(f"No metric named {name[:200]!r} in this project.",
                           details={"name": name[:200]})
        return Response({"name": name, "tags": tags})


class MetricWindow(APIView):
    @extend_schema(
        parameters=[PROJECT, OpenApiParameter("window", str, description="e.g. 5m (≤ 24h)"),
                    OpenApiParameter("tags", str, description="e.g. host:web-01,env:!dev")],
        responses=OpenApiTypes.OBJECT, operation_id="metrics_window",
        examples=[OpenApiExample("Window", response_only=True, value={
            "name": "http.latency_ms", "window_s": 300, "at": "2026-11-23T12:00:00+00:00",
            "count": 1500, "avg": 41.2, "min": 3.0, "max": 910.0, "p95": 120.5,
            "rate": {"1s": 210.0, "5s": 198.4, "60s": 201.7},
            "points_per_s": {"1s": 5.0, "5s": 5.0, "60s": 5.0}, "series": 5, "notes": []})])
    def get(self, request, name):
        project = _project(request, request.query_params.get("project"))
        return Response(catalog.window(project.pk, name,
                                       window=request.query_params.get("window", "5m"),
                                       tags=request.query_params.get("tags", "")))
