"""REST endpoints of reports. Thin: scoped lookups from reports.selectors (404 outside the
caller's projects, 403 for too small a role: editors change, viewers read), bodies checked by
the serializers, writes through reports.services and reports.runs, content from
reports.rendering and reports.exports."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_site.errors import NotFound
from analytics_site.fields import valid, valid_query
from projects.authentication import token_of
from projects.models import Role, Scope
from projects.selectors import get_project_for

from .. import mail, rendering, runs, selectors, services
from ..exports import charts, csv_export, json_export, pdf_export, xlsx_export
from ..models import Run
from . import serializers as s

EXPORTS = {"csv": csv_export, "xlsx": xlsx_export, "pdf": pdf_export, "json": json_export}
FILE_TYPES = ("text/csv", "application/zip", "application/pdf", "application/json",
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
PREVIEW_ROWS = 500


def _body(request) -> dict:
    return request.data if isinstance(request.data, dict) else {}


def _report(request, pk, *, write=False):
    return selectors.get_report_for(
        request.user, pk, min_role=Role.EDITOR if write else Role.VIEWER,
        token=token_of(request), scope=Scope.WRITE if write else Scope.READ)


def _rendered(request, report, blocks=None) -> rendering.Rendered:
    window = valid_query(s.RangeQuery, request)
    return rendering.render(report, start=window.get("start"), end=window.get("end"),
                            blocks=blocks)


async def _aiter(chunks):
    """A sync iterator served chunk by chunk under ASGI (Django would otherwise read a sync
    iterator whole before sending it); each step runs in the thread that owns the database
    connection."""
    iterator = iter(chunks)
    done = object()
    step = sync_to_async(lambda: next(iterator, done), thread_sensitive=True)
    while (chunk := await step()) is not done:
        yield chunk


def file_response(name: str, content_type: str, chunks, *, download: bool = True):
    response = StreamingHttpResponse(_aiter(chunks), content_type=content_type)
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


class ReportList(APIView):
    @extend_schema(responses=s.ReportSerializer(many=True), operation_id="reports_list")
    def get(self, request, project_id):
        project = get_project_for(request.user, project_id, token=token_of(request))
        return Response(s.ReportSerializer(selectors.reports_of(project), many=True).data)

    @extend_schema(request=s.ReportWriteSerializer, responses={201: s.ReportSerializer},
                   operation_id="reports_create", examples=[OpenApiExample(
                       "A weekly KPI report", request_only=True, value={
                           "title": "Weekly", "range": "previous_week", "blocks": [
                               {"kind": "kpi", "title": "Sign-ups",
                                "query": "count:events{event:signup}"},
                               {"kind": "chart", "query": "avg:cpu{} by {host}",
                                "options": {"type": "line"}}]})])
    def post(self, request, project_id):
        project = get_project_for(request.user, project_id, min_role=Role.EDITOR,
                                  token=token_of(request), scope=Scope.WRITE)
        report = services.create_report(project=project, user=request.user,
                                        **valid(s.ReportWriteSerializer, _body(request)))
        return Response(s.ReportSerializer(report).data, status=status.HTTP_201_CREATED)


class ReportFromDashboard(APIView):
    @extend_schema(request=s.DashboardCopySerializer, responses={201: s.ReportSerializer},
                   operation_id="reports_from_dashboard", examples=[OpenApiExample(
                       "A dashboard's export", request_only=True, value={
                           "version": 1, "name": "Web", "variables": [], "panels": [
                               {"title": "CPU", "type": "line", "query": "avg:cpu{}",
                                "options": {}, "x": 0, "y": 0, "w": 6, "h": 4}]})])
    def post(self, request, project_id):
        project = get_project_for(request.user, project_id, min_role=Role.EDITOR,
                                  token=token_of(request), scope=Scope.WRITE)
        report = services.report_from_dashboard(
            project=project, user=request.user,
            **valid(s.DashboardCopySerializer, _body(request)))
        return Response(s.ReportSerializer(report).data, status=status.HTTP_201_CREATED)


class ReportDetail(APIView):
    @extend_schema(responses=s.ReportSerializer, operation_id="reports_retrieve")
    def get(self, request, pk):
        return Response(s.ReportSerializer(_report(request, pk)).data)

    @extend_schema(request=s.ReportWriteSerializer(partial=True), responses=s.ReportSerializer,
                   operation_id="reports_update")
    def patch(self, request, pk):
        report = _report(request, pk, write=True)
        fields = valid(s.ReportWriteSerializer, _body(request), partial=True)
        fields.pop("blocks", None)
        return Response(s.ReportSerializer(services.update_report(report=report,
                                                                  **fields)).data)

    @extend_schema(responses={204: None}, operation_id="reports_delete")
    def delete(self, request, pk):
        services.delete_report(report=_report(request, pk, write=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReportDuplicate(APIView):
    @extend_schema(request=None, responses={201: s.ReportSerializer},
                   operation_id="reports_duplicate")
    def post(self, request, pk):
        copy = services.duplicate_report(report=_report(request, pk, write=True),
                                         user=request.user)
        return Response(s.ReportSerializer(copy).data, status=status.HTTP_201_CREATED)


class BlockList(APIView):
    @extend_schema(request=s.BlockWriteSerializer, responses={201: s.BlockSerializer},
                   operation_id="report_blocks_create")
    def post(self, request, pk):
        report = _report(request, pk, write=True)
        block = services.create_block(report=report,
                                      **valid(s.BlockWriteSerializer, _body(request)))
        return Response(s.BlockSerializer(block).data, status=status.HTTP_201_CREATED)


class BlockOrder(APIView):
    @extend_schema(request=s.OrderSerializer, responses=s.BlockSerializer(many=True),
                   operation_id="report_blocks_order")
    def put(self, request, pk):
        report = _report(request, pk, write=True)
        order = valid(s.OrderSerializer, _body(request))["order"]
        return Response(s.BlockSerializer(services.reorder_blocks(report=report, order=order),
                                          many=True).data)


class BlockDetail(APIView):
    def _block(self, request, pk):
        return selectors.get_block_for(request.user, pk, min_role=Role.EDITOR,
                                       token=token_of(request), scope=Scope.WRITE)

    @extend_schema(request=s.BlockUpdateSerializer, responses=s.BlockSerializer,
                   operation_id="report_blocks_update")
    def patch(self, request, pk):
        block = self._block(request, pk)
        fields = valid(s.BlockUpdateSerializer, _body(request), context={"kind": block.kind})
        return Response(s.BlockSerializer(services.update_block(block=block, **fields)).data)

    @extend_schema(responses={204: None}, operation_id="report_blocks_delete")
    def delete(self, request, pk):
        services.delete_block(block=self._block(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class BlockPreview(APIView):
    """One block as it would render now: its data, or the engine's error with its position."""

    runs_queries = True

    @extend_schema(request=s.BlockWriteSerializer, responses=OpenApiTypes.OBJECT,
                   operation_id="report_blocks_preview", parameters=[s.RangeQuery])
    def post(self, request, pk):
        report = _report(request, pk)
        draft = valid(s.BlockWriteSerializer, _body(request))
        spec = rendering.BlockSpec(draft["kind"], draft.get("title", ""),
                                   draft.get("query", ""), draft["options"])
        rendered = _rendered(request, report, blocks=[spec])
        return Response(rendering.block_json(rendered.blocks[0], max_rows=PREVIEW_ROWS))


