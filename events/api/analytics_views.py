"""Event analytics for a project and range: ``GET /api/v1/analytics/<report>?project=&start=&end=``.

Reports: overview, timeseries, top-events, top-pages, top-referrers, browsers, devices, os,
countries, channels, utm-sources, utm-mediums, utm-campaigns, utm-terms, utm-contents, sessions,
users; each with ``filter`` (repeated) and ``bots``. Definitions are in
``events.query.analytics``.
"""

from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_site.errors import NotFound, ValidationFailed
from analytics_site.fields import valid_query

from ..models import PersonAlias
from ..query import analytics
from ..query.filters import parse
from .query_views import PROJECT, Moment, _project

REPORTS = ("overview", "timeseries", *analytics.BREAKDOWNS, "sessions", "users")


class UserFilter(django_filters.FilterSet):
    """Query parameters of the users report."""

    search = django_filters.CharFilter(max_length=200, required=False)
    min_events = django_filters.NumberFilter(min_value=0, required=False)
    ordering = django_filters.ChoiceFilter(
        choices=[(k, k) for k in analytics.USER_ORDERING], required=False)
    limit = django_filters.NumberFilter(min_value=1, max_value=analytics.MAX_LIMIT,
                                        required=False)
    offset = django_filters.NumberFilter(min_value=0, required=False)


class RangeQuery(serializers.Serializer):
    """The range of every report, read in UTC before any SQL compares it, its filters and
    whether bots count."""

    start = Moment(required=False, help_text="ISO 8601, epoch or now-24h; default now-7d.")
    end = Moment(required=False, help_text="ISO 8601, epoch or now-1h; default now.")
    filter = serializers.ListField(
        child=serializers.CharField(max_length=120, trim_whitespace=False), required=False,
        max_length=8, help_text="Repeated: key:value, key:!value or key:~value (keys: "
                                 "event, path, referrer, browser, os, device, country, "
                                 "channel, utm_*, prop.<name>, person.<name>).")
    bots = serializers.BooleanField(required=False, default=False,
                                    help_text="Count known crawlers too.")
    compare = serializers.BooleanField(required=False, default=False,
                                       help_text="Breakdowns: each value's previous period.")


def _int(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ValidationFailed(f"{name}: must be an integer from {low} to {high}.",
                               details={name: [f"An integer from {low} to {high}."]})
    return value


class AnalyticsReport(APIView):
    runs_queries = True

    @extend_schema(
        parameters=[PROJECT,
                    OpenApiParameter("report", str, OpenApiParameter.PATH, enum=REPORTS),
                    RangeQuery,
                    OpenApiParameter("interval", str, enum=("hour", "day"),
                                     description="timeseries only"),
                    OpenApiParameter("limit", int, description="breakdowns and users"),
                    OpenApiParameter("offset", int, description="users"),
                    OpenApiParameter("search", str, description="users"),
                    OpenApiParameter("min_events", int, description="users"),
                    OpenApiParameter("ordering", str, enum=tuple(analytics.USER_ORDERING),
                                     description="users")],
        responses=OpenApiTypes.OBJECT, operation_id="analytics_report",
        examples=[OpenApiExample("overview", response_only=True, value={
            "events": {"value": 5120, "previous": 4800, "change": 0.0667},
            "sessions": {"value": 830, "previous": 790, "change": 0.0506},
            "users": {"value": 610, "previous": 640, "change": -0.0469},
            "bounce_rate": {"value": 0.41, "previous": 0.44, "change": -0.068},
            "avg_session_duration_s": {"value": 142.5, "previous": 130.0, "change": 0.096},
            "pageviews": {"value": 3900, "previous": 3650, "change": 0.068},
            "top_event": {"event": "page_view", "count": 3900},
            "range": {"start": "2026-11-16T12:00:00+00:00", "end": "2026-11-23T12:00:00+00:00",
                      "previous_start": "2026-11-09T12:00:00+00:00"}})])
    def get(self, request, report):
        if report not in REPORTS:
            raise NotFound(f"No report {report[:50]!r}; one of {', '.join(REPORTS)}.")
        project = _project(request, request.query_params.get("project"))
        moments = valid_query(RangeQuery, request)
        span = analytics.window(*(moments[name].isoformat() if name in moments else None
                                  for name in ("start", "end")), tz=project.timezone)
        filters = parse(moments.get("filter", []), bots=moments.get("bots", False))
        if report == "overview":
            return Response(analytics.overview(project.pk, span, filters=filters))
        if report == "timeseries":
            return Response(analytics.timeseries(
                project, span, request.query_params.get("interval", "day"), filters=filters))
        if report in analytics.BREAKDOWNS:
            limit = _int(request, "limit", 10, 1, analytics.MAX_LIMIT)
            return Response({"results": analytics.breakdown(
                project.pk, report, span, limit, filters=filters,
                compare=moments.get("compare", False))})
        if report == "sessions":
            return Response(analytics.sessions(project.pk, span))
        # The FilterSet declares and validates the parameters; the report applies them in SQL.
        filters = UserFilter(request.query_params, queryset=PersonAlias.objects.none())
        if not filters.is_valid():
            errors = {k: [str(e) for e in v] for k, v in filters.form.errors.items()}
            field = next(iter(errors))
            raise ValidationFailed(f"{field}: {errors[field][0]}", details=errors)
        given = {k: v for k, v in filters.form.cleaned_data.items() if v not in (None, "")}
        return Response(analytics.users(
            project.pk, span, search=given.get("search", ""),
            min_events=int(given.get("min_events", 0)),
            ordering=given.get("ordering", "last_seen"), limit=int(given.get("limit", 50)),
            offset=int(given.get("offset", 0))))
