"""HTML pages of the dashboards app. Thin: pages are shells whose scripts read the query and
analytics APIs (events.query underneath) and the project's WebSocket; forms are checked by the
API's write serializers and write through dashboards.services, and any refusal is a message on
the page they return to."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings
from rest_framework.utils import json

from analytics_site.errors import ApiError, or_404
from analytics_site.fields import valid
from events.models import MetricDefinition
from projects.models import Role
from projects.selectors import can_edit, get_project_for, role_of

from . import selectors, services
from .api.serializers import DashboardExportSerializer, DashboardWriteSerializer, PanelSerializer
from .models import PanelType

RANGES = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
DASHBOARD_RANGES = {"15m": "15 minutes", "1h": "1 hour", "6h": "6 hours", "24h": "24 hours",
                    "7d": "7 days", "30d": "30 days"}
REFRESH = {"off": "Off", "5s": "5 s", "10s": "10 s", "30s": "30 s", "1m": "1 min"}


def _first_error(detail, path: str = "") -> str:
    """A serializer's first message, named by where it is (``panels[1].title: …``)."""
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        if key == api_settings.NON_FIELD_ERRORS_KEY:
            return _first_error(value, path)
        if str(key).isdigit():
            return _first_error(value, f"{path}[{key}]")
        return _first_error(value, f"{path}.{key}" if path else str(key))
    if isinstance(detail, list) and detail:
        return _first_error(detail[0], path)
    return f"{path}: {detail}" if path else str(detail or "Invalid input.")


def _problem(exc: ValidationError | ApiError) -> str:
    return _first_error(exc.detail) if isinstance(exc, ValidationError) else exc.message


@login_required
def overview(request, project_id):
    project = or_404(get_project_for, request.user, project_id)
    chosen = request.GET.get("range", "7d")
    if chosen not in RANGES:
        chosen = "7d"
    return render(request, "dashboards/overview.html",
                  {"project": project, "ranges": RANGES, "range": chosen})


@login_required
def dashboard_list(request, project_id):
    project = or_404(get_project_for, request.user, project_id)
    editable = can_edit(request.user, project)
    return render(request, "dashboards/list.html", {
        "project": project, "dashboards": selectors.dashboards_of(project),
        "can_edit": editable})


@login_required
@require_POST
def dashboard_create(request, project_id):
    project = or_404(get_project_for, request.user, project_id, min_role=Role.EDITOR)
    try:
        fields = valid(DashboardWriteSerializer, {"name": request.POST.get("name", "")})
        dashboard = services.create_dashboard(project=project, user=request.user, **fields)
    except (ValidationError, ApiError) as exc:
        messages.error(request, _problem(exc))
        return redirect("dashboards:list", project.pk)
    return redirect("dashboards:detail", project.pk, dashboard.pk)


@login_required
@require_POST
def dashboard_import(request, project_id):
    project = or_404(get_project_for, request.user, project_id, min_role=Role.EDITOR)
    upload = request.FILES.get("file")
    try:
        # As strict as the API's parser: no NaN or Infinity, which jsonb cannot hold.
        document = json.loads(upload.read() if upload else request.POST.get("json", ""))
    except (ValueError, RecursionError):  # a UnicodeDecodeError is a ValueError
        messages.error(request, "That file is not JSON.")
        return redirect("dashboards:list", project.pk)
    try:
        dashboard = services.import_dashboard(project=project, user=request.user,
                                              **valid(DashboardExportSerializer, document))
    except (ValidationError, ApiError) as exc:
        messages.error(request, f"Not imported: {_problem(exc)}")
    else:
        messages.success(request, f"Imported “{dashboard.name}”.")
    return redirect("dashboards:list", project.pk)


@login_required
@require_POST
def dashboard_action(request, project_id, dashboard_id, action):
    dashboard = or_404(selectors.get_dashboard_for, request.user, dashboard_id,
                        min_role=Role.EDITOR)
    if dashboard.project_id != int(project_id):
        raise Http404("Dashboard not found")
    if action == "duplicate":
        copy = services.duplicate_dashboard(dashboard=dashboard, user=request.user)
        messages.success(request, f"Duplicated as “{copy.name}”.")
    elif action == "delete":
        services.delete_dashboard(dashboard=dashboard)
        messages.success(request, f"Deleted “{dashboard.name}”.")
    elif action == "rename":
        try:
            fields = valid(DashboardWriteSerializer, {"name": request.POST.get("name", "")},
                           partial=True)
            services.update_dashboard(dashboard=dashboard, **fields)
        except (ValidationError, ApiError) as exc:
            messages.error(request, _problem(exc))
    else:
        raise Http404("No such action")
    return redirect("dashboards:list", project_id)


