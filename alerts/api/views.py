"""REST endpoints of the alerts app. Thin: scoped lookups from alerts.selectors (404 outside the
caller's projects), bodies and query parameters checked by their serializers (every rule of
shape and value; times in UTC) into the typed arguments of alerts.services (what needs the
database or several fields); viewers read, editors change."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_site.errors import ValidationFailed
from analytics_site.fields import valid, valid_query
from projects.authentication import token_of
from projects.models import Role, Scope
from projects.selectors import get_project_for

from .. import backtest, evaluation, selectors, services
from . import serializers as s


def _body(request, serializer_class, **kwargs) -> dict:
    """The body as ``serializer_class`` checked and typed it."""
    if not isinstance(request.data, dict):
        raise ValidationFailed("The body must be a JSON object.", details={"body": ["Object."]})
    return valid(serializer_class, request.data, **kwargs)


def _project(request, project_id, write=False):
    return get_project_for(request.user, project_id, token=token_of(request),
                           min_role=Role.EDITOR if write else Role.VIEWER,
                           scope=Scope.WRITE if write else Scope.READ)


def _access(request, write=False) -> dict:
    return {"token": token_of(request), "min_role": Role.EDITOR if write else Role.VIEWER,
            "scope": Scope.WRITE if write else Scope.READ}


class RuleList(APIView):
    @extend_schema(responses=s.RuleSerializer(many=True), operation_id="alert_rules_list")
    def get(self, request, project_id):
        project = _project(request, project_id)
        return Response(s.RuleSerializer(selectors.rules_of(project), many=True).data)

    @extend_schema(request=s.RuleWriteSerializer, responses={201: s.RuleSerializer},
                   operation_id="alert_rules_create", examples=[OpenApiExample(
                       "CPU over 90 % for a minute", request_only=True, value={
                           "name": "CPU high", "query": "avg:cpu{} by {host}",
                           "threshold": 90, "for_seconds": 60})])
    def post(self, request, project_id):
        project = _project(request, project_id, write=True)
        rule = services.create_rule(project=project, user=request.user,
                                    **_body(request, s.RuleWriteSerializer))
        return Response(s.RuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class RuleDetail(APIView):
    @extend_schema(responses=s.RuleSerializer, operation_id="alert_rules_retrieve")
    def get(self, request, pk):
        return Response(s.RuleSerializer(selectors.get_rule_for(request.user, pk,
                                                                **_access(request))).data)

    @extend_schema(request=s.RuleWriteSerializer, responses=s.RuleSerializer,
                   operation_id="alert_rules_update")
    def patch(self, request, pk):
        rule = selectors.get_rule_for(request.user, pk, **_access(request, write=True))
        changes = _body(request, s.RuleWriteSerializer, partial=True)
        return Response(s.RuleSerializer(services.update_rule(rule=rule, **changes)).data)

    @extend_schema(responses={204: None}, operation_id="alert_rules_delete")
    def delete(self, request, pk):
        rule = selectors.get_rule_for(request.user, pk, **_access(request, write=True))
        services.delete_rule(rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RuleEvaluate(APIView):
    """Evaluate one rule now (due or not); notifications go out as in a scheduled cycle."""

    @extend_schema(request=None, responses=s.RuleSerializer, operation_id="alert_rules_evaluate")
    def post(self, request, pk):
        rule = selectors.get_rule_for(request.user, pk, **_access(request, write=True))
        evaluation.evaluate_now(rule)
        rule.refresh_from_db()
        return Response(s.RuleSerializer(rule).data)


class RuleHistory(APIView):
    @extend_schema(responses=s.EventSerializer(many=True), operation_id="alert_rules_history")
    def get(self, request, pk):
        rule = selectors.get_rule_for(request.user, pk, **_access(request))
        return Response(s.EventSerializer(selectors.history_of(rule.project, rule=rule),
                                          many=True).data)


class RulePreview(APIView):
    """Backtest a rule before saving it: the query over the last 24 h, the threshold and where
    it would have fired."""

    runs_queries = True

    @extend_schema(request=s.RuleWriteSerializer, responses=OpenApiTypes.OBJECT,
                   operation_id="alert_rules_preview", examples=[OpenApiExample(
                       "Where CPU over 90 % would have fired", request_only=True, value={
                           "query": "avg:cpu{} by {host}", "threshold": 90})])
    def post(self, request, project_id):
        project = _project(request, project_id)
        return Response(backtest.backtest(project, **_body(request, s.RulePreviewSerializer)))


class ProjectHistory(APIView):
    @extend_schema(responses=s.EventSerializer(many=True), operation_id="alert_events_list",
                   parameters=[s.HistoryQuery])
    def get(self, request, project_id):
        project = _project(request, project_id)
        query = valid_query(s.HistoryQuery, request)
        start, end = query.get("start"), query.get("end")
        if query.get("status") == "firing" and start and end:
            events = selectors.firing_periods(project, start=start, end=end)
        else:
            events = selectors.history_of(project, start=start, end=end)
        return Response(s.EventSerializer(events, many=True).data)


class ProjectAlerts(APIView):
    @extend_schema(responses=s.InstanceSerializer(many=True), operation_id="alerts_current",
                   parameters=[s.AlertsQuery])
    def get(self, request, project_id):
        project = _project(request, project_id)
        states = valid_query(s.AlertsQuery, request).get("state")
        return Response(s.InstanceSerializer(selectors.instances_of(project, states),
                                             many=True).data)


class ChannelList(APIView):
    @extend_schema(responses=s.ChannelSerializer(many=True), operation_id="channels_list")
    def get(self, request, project_id):
        project = _project(request, project_id)
        return Response(s.ChannelSerializer(selectors.channels_of(project), many=True).data)

    @extend_schema(request=s.ChannelWriteSerializer, responses={201: s.ChannelWithSecretSerializer},
                   operation_id="channels_create")
    def post(self, request, project_id):
        project = _project(request, project_id, write=True)
        channel = services.create_channel(project=project,
                                          **_body(request, s.ChannelWriteSerializer))
        return Response(s.ChannelWithSecretSerializer(channel).data,
                        status=status.HTTP_201_CREATED)


class ChannelDetail(APIView):
    @extend_schema(responses=s.ChannelSerializer, operation_id="channels_retrieve")
    def get(self, request, pk):
        return Response(s.ChannelSerializer(selectors.get_channel_for(
            request.user, pk, **_access(request))).data)

    @extend_schema(request=s.ChannelWriteSerializer, responses=s.ChannelSerializer,
                   operation_id="channels_update")
    def patch(self, request, pk):
        channel = selectors.get_channel_for(request.user, pk, **_access(request, write=True))
        changes = _body(request, s.ChannelWriteSerializer, partial=True)
        return Response(s.ChannelSerializer(services.update_channel(channel=channel,
                                                                    **changes)).data)

    @extend_schema(responses={204: None}, operation_id="channels_delete")
    def delete(self, request, pk):
        channel = selectors.get_channel_for(request.user, pk, **_access(request, write=True))
        services.delete_channel(channel=channel)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelTest(APIView):
    @extend_schema(request=None, responses={202: s.NotificationSerializer},
                   operation_id="channels_test")
    def post(self, request, pk):
        channel = selectors.get_channel_for(request.user, pk, **_access(request, write=True))
        note = services.send_test(channel=channel)
        return Response(s.NotificationSerializer(note).data, status=status.HTTP_202_ACCEPTED)


class ChannelDeliveries(APIView):
    @extend_schema(responses=s.NotificationSerializer(many=True),
                   operation_id="channels_deliveries")
    def get(self, request, pk):
        channel = selectors.get_channel_for(request.user, pk, **_access(request))
        return Response(s.NotificationSerializer(selectors.deliveries_of(channel),
                                                 many=True).data)


class SilenceList(APIView):
    @extend_schema(responses=s.SilenceSerializer(many=True), operation_id="silences_list")
    def get(self, request, project_id):
        project = _project(request, project_id)
        return Response(s.SilenceSerializer(selectors.silences_of(project), many=True).data)

    @extend_schema(request=s.SilenceWriteSerializer, responses={201: s.SilenceSerializer},
                   operation_id="silences_create", examples=[OpenApiExample(
                       "Mute a team for two hours", request_only=True, value={
                           "matchers": {"team": "checkout"}, "ends_at": "now+2h",
                           "reason": "Deploy window"})])
    def post(self, request, project_id):
        project = _project(request, project_id, write=True)
        silence = services.create_silence(project=project, user=request.user,
                                          **_body(request, s.SilenceWriteSerializer))
        return Response(s.SilenceSerializer(silence).data, status=status.HTTP_201_CREATED)


class SilenceDetail(APIView):
    @extend_schema(responses=s.SilenceSerializer, operation_id="silences_retrieve")
    def get(self, request, pk):
        return Response(s.SilenceSerializer(selectors.get_silence_for(
            request.user, pk, **_access(request))).data)

    @extend_schema(responses={204: None}, operation_id="silences_end")
    def delete(self, request, pk):
        """End a silence now (it stays in the list, ended)."""
        silence = selectors.get_silence_for(request.user, pk, **_access(request, write=True))
        services.end_silence(silence=silence)
        return Response(status=status.HTTP_204_NO_CONTENT)