class ReportPreview(APIView):
    """The report as it will be e-mailed (images inline), and each block's error if any."""

    runs_queries = True

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="reports_preview",
                   parameters=[s.RangeQuery])
    def get(self, request, pk):
        rendered = _rendered(request, _report(request, pk))
        return Response({"html": mail.preview_html(rendered, mail.images_of(rendered)),
                         "range": rendered.range_text(),
                         "blocks": [{"id": b.spec.id, "title": b.title, "error": b.error}
                                    for b in rendered.blocks]})


class ReportData(APIView):
    runs_queries = True

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="reports_data",
                   parameters=[s.RangeQuery])
    def get(self, request, pk):
        return Response(rendering.snapshot(_rendered(request, _report(request, pk)),
                                           max_rows=PREVIEW_ROWS))


FILE_RESPONSES = {(200, media): OpenApiResponse(
    OpenApiTypes.OBJECT if media == "application/json" else OpenApiTypes.BINARY)
    for media in FILE_TYPES}


class ReportExport(APIView):
    """The report as a file, streamed: csv (a ZIP of one CSV per block when there are
    several), xlsx, pdf or json."""

    runs_queries = True

    @extend_schema(responses=FILE_RESPONSES, operation_id="reports_export",
                   parameters=[s.RangeQuery, OpenApiParameter(
                       "kind", str, OpenApiParameter.PATH, enum=list(EXPORTS))])
    def get(self, request, pk, kind):
        if kind not in EXPORTS:
            raise NotFound("Export kinds: csv, xlsx, pdf, json.", details={"kind": kind})
        rendered = _rendered(request, _report(request, pk))
        return file_response(*EXPORTS[kind].stream(rendered))