@login_required
def dashboard_detail(request, project_id, dashboard_id):
    dashboard = or_404(selectors.get_dashboard_for, request.user, dashboard_id)
    if dashboard.project_id != int(project_id):
        raise Http404("Dashboard not found")
    project = dashboard.project
    chosen = request.GET.get("range", "6h")
    refresh = request.GET.get("refresh", "off")
    editable = can_edit(request.user, project)
    return render(request, "dashboards/detail.html", {
        "variables": selectors.variable_choices(dashboard, request.GET),
        "project": project, "dashboard": dashboard,
        "panels": PanelSerializer(dashboard.panels.all(), many=True).data,
        "ranges": DASHBOARD_RANGES, "range": chosen if chosen in DASHBOARD_RANGES else "6h",
        "refreshes": REFRESH, "refresh": refresh if refresh in REFRESH else "off",
        "zoomed": bool(request.GET.get("from") and request.GET.get("to")),
        "can_edit": editable})


def public_dashboard(request, token):
    """A dashboard behind its public link: no login, no navigation, nothing else of the
    project; panels load their own stored queries only."""
    dashboard = or_404(selectors.public_dashboard, token)
    chosen = request.GET.get("range", "6h")
    response = render(request, "dashboards/detail.html", {
        "public": True, "public_base": f"/public/dashboards/{token}/",
        "dashboard": dashboard, "variables": selectors.variable_choices(dashboard, request.GET),
        "panels": PanelSerializer(dashboard.panels.all(), many=True).data,
        "ranges": DASHBOARD_RANGES, "range": chosen if chosen in DASHBOARD_RANGES else "6h",
        "refreshes": REFRESH, "refresh": "off", "can_edit": False,
        "zoomed": bool(request.GET.get("from") and request.GET.get("to"))})
    response["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    response["X-Robots-Tag"] = "noindex"
    return response


@login_required
def panel_editor(request, project_id, dashboard_id, panel_id=None):
    """Create or edit a panel: the query with a live preview and the engine's messages in
    place. Saving goes through the panels API (the page's script)."""
    dashboard = or_404(selectors.get_dashboard_for, request.user, dashboard_id,
                        min_role=Role.EDITOR)
    if dashboard.project_id != int(project_id):
        raise Http404("Dashboard not found")
    panel = None
    if panel_id is not None:
        panel = dashboard.panels.filter(pk=panel_id).first()
        if panel is None:
            raise Http404("Panel not found")
    # A new panel may come prefilled (?title=&query=), e.g. from the metrics explorer.
    data = PanelSerializer(panel).data if panel else {
        "id": None, "title": request.GET.get("title", ""), "type": "line",
        "query": request.GET.get("query", ""), "options": {}}
    return render(request, "dashboards/panel_editor.html", {
        "project": dashboard.project, "dashboard": dashboard, "panel": data,
        "types": PanelType.choices, "calculations": services.CALCULATIONS})


@login_required
def metrics(request, project_id):
    """The metrics explorer: the catalogue searched, one metric's definition (editors edit it in
    place), its tags and a chart, and links to a new panel or alert rule holding its query. A
    shell: static/js/metrics.js reads the catalogue and query APIs."""
    project = or_404(get_project_for, request.user, project_id)
    editable = can_edit(request.user, project)
    return render(request, "dashboards/metrics.html", {
        "project": project, "can_edit": editable,
        "dashboards": selectors.dashboards_of(project) if editable else [],
        "units": MetricDefinition.UNITS, "types": MetricDefinition.Type.choices})


# -- product analytics pages: shells whose script (static/js/product.js) reads events' API ---------
PRODUCT_PAGES = (("dashboards:funnels", "Funnels"), ("dashboards:retention", "Retention"),
                 ("dashboards:paths", "Paths"), ("dashboards:sessions", "Sessions"),
                 ("dashboards:people", "People"), ("dashboards:events", "Events"))


def _product_page(template: str, **extra):
    @login_required
    def page(request, project_id, **kwargs):
        project = or_404(get_project_for, request.user, project_id)
        context = {"project": project, "product_pages": PRODUCT_PAGES, **kwargs}
        for name, decide in extra.items():
            context[name] = decide(request.user, project)
        return render(request, f"dashboards/product/{template}.html", context)

    return page


funnels = _product_page("funnel")
retention = _product_page("retention")
paths = _product_page("paths")
sessions = _product_page("sessions")
session = _product_page("session")
people = _product_page("people")
person = _product_page("person", can_erase=lambda user, project: role_of(user, project)
                       == Role.ADMIN)
events = _product_page("events")
