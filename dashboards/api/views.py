"""REST endpoints for dashboards and panels. Thin: scoped lookups from dashboards.selectors
(404 outside the caller's projects), bodies and query parameters checked and typed by their
serializers, writes through dashboards.services with the serializers' validated data (the rules
that need the database or the engine); viewers read, editors and admins change."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_site.errors import NotFound
from analytics_site.fields import valid, valid_query
from analytics_site.throttling import AnonRateThrottle
from projects.authentication import token_of
from projects.models import Role, Scope
from projects.selectors import get_project_for

from .. import compare, selectors, services
from . import serializers as s


def _body(request, serializer_class, **kwargs) -> dict:
    """The body's values as ``serializer_class`` checks and types them (a body that is not an
    object counts as an empty one)."""
    return valid(serializer_class, request.data if isinstance(request.data, dict) else {},
                 **kwargs)


def _dashboard(request, pk, *, write=False):
    return selectors.get_dashboard_for(
        request.user, pk, min_role=Role.EDITOR if write else Role.VIEWER, token=token_of(request),
        scope=Scope.WRITE if write else Scope.READ)


class DashboardList(APIView):
    @extend_schema(responses=s.DashboardSerializer(many=True), operation_id="dashboards_list")
    def get(self, request, project_id):
        project = get_project_for(request.user, project_id, token=token_of(request))
        return Response(s.DashboardSerializer(selectors.dashboards_of(project), many=True).data)

    @extend_schema(request=s.DashboardWriteSerializer, responses={201: s.DashboardSerializer},
                   operation_id="dashboards_create")
    def post(self, request, project_id):
        project = get_project_for(request.user, project_id, min_role=Role.EDITOR,
                                  token=token_of(request), scope=Scope.WRITE)
        dashboard = services.create_dashboard(project=project, user=request.user,
                                              **_body(request, s.DashboardWriteSerializer))
        return Response(s.DashboardSerializer(dashboard).data, status=status.HTTP_201_CREATED)


class DashboardDetail(APIView):
    @extend_schema(responses=s.DashboardSerializer, operation_id="dashboards_retrieve")
    def get(self, request, pk):
        return Response(s.DashboardSerializer(_dashboard(request, pk)).data)

    @extend_schema(request=s.DashboardWriteSerializer, responses=s.DashboardSerializer,
                   operation_id="dashboards_update")
    def patch(self, request, pk):
        dashboard = services.update_dashboard(
            dashboard=_dashboard(request, pk, write=True),
            **_body(request, s.DashboardWriteSerializer, partial=True))
        return Response(s.DashboardSerializer(dashboard).data)

    @extend_schema(responses={204: None}, operation_id="dashboards_delete")
    def delete(self, request, pk):
        services.delete_dashboard(dashboard=_dashboard(request, pk, write=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DashboardDuplicate(APIView):
    @extend_schema(request=None, responses={201: s.DashboardSerializer},
                   operation_id="dashboards_duplicate")
    def post(self, request, pk):
        copy = services.duplicate_dashboard(dashboard=_dashboard(request, pk, write=True),
                                            user=request.user)
        return Response(s.DashboardSerializer(copy).data, status=status.HTTP_201_CREATED)


class DashboardLayout(APIView):
    @extend_schema(request=s.LayoutItemSerializer(many=True),
                   responses=s.PanelSerializer(many=True), operation_id="dashboards_layout")
    def put(self, request, pk):
        dashboard = _dashboard(request, pk, write=True)
        panels = services.save_layout(
            dashboard=dashboard, items=valid(s.LayoutItemSerializer, request.data, many=True))
        return Response(s.PanelSerializer(panels, many=True).data)


class PanelList(APIView):
    @extend_schema(request=s.PanelWriteSerializer, responses={201: s.PanelSerializer},
                   operation_id="panels_create")
    def post(self, request, pk):
        dashboard = _dashboard(request, pk, write=True)
        panel = services.create_panel(dashboard=dashboard,
                                      **_body(request, s.PanelWriteSerializer))
        return Response(s.PanelSerializer(panel).data, status=status.HTTP_201_CREATED)


class PanelDetail(APIView):
    @extend_schema(request=s.PanelWriteSerializer(partial=True), responses=s.PanelSerializer,
                   operation_id="panels_update")
    def patch(self, request, pk):
        panel = selectors.get_panel_for(request.user, pk, min_role=Role.EDITOR,
                                        token=token_of(request), scope=Scope.WRITE)
        panel = services.update_panel(panel=panel,
                                      **_body(request, s.PanelWriteSerializer, partial=True))
        return Response(s.PanelSerializer(panel).data)

    @extend_schema(responses={204: None}, operation_id="panels_delete")
    def delete(self, request, pk):
        panel = selectors.get_panel_for(request.user, pk, min_role=Role.EDITOR,
                                        token=token_of(request), scope=Scope.WRITE)
        services.delete_panel(panel=panel)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DashboardExport(APIView):
    @extend_schema(responses=s.DashboardExportSerializer, operation_id="dashboards_export")
    def get(self, request, pk):
        dashboard = _dashboard(request, pk)
        response = Response(services.export_dashboard(dashboard))
        response["Content-Disposition"] = f'attachment; filename="dashboard-{dashboard.pk}.json"'
        return response


class DashboardImport(APIView):
    @extend_schema(request=s.DashboardExportSerializer, responses={201: s.DashboardSerializer},
                   operation_id="dashboards_import", examples=[OpenApiExample(
                       "An export", request_only=True, value={
                           "version": 1, "name": "Web", "description": "", "variables": [],
                           "panels": [{"title": "Latency", "type": "line",
                                       "query": "p95:http.latency_ms{} by {host}",
                                       "options": {}, "x": 0, "y": 0, "w": 6, "h": 4}]})])
    def post(self, request, project_id):
        project = get_project_for(request.user, project_id, min_role=Role.EDITOR,
                                  token=token_of(request), scope=Scope.WRITE)
        dashboard = services.import_dashboard(
            project=project, user=request.user, **_body(request, s.DashboardExportSerializer))
        return Response(s.DashboardSerializer(dashboard).data, status=status.HTTP_201_CREATED)


class PublicLink(APIView):
    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT},
                   operation_id="dashboards_public_link_create")
    def post(self, request, pk):
        dashboard = _dashboard(request, pk, write=True)
        token = services.create_public_link(dashboard=dashboard)
        url = request.build_absolute_uri(f"/public/dashboards/{token}/")
        return Response({"url": url, "token": token,
                         "note": "Shown once; creating a new link replaces this one."},
                        status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None}, operation_id="dashboards_public_link_revoke")
    def delete(self, request, pk):
        services.revoke_public_link(dashboard=_dashboard(request, pk, write=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


RANGE_PARAMETERS = [
    OpenApiParameter("start", str, description="ISO 8601, epoch s/ms or now-6h; default now-1h."),
    OpenApiParameter("end", str, description="ISO 8601, epoch s/ms or now; default now."),
]  # and var-<name>, repeated: values of the dashboard's variable (known values only; none: all)
PANEL_ANSWER = OpenApiExample("A panel compared with one week earlier", response_only=True, value={
    "data": [{"name": "avg:cpu{}", "tags": {}, "points": [[1763856000000, 41.5]],
              "unit": "%"}],
    "meta": {"table": "rollup_1m", "resolution": 300},
    "compare": {"option": "1w", "label": "1 week earlier", "shift": "1w",
                "query": "timeshift(avg:cpu{}, 1w)",
                "data": [{"name": "timeshift(avg:cpu{}, 1w)", "tags": {},
                          "points": [[1763856000000, 38.0]], "unit": "%"}],
                "meta": {"table": "rollup_1m", "resolution": 300}}})


def _panel_answer(request, panel) -> dict:
    variables = selectors.chosen_variables(
        selectors.variable_choices(panel.dashboard, request.query_params))
    return compare.panel_answer(panel, start=request.query_params.get("start"),
                                end=request.query_params.get("end"), variables=variables)


class PanelData(APIView):
    """The answer of one panel: its stored query over the range and variables asked, and with
    its option ``compare`` the same query one period earlier (``compare``: the overlay's label,
    query and series, or ``error`` when it cannot run)."""

    runs_queries = True

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="panel_data",
                   parameters=RANGE_PARAMETERS, examples=[PANEL_ANSWER])
    def get(self, request, pk):
        panel = selectors.get_panel_for(request.user, pk, token=token_of(request))
        return Response(_panel_answer(request, panel))


class PublicPanelData(APIView):
    """The answer of one panel of a public dashboard: its own stored query only, over the range
    and variables the page asks for. No login; rate-limited like every anonymous call."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]
    runs_queries = True

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="public_panel_data",
                   parameters=RANGE_PARAMETERS)
    def get(self, request, token, panel_id):
        dashboard = selectors.public_dashboard(token)
        panel = dashboard.panels.filter(pk=panel_id).first()
        if panel is None:
            raise NotFound("Not found.")
        return Response(_panel_answer(request, panel))