class BlockPng(APIView):
    runs_queries = True

    @extend_schema(responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY)},
                   operation_id="report_blocks_png", parameters=[s.RangeQuery])
    def get(self, request, pk):
        block = selectors.get_block_for(request.user, pk, token=token_of(request))
        if block.kind != "chart":
            raise NotFound("Only a chart block has a PNG.", details={"block_id": str(pk)})
        rendered = _rendered(request, block.report, blocks=rendering.specs_of(block.report))
        found = next(b for b in rendered.blocks if b.spec.id == block.pk)
        png = charts.chart_png(found, rendered.tz) if found.error is None else None
        if png is None:
            raise NotFound(found.error["error"] if found.error else "No data to draw.",
                           details={"block_id": str(pk)})
        response = HttpResponse(png, content_type="image/png")
        response["Content-Disposition"] = f'inline; filename="block-{block.pk}.png"'
        return response


class ScheduleDetail(APIView):
    @extend_schema(request=s.ScheduleWriteSerializer, responses=s.ScheduleSerializer,
                   operation_id="report_schedule_set", examples=[OpenApiExample(
                       "Mondays at 09:00", request_only=True,
                       value={"kind": "weekly", "weekday": 0, "time": "09:00"})])
    def put(self, request, pk):
        report = _report(request, pk, write=True)
        schedule = services.set_schedule(report=report,
                                         **valid(s.ScheduleWriteSerializer, _body(request)))
        return Response(s.ScheduleSerializer(schedule).data)

    @extend_schema(responses={204: None}, operation_id="report_schedule_delete")
    def delete(self, request, pk):
        services.remove_schedule(report=_report(request, pk, write=True))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecipientList(APIView):
    @extend_schema(responses=s.RecipientSerializer(many=True),
                   operation_id="report_recipients_list")
    def get(self, request, pk):
        report = _report(request, pk)
        return Response(s.RecipientSerializer(report.recipients.all(), many=True).data)

    @extend_schema(request=s.RecipientWriteSerializer, responses={201: s.RecipientSerializer},
                   operation_id="report_recipients_create")
    def post(self, request, pk):
        report = _report(request, pk, write=True)
        recipient = services.add_recipient(report=report,
                                           **valid(s.RecipientWriteSerializer, _body(request)))
        return Response(s.RecipientSerializer(recipient).data, status=status.HTTP_201_CREATED)


class RecipientDetail(APIView):
    def _recipient(self, request, pk):
        return selectors.get_recipient_for(request.user, pk, min_role=Role.EDITOR,
                                           token=token_of(request), scope=Scope.WRITE)

    @extend_schema(request=s.RecipientUpdateSerializer, responses=s.RecipientSerializer,
                   operation_id="report_recipients_update")
    def patch(self, request, pk):
        recipient = self._recipient(request, pk)
        fields = valid(s.RecipientUpdateSerializer, _body(request))
        return Response(s.RecipientSerializer(services.update_recipient(
            recipient=recipient, **fields)).data)

    @extend_schema(responses={204: None}, operation_id="report_recipients_delete")
    def delete(self, request, pk):
        services.remove_recipient(recipient=self._recipient(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RunNow(APIView):
    @extend_schema(request=None, responses={202: s.RunSerializer}, operation_id="reports_run")
    def post(self, request, pk):
        run = runs.run_now(report=_report(request, pk, write=True), user=request.user)
        return Response(s.RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunList(APIView):
    @extend_schema(responses=s.RunSerializer(many=True), operation_id="report_runs_list")
    def get(self, request, pk):
        return Response(s.RunSerializer(selectors.runs_of(_report(request, pk)),
                                        many=True).data)


def _run(request, pk, *, write=False) -> Run:
    return selectors.get_run_for(request.user, pk, min_role=Role.EDITOR if write
                                 else Role.VIEWER, token=token_of(request),
                                 scope=Scope.WRITE if write else Scope.READ)


class RunDetail(APIView):
    @extend_schema(responses=s.RunSerializer, operation_id="report_runs_retrieve")
    def get(self, request, pk):
        return Response(s.RunSerializer(_run(request, pk)).data)


class RunFileDownload(APIView):
    @extend_schema(responses={**FILE_RESPONSES,
                              (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY)},
                   operation_id="report_runs_file")
    def get(self, request, pk, file_id):
        found = selectors.file_of(_run(request, pk), file_id)
        if found is None:
            raise NotFound("File not found.", details={"file_id": str(file_id)})
        response = HttpResponse(bytes(found.content), content_type=found.content_type)
        response["Content-Disposition"] = f'attachment; filename="{found.name}"'
        return response


class RevokeLink(APIView):
    @extend_schema(request=None, responses=s.RunSerializer, operation_id="report_runs_revoke")
    def post(self, request, pk):
        run = _run(request, pk, write=True)
        services.revoke_link(run=run)
        run.refresh_from_db()
        return Response(s.RunSerializer(run).data)

