"""Product analytics reports of a project: funnels (and who dropped off), retention, paths, entry
and exit pages, sessions, people (and erasing one), the event explorer and goals.

Thin: each view checks its parameters with a serializer, finds the project the caller may read
(404 outside their projects; erasing a person needs the admin role and a token's admin scope),
and hands them to ``events.query`` (reads) or ``events.erasure`` / goals' service (writes).
Definitions and what each report reads are in the docstring of its source module.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_site.errors import NotFound, ValidationFailed
from analytics_site.fields import valid, valid_query
from projects.models import APIToken, Role, Scope
from projects.selectors import get_project_for, get_scoped_for

from .. import erasure, selectors
from .. import goals as goal_services
from ..models import Goal
from ..query import explorer, funnels, paths, people, retention
from ..query import goals as goal_reports
from ..query.filters import parse
from ..query.timerange import resolve_span
from .query_views import Moment


def _token(request):
    return request.auth if isinstance(request.auth, APIToken) else None


def _project(request, project_id, *, min_role: str = Role.VIEWER, scope: str = Scope.READ):
    return get_project_for(request.user, project_id, token=_token(request), min_role=min_role,
                           scope=scope)


class ReportQuery(serializers.Serializer):
    """What every report takes: the range, filters and whether bots count."""

    start = Moment(required=False, help_text="ISO 8601, epoch or now-7d; default now-7d.")
    end = Moment(required=False, help_text="ISO 8601, epoch or now; default now.")
    filter = serializers.ListField(
        child=serializers.CharField(max_length=120, trim_whitespace=False), required=False,
        max_length=8, help_text="Repeated: key:value, key:!value or key:~value; keys event, "
                                 "path, referrer, browser, os, device, country, channel, "
                                 "utm_*, prop.<name>, person.<name>.")
    bots = serializers.BooleanField(required=False, default=False,
                                    help_text="Count known crawlers too.")


def _report_args(request, serializer=ReportQuery, default_start: str = "now-7d",
                 tz: str = "UTC"):
    given = valid_query(serializer, request)
    span = resolve_span(*(given[name].isoformat() if name in given else None
                                    for name in ("start", "end")),
                                  default_start=default_start, tz=tz)
    return given, span, parse(given.get("filter", []), bots=given.get("bots", False))


class FunnelQuery(ReportQuery):
    steps = serializers.CharField(max_length=1000, help_text=(
        'JSON: [{"event": "page_view", "filters": ["path:/pricing"]}, {"event": "signup"}] '
        "(2 to 10 steps)."))
    window = serializers.IntegerField(required=False, default=86400, min_value=1,
                                      max_value=funnels.MAX_WINDOW_S,
                                      help_text="Conversion window, seconds (default a day).")
    order = serializers.ChoiceField(choices=funnels.ORDERS, required=False, default="ordered")
    breakdown = serializers.CharField(required=False, max_length=106, allow_blank=True)
    compare = serializers.BooleanField(required=False, default=False)


class FunnelPeopleQuery(FunnelQuery):
    step = serializers.IntegerField(min_value=1, max_value=funnels.MAX_STEPS)
    outcome = serializers.ChoiceField(choices=("converted", "dropped"), default="dropped")
    limit = serializers.IntegerField(required=False, default=100, min_value=1,
                                     max_value=funnels.MAX_PEOPLE)
    offset = serializers.IntegerField(required=False, default=0, min_value=0)


def _steps(given) -> tuple:
    raw = given.get("steps")
    if isinstance(raw, str):
        import orjson

        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ValidationFailed("steps: not JSON.", details={"steps": ["Not JSON."]}) from None
    return funnels.parse_steps(raw)


# The steps as the schema shows them (and a fuzzer starts from): two steps of the demo's funnel.
STEPS_PARAMETER = OpenApiParameter(
    "steps", str, required=True, description=FunnelQuery().fields["steps"].help_text,
    examples=[OpenApiExample("Pricing, then sign-up", value=(
        '[{"event": "page_view", "filters": ["path:/pricing"]}, {"event": "signup"}]'))])

STEP_PARAMETER = OpenApiParameter(
    "step", int, required=True, description="The step (1 = the first): who reached it "
    "(converted) or stopped right before it (dropped: 2 or more).",
    examples=[OpenApiExample("Who stopped before step 2", value=2)])

FUNNEL_EXAMPLE = OpenApiExample("Funnel", response_only=True, value={
    "steps": [{"step": 1, "event": "page_view", "filters": ["path:/pricing"], "people": 400,
               "conversion": 1.0, "from_previous": 1.0, "dropped": 0, "median_s": None},
              {"step": 2, "event": "signup_started", "filters": [], "people": 100,
               "conversion": 0.25, "from_previous": 0.25, "dropped": 300, "median_s": 42.0}],
    "order": "ordered", "window_s": 86400, "conversion": 0.25, "breakdown": None,
    "breakdowns": []})


class FunnelView(APIView):
    runs_queries = True

    @extend_schema(parameters=[FunnelQuery, STEPS_PARAMETER], responses=OpenApiTypes.OBJECT,
                   operation_id="funnel", examples=[FUNNEL_EXAMPLE])
    def get(self, request, project_id):
        project = _project(request, project_id)
        given, span, filters = _report_args(request, FunnelQuery, tz=project.timezone)
        return Response(funnels.funnel(
            project.pk, span, steps=_steps(given), window_s=given["window"],
            order=given["order"], filters=filters,
            breakdown=funnels.check_breakdown(given.get("breakdown")),
            compare=given["compare"]))


class FunnelPeopleView(APIView):
    runs_queries = True

    @extend_schema(parameters=[FunnelPeopleQuery, STEPS_PARAMETER, STEP_PARAMETER],
                   responses=OpenApiTypes.OBJECT,
                   operation_id="funnel_people")
    def get(self, request, project_id):
        project = _project(request, project_id)
        given, span, filters = _report_args(request, FunnelPeopleQuery, tz=project.timezone)
        return Response(funnels.funnel_people(
            project.pk, span, steps=_steps(given), window_s=given["window"],
            order=given["order"], filters=filters, step=given["step"],
            converted=given["outcome"] == "converted", limit=given["limit"],
            offset=given["offset"]))


class RetentionQuery(ReportQuery):
    period = serializers.ChoiceField(choices=tuple(retention.PERIODS), default="week")
    cohort_event = serializers.CharField(required=False, max_length=200, allow_blank=True,
                                         help_text="Default: the first event ever.")
    return_event = serializers.CharField(required=False, max_length=200, allow_blank=True,
                                         help_text="Default: any event.")


class RetentionView(APIView):
    runs_queries = True

    @extend_schema(parameters=[RetentionQuery], responses=OpenApiTypes.OBJECT,
                   operation_id="retention")
    def get(self, request, project_id):
        project = _project(request, project_id)
        given, span, filters = _report_args(request, RetentionQuery, "now-56d",
                                            tz=project.timezone)
        return Response(retention.retention(
            project.pk, span, period=given["period"],
            cohort_event=given.get("cohort_event") or None,
            return_event=given.get("return_event") or None, filters=filters))


class PathsQuery(ReportQuery):
    origin = serializers.CharField(max_length=500, help_text="The page path (or event name) "
                                                             "the paths start or end at.")
    kind = serializers.ChoiceField(choices=paths.KINDS, default="pages")
    direction = serializers.ChoiceField(choices=paths.DIRECTIONS, default="next")
    depth = serializers.IntegerField(required=False, default=3, min_value=1,
                                     max_value=paths.MAX_DEPTH)


class PathsView(APIView):
    runs_queries = True

    @extend_schema(parameters=[PathsQuery], responses=OpenApiTypes.OBJECT, operation_id="paths")
    def get(self, request, project_id):
        project = _project(request, project_id)
        given, span, filters = _report_args(request, PathsQuery, tz=project.timezone)
        return Response(paths.paths(project.pk, span, start=given["origin"], kind=given["kind"],
                                    direction=given["direction"], depth=given["depth"],
                                    filters=filters))


class EntriesView(APIView):
    runs_queries = True

    @extend_schema(parameters=[ReportQuery], responses=OpenApiTypes.OBJECT,
                   operation_id="entry_exit_pages")
    def get(self, request, project_id):
        project = _project(request, project_id)
        _, span, filters = _report_args(request, tz=project.timezone)
        return Response(paths.entries(project.pk, span, filters=filters))


class ListQuery(ReportQuery):
    limit = serializers.IntegerField(required=False, default=50, min_value=1,
                                     max_value=people.MAX_LIMIT)
    offset = serializers.IntegerField(required=False, default=0, min_value=0, max_value=10**6)


class SessionsQuery(ListQuery):
    ordering = serializers.ChoiceField(choices=tuple(people.SESSION_ORDERING),
                                       default="-started_at")


class SessionList(APIView):
    runs_queries = True

    @extend_schema(parameters=[SessionsQuery], responses=OpenApiTypes.OBJECT,
                   operation_id="sessions_list")
    def get(self, request, project_id):
        project = _project(request, project_id)
        given, span, filters = _report_args(request, SessionsQuery, tz=project.timezone)
        return Response(people.sessions_list(project.pk, span, filters=filters,
                                             ordering=given["ordering"], limit=given["limit"],
                                             offset=given["offset"]))


class SessionDetail(APIView):
    runs_queries = True

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="session_detail")
    def get(self, request, project_id, session_id):
        project = _project(request, project_id)
        found = people.session(project.pk, session_id[:200])
        if found is None:
            raise NotFound("Session not found.", details={"session_id": session_id[:200]})
        return Response(found)


class PeopleQuery(ListQuery):
    search = serializers.CharField(required=False, max_length=200, allow_blank=True)
    ordering = serializers.ChoiceField(choices=tuple(people.PERSON_ORDERING),
                                       default="-last_seen")


class PeopleList(APIView):
    runs_queries = True

    @extend_schema(parameters=[PeopleQuery], responses=OpenApiTypes.OBJECT,
                   operation_id="people_list")
    def get(self, request, project_id):
        project = _project(request, project_id)
        given, span, filters = _report_args(request, PeopleQuery, "now-30d",
                                            tz=project.timezone)
        return Response(people.people(project.pk, span, search=given.get("search", ""),
                                      filters=filters, ordering=given["ordering"],
                                      limit=given["limit"], offset=given["offset"]))


class PersonDetail(APIView):
    runs_queries = True

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="person_detail")
    def get(self, request, project_id, person_id):
        project = _project(request, project_id)
        found = people.person(project.pk, person_id[:200])
        if found is None:
            raise NotFound("Person not found.", details={"person_id": person_id[:200]})
        return Response(found)

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, operation_id="person_erase",
                   examples=[OpenApiExample("Erased", response_only=True, value={
                       "person_id": "user-42", "ids": ["anon-1", "user-42"], "events": 120,
                       "sessions": 7})])
    def delete(self, request, project_id, person_id):
        project = _project(request, project_id, min_role=Role.ADMIN, scope=Scope.ADMIN)
        if people.person(project.pk, person_id[:200], limit=1) is None:
            raise NotFound("Person not found.", details={"person_id": person_id[:200]})
        gone = erasure.erase_person(project=project, person_id=person_id[:200])
        return Response({"person_id": gone.person_id, "ids": gone.ids, "events": gone.events,
                         "sessions": gone.sessions})


class ExplorerQuery(ReportQuery):
    limit = serializers.IntegerField(required=False, default=50, min_value=1,
                                     max_value=explorer.MAX_LIMIT)
    after = serializers.CharField(required=False, max_length=200,
                                  help_text="The `next` cursor of the page before.")
    newer_than = serializers.CharField(required=False, max_length=200,
                                       help_text="A cursor: the events after it (live tail).")
    columns = serializers.ListField(child=serializers.CharField(max_length=60),
                                    required=False, max_length=explorer.MAX_COLUMNS,
                                    help_text="Property names shown as columns (repeated).")


class EventList(APIView):
    runs_queries = True

    @extend_schema(parameters=[ExplorerQuery], responses=OpenApiTypes.OBJECT,
                   operation_id="events_explore")
    def get(self, request, project_id):
        project = _project(request, project_id)
        given, span, filters = _report_args(request, ExplorerQuery, "now-30d",
                                            tz=project.timezone)
        return Response(explorer.events_page(
            project.pk, span, filters=filters, limit=given["limit"], after=given.get("after"),
            newer_than=given.get("newer_than"), columns=tuple(given.get("columns", []))))


class GoalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Goal
        fields = ["id", "name", "event", "path_pattern", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs):
        if bool(attrs.get("event")) == bool(attrs.get("path_pattern")):
            raise serializers.ValidationError(
                {"event": ["Give an event name or a page pattern, one of the two."]})
        return attrs


class GoalList(APIView):
    @extend_schema(responses=GoalSerializer(many=True), operation_id="goals_list")
    def get(self, request, project_id):
        project = _project(request, project_id)
        return Response(GoalSerializer(selectors.goals_of(project), many=True).data)

    @extend_schema(request=GoalSerializer, responses={201: GoalSerializer},
                   operation_id="goals_create")
    def post(self, request, project_id):
        project = _project(request, project_id, min_role=Role.EDITOR, scope=Scope.WRITE)
        fields = valid(GoalSerializer, request.data)
        goal = goal_services.create_goal(project=project, **fields)
        return Response(GoalSerializer(goal).data, status=201)


class GoalDetail(APIView):
    @extend_schema(responses={204: None}, operation_id="goals_delete")
    def delete(self, request, id):
        goal = get_scoped_for(request.user, Goal.objects.all(), id, label="Goal",
                              min_role=Role.EDITOR, token=_token(request), scope=Scope.WRITE)
        goal_services.delete_goal(goal=goal)
        return Response(status=204)


class GoalConversions(APIView):
    runs_queries = True

    @extend_schema(parameters=[ReportQuery], responses=OpenApiTypes.OBJECT,
                   operation_id="goals_conversions")
    def get(self, request, project_id):
        project = _project(request, project_id)
        _, span, filters = _report_args(request, tz=project.timezone)
        found = [(g.pk, g.name, g.event, g.path_pattern)
                 for g in selectors.goals_of(project)]
        return Response(goal_reports.goals(project.pk, span, found, filters=filters))