class AnnotationList(APIView):
    @extend_schema(responses=s.AnnotationSerializer(many=True), operation_id="annotations_list",
                   parameters=[s.AnnotationsQuery])
    def get(self, request, project_id):
        project = get_project_for(request.user, project_id, token=token_of(request))
        query = valid_query(s.AnnotationsQuery, request)
        return Response(s.AnnotationSerializer(selectors.annotations_of(
            project, start=query.get("start"), end=query.get("end"),
            dashboard_id=query.get("dashboard")), many=True).data)

    @extend_schema(request=s.AnnotationWriteSerializer, responses={201: s.AnnotationSerializer},
                   operation_id="annotations_create", examples=[OpenApiExample(
                       "A band on every dashboard", request_only=True, value={
                           "text": "Incident 12", "at": "2026-11-21T10:00:00Z",
                           "ends_at": "2026-11-21T11:30:00Z"})])
    def post(self, request, project_id):
        project = get_project_for(request.user, project_id, min_role=Role.EDITOR,
                                  token=token_of(request), scope=Scope.WRITE)
        data = valid(s.AnnotationWriteSerializer, request.data)
        dashboard = None
        if data.get("dashboard") is not None:
            dashboard = _dashboard(request, data["dashboard"], write=True)
        annotation = services.create_annotation(
            project=project, text=data["text"], at=data["at"], ends_at=data.get("ends_at"),
            dashboard=dashboard, user=request.user)
        return Response(s.AnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED)


class AnnotationDetail(APIView):
    @extend_schema(responses={204: None}, operation_id="annotations_delete")
    def delete(self, request, pk):
        annotation = selectors.get_annotation_for(request.user, pk, min_role=Role.EDITOR,
                                                  token=token_of(request), scope=Scope.WRITE)
        services.delete_annotation(annotation=annotation)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LiveTicket(APIView):
    """A ticket for ``WS /ws/projects/<id>/?ticket=…`` — how an API client (token, no session
    cookie) opens the project's live stream. Valid for 60 s; only for members."""

    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT},
                   operation_id="live_ticket_create")
    def post(self, request, project_id):
        project = get_project_for(request.user, project_id, token=token_of(request))
        ticket = services.issue_live_ticket(user=request.user, project=project)
        return Response({"ticket": ticket, "expires_in": services.LIVE_TICKET_TTL_S,
                         "url": f"/ws/projects/{project.pk}/?ticket={ticket}"},
                        status=status.HTTP_201_CREATED)
