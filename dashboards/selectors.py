"""Reads of dashboards, scoped to the projects the caller may see (404 outside them)."""

from __future__ import annotations

from django.db.models import Q

from analytics_site.errors import ApiError, NotFound
from events.query import metric_tags, parse, queries_of
from projects.models import Role, Scope
from projects.selectors import get_scoped_for
from projects.tokens import hash_token

from .models import Annotation, Dashboard, Panel


def dashboards_of(project) -> list[Dashboard]:
    return list(Dashboard.objects.filter(project=project).prefetch_related("panels"))


def get_dashboard_for(user, dashboard_id, *, min_role: str = Role.VIEWER, token=None,
                      scope: str = Scope.READ) -> Dashboard:
    return get_scoped_for(user, Dashboard.objects, dashboard_id, label="Dashboard",
                          id_field="dashboard_id", min_role=min_role, token=token, scope=scope)


def get_panel_for(user, panel_id, *, min_role: str = Role.VIEWER, token=None,
                  scope: str = Scope.READ) -> Panel:
    return get_scoped_for(user, Panel.objects, panel_id, label="Panel", id_field="panel_id",
                          project_path="dashboard__project", min_role=min_role, token=token,
                          scope=scope)


def public_dashboard(raw_token) -> Dashboard:
    """The dashboard behind a public link, or 404 (unknown or revoked)."""
    if not isinstance(raw_token, str) or not raw_token.startswith("pd_") or len(raw_token) > 64:
        raise NotFound("Not found.")
    dashboard = (Dashboard.objects.select_related("project")
                 .filter(public_token_hash=hash_token(raw_token)).first())
    if dashboard is None:
        raise NotFound("Not found.")
    return dashboard


def annotations_of(project, *, start=None, end=None, dashboard_id=None) -> list[Annotation]:
    """Marks of the project (and of one dashboard) touching ``start``..``end``."""
    found = Annotation.objects.filter(project=project)
    if dashboard_id is not None:
        found = found.filter(Q(dashboard__isnull=True) | Q(dashboard_id=dashboard_id))
    if end is not None:
        found = found.filter(at__lte=end)
    if start is not None:
        found = found.filter(Q(ends_at__gte=start) | Q(ends_at__isnull=True, at__gte=start))
    return list(found[:500])


def get_annotation_for(user, annotation_id, *, min_role=Role.VIEWER, token=None,
                       scope=Scope.READ) -> Annotation:
    return get_scoped_for(user, Annotation.objects, annotation_id, label="Annotation",
                          min_role=min_role, token=token, scope=scope)


def variable_choices(dashboard, params) -> list[dict]:
    """Each variable of the dashboard with its values (the tag's values on its metric) and the
    ones chosen in ``params`` (``var-<name>``, only known values; none chosen means all)."""
    choices = []
    for variable in dashboard.variables:
        tags = metric_tags(dashboard.project_id, variable["metric"]) or {}
        values = tags.get(variable["tag"], {}).get("values", [])
        picked = [v for v in params.getlist(f"var-{variable['name']}") if v in values]
        choices.append({**variable, "values": values, "chosen": picked})
    return choices


def chosen_variables(choices: list[dict]) -> dict:
    """What the query engine takes: ``{name: [values] or None for all}``."""
    return {c["name"]: c["chosen"] or None for c in choices}


def panel_sources(project_id: int, ids: list[int]) -> dict[int, set[str]]:
    """For each of these panels of the project's dashboards, what its query reads: metric
    names, or "events". A stored query that no longer parses reads nothing live."""
    sources = {}
    for panel in Panel.objects.filter(pk__in=ids, dashboard__project_id=project_id):
        try:
            sources[panel.pk] = {q.source for q in queries_of(parse(panel.query))}
        except ApiError:
            sources[panel.pk] = set()
    return sources
