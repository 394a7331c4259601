"""Writes of dashboards, panels and annotations: the only place that changes them.

The services take values already checked for shape by the write serializers
(``dashboards.api.serializers``: types, lengths, choices, text and JSON PostgreSQL can hold, times
in UTC) and keep the rules that need the database or the query engine: a panel fits the
12-column grid, a layout places every panel once without overlaps, a dashboard holds at most
``MAX_PANELS`` panels, and a panel's query parses, so a panel never stores one that cannot run.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, NotRequired, TypedDict

from django.core import signing
from django.db import transaction
from django.utils import timezone

from analytics_site.errors import ApiError, ValidationFailed
from events import query as engine
from projects.tokens import hash_token

from .compare import OVERLAID_TYPES, is_on
from .models import GRID_COLUMNS, MAX_PANEL_HEIGHT, Annotation, Dashboard, Panel, PanelType

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from projects.models import Project

CALCULATIONS = ("last", "avg", "min", "max", "sum")
MAX_PANELS = 50
MAX_ROW = 1000  # the lowest row a panel may start on


# -- the values the services take -----------------------------------------------------------------
# TypedDicts rather than dataclasses: options and variables are stored as the JSON they are, and
# each is what a write serializer's validated data is.
class Threshold(TypedDict):
    value: float
    color: str  # "#rrggbb"


class PanelOptions(TypedDict, total=False):
    unit: str
    color: str
    legend: bool
    thresholds: list[Threshold]  # sorted by value
    min: float
    max: float
    calculation: Literal["last", "avg", "min", "max", "sum"]
    anomaly_band: bool  # line and area panels only
    compare: Literal["none", "previous_period", "1d", "1w"]  # line, area and bar panels only


class Variable(TypedDict):
    """``$name`` in a panel's query: the values of ``tag`` on ``metric``."""

    name: str
    metric: str
    tag: str


class PanelDraft(TypedDict):
    """A panel of an imported dashboard: ``create_panel``'s arguments."""

    title: str
    query: str
    type: NotRequired[str]
    options: NotRequired[PanelOptions]
    x: NotRequired[int]
    y: NotRequired[int]
    w: NotRequired[int]
    h: NotRequired[int]


class LayoutItem(TypedDict):
    """Where one panel goes. ``id`` is None when what was sent was not an id at all: it names no
    panel, which ``save_layout`` answers with the ids it expects."""

    id: int | None
    x: int
    y: int
    w: int
    h: int


def _check_box(x: int, y: int, w: int, h: int, where: str) -> None:
    if x < 0 or y < 0 or not 1 <= w <= GRID_COLUMNS or x + w > GRID_COLUMNS \
            or not 1 <= h <= MAX_PANEL_HEIGHT or y > MAX_ROW:
        raise ValidationFailed(
            f"{where}: the panel must fit the {GRID_COLUMNS}-column grid "
            f"(0 ≤ x, x + w ≤ {GRID_COLUMNS}, 1 ≤ h ≤ {MAX_PANEL_HEIGHT}).",
            details={where: [f"Outside the {GRID_COLUMNS}-column grid."]})


def _check_query(text: str) -> str:
    engine.parse(text)  # QUERY_SYNTAX / QUERY_INVALID with the position, as the API gives them
    return text


# -- dashboards -----------------------------------------------------------------------------------
@transaction.atomic
def create_dashboard(*, project: Project, name: str, user: AbstractBaseUser | None,
                     description: str = "", variables: Sequence[Variable] = ()) -> Dashboard:
    return Dashboard.objects.create(project=project, name=name, created_by=user,
                                    description=description, variables=list(variables))


@transaction.atomic
def update_dashboard(*, dashboard: Dashboard, name: str | None = None,
                     description: str | None = None,
                     variables: Sequence[Variable] | None = None) -> Dashboard:
    """Changes what is given (None: unchanged)."""
    if name is not None:
        dashboard.name = name
    if description is not None:
        dashboard.description = description
    if variables is not None:
        dashboard.variables = list(variables)
    dashboard.save()
    return dashboard


@transaction.atomic
def duplicate_dashboard(*, dashboard: Dashboard, user: AbstractBaseUser | None) -> Dashboard:
    copy = Dashboard.objects.create(project=dashboard.project, created_by=user,
                                    name=f"Copy of {dashboard.name}"[:100],
                                    description=dashboard.description,
                                    variables=dashboard.variables)
    Panel.objects.bulk_create([
        Panel(dashboard=copy, title=p.title, type=p.type, query=p.query, options=p.options,
              x=p.x, y=p.y, w=p.w, h=p.h) for p in dashboard.panels.all()])
    return copy


def delete_dashboard(*, dashboard: Dashboard) -> None:
    dashboard.delete()


# -- panels ---------------------------------------------------------------------------------------
@transaction.atomic
def create_panel(*, dashboard: Dashboard, title: str, query: str, type: str = PanelType.LINE,
                 options: PanelOptions | None = None, x: int | None = None,
                 y: int | None = None, w: int = 6, h: int = 4) -> Panel:
    """A panel at ``x``, ``y`` (by default at the left, below every other panel)."""
    panels = list(Dashboard.objects.select_for_update().get(pk=dashboard.pk).panels.all())
    if len(panels) >= MAX_PANELS:
        raise ValidationFailed(f"A dashboard holds at most {MAX_PANELS} panels.",
                               details={"panels": [f"At most {MAX_PANELS}."]})
    if y is None:
        y = max((p.y + p.h for p in panels), default=0)
    x = 0 if x is None else x
    _check_box(x, y, w, h, "position")
    return Panel.objects.create(dashboard=dashboard, title=title, type=type,
                                query=_check_query(query), options=options or {},
                                x=x, y=y, w=w, h=h)


def check_anomaly_band(type: str) -> None:
    """The anomaly band is drawn on time series: line and area panels."""
    if type not in (PanelType.LINE, PanelType.AREA):
        raise ValidationFailed("options.anomaly_band: only line and area panels draw a band.",
                               details={"options.anomaly_band": ["Line and area panels only."]})


def check_compare(type: str) -> None:
    """A comparison overlay is drawn over time: line, area and bar panels."""
    if type not in OVERLAID_TYPES:
        raise ValidationFailed("options.compare: only line, area and bar panels draw an overlay.",
                               details={"options.compare": ["Line, area and bar panels only."]})


@transaction.atomic
def update_panel(*, panel: Panel, title: str | None = None, type: str | None = None,
                 query: str | None = None, options: PanelOptions | None = None) -> Panel:
    """Changes what is given (None: unchanged); a panel moves with ``save_layout``."""
    if title is not None:
        panel.title = title
    if type is not None:
        panel.type = type
    if query is not None:
        panel.query = _check_query(query)
    if options is not None:
        panel.options = options
    if panel.options.get("anomaly_band"):
        check_anomaly_band(panel.type)
    if is_on(panel.options.get("compare")):
        check_compare(panel.type)
    panel.save()
    return panel


def delete_panel(*, panel: Panel) -> None:
    panel.delete()


@transaction.atomic
def save_layout(*, dashboard: Dashboard, items: Sequence[LayoutItem]) -> list[Panel]:
    """Every panel of the dashboard, each once, inside the grid, none overlapping."""
    panels = {p.pk: p for p in Dashboard.objects.select_for_update().get(pk=dashboard.pk)
              .panels.all()}
    ids = [item["id"] for item in items]
    if sorted(ids, key=str) != sorted(panels, key=str):
        raise ValidationFailed("layout: must list each panel of the dashboard once.",
                               details={"layout": ["Each panel once."],
                                        "panels": sorted(panels)})
    for i, item in enumerate(items):
        _check_box(item["x"], item["y"], item["w"], item["h"], f"layout[{i}]")
    cells: dict[tuple[int, int], int] = {}
    for item in items:
        panel_id = item["id"]
        for cx in range(item["x"], item["x"] + item["w"]):
            for cy in range(item["y"], item["y"] + item["h"]):
                other = cells.setdefault((cx, cy), panel_id)
                if other != panel_id:
                    raise ValidationFailed(
                        f"layout: panels {other} and {panel_id} overlap.",
                        details={"layout": ["Panels overlap."], "panels": [other, panel_id]})
    for item in items:
        panel = panels[item["id"]]
        panel.x, panel.y, panel.w, panel.h = item["x"], item["y"], item["w"], item["h"]
    Panel.objects.bulk_update(panels.values(), ["x", "y", "w", "h"])
    Dashboard.objects.filter(pk=dashboard.pk).update(updated_at=timezone.now())
    return sorted(panels.values(), key=lambda p: (p.y, p.x, p.pk))


# -- export / import ------------------------------------------------------------------------------
EXPORT_VERSION = 1


def export_dashboard(dashboard: Dashboard) -> dict:
    return {"version": EXPORT_VERSION, "name": dashboard.name,
            "description": dashboard.description, "variables": dashboard.variables,
            "panels": [{"title": p.title, "type": p.type, "query": p.query, "options": p.options,
                        "x": p.x, "y": p.y, "w": p.w, "h": p.h}
                       for p in dashboard.panels.all()]}


@transaction.atomic
def import_dashboard(*, project: Project, user: AbstractBaseUser | None, name: str,
                     description: str = "", variables: Sequence[Variable] = (),
                     panels: Sequence[PanelDraft] = ()) -> Dashboard:
    """A dashboard from ``export_dashboard``'s JSON (checked whole by its serializer first),
    held to the rules of one built by hand; all of it or nothing."""
    if len(panels) > MAX_PANELS:
        raise ValidationFailed(f"panels: a list of at most {MAX_PANELS}.",
                               details={"panels": [f"At most {MAX_PANELS}."]})
    dashboard = create_dashboard(project=project, name=name, user=user,
                                 description=description, variables=variables)
    created = []
    for i, draft in enumerate(panels):
        try:
            created.append(create_panel(dashboard=dashboard, **draft))
        except ApiError as exc:  # a query that does not parse, a box off the grid: say which panel
            exc.details = {**exc.details, "panel": i}
            raise
    save_layout(dashboard=dashboard, items=[
        {"id": p.pk, "x": p.x, "y": p.y, "w": p.w, "h": p.h} for p in created])
    return dashboard


# -- public links ---------------------------------------------------------------------------------
def create_public_link(*, dashboard: Dashboard) -> str:
    """A new unguessable token for a read-only public view of this dashboard (replacing any
    earlier one). Only its SHA-256 is stored: the caller shows the token once."""
    raw = "pd_" + secrets.token_urlsafe(24)
    dashboard.public_token_hash = hash_token(raw)
    dashboard.save(update_fields=["public_token_hash", "updated_at"])
    return raw


def revoke_public_link(*, dashboard: Dashboard) -> None:
    dashboard.public_token_hash = None
    dashboard.save(update_fields=["public_token_hash", "updated_at"])


# -- annotations ----------------------------------------------------------------------------------
@transaction.atomic
def create_annotation(*, project: Project, text: str, at: datetime,
                      ends_at: datetime | None = None, dashboard: Dashboard | None = None,
                      user: AbstractBaseUser | None = None) -> Annotation:
    """A mark at ``at`` (a band up to ``ends_at``) on one dashboard of the project, or on all of
    them. Aware times, stored in UTC: PostgreSQL refuses offsets beyond ±15:59 that a Python
    datetime can carry."""
    if dashboard is not None and dashboard.project_id != project.pk:
        raise ValidationFailed("dashboard: not in this project.",
                               details={"dashboard": ["Not in this project."]})
    return Annotation.objects.create(
        project=project, dashboard=dashboard, at=at.astimezone(UTC),
        ends_at=ends_at.astimezone(UTC) if ends_at is not None else None, text=text,
        created_by=user)


def delete_annotation(*, annotation: Annotation) -> None:
    annotation.delete()


# -- live tickets ---------------------------------------------------------------------------------
LIVE_TICKET_SALT = "dashboards.live-ticket"
LIVE_TICKET_TTL_S = 60


def issue_live_ticket(*, user, project) -> str:
    """A short-lived signed ticket that opens ``WS /ws/projects/<id>/`` for an API user (a
    client without the page's session cookie). It names the user and the project; the
    consumer checks both again, so a ticket outlives neither a membership nor its minute."""
    return signing.dumps({"u": user.pk, "p": project.pk}, salt=LIVE_TICKET_SALT, compress=True)


def user_of_live_ticket(ticket: str, project_id: int):
    """The user a valid, unexpired ticket for this project was issued to, else None."""
    from django.contrib.auth import get_user_model

    try:
        data = signing.loads(ticket, salt=LIVE_TICKET_SALT, max_age=LIVE_TICKET_TTL_S)
    except signing.BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(data, dict) or data.get("p") != project_id:
        return None
    return get_user_model().objects.filter(pk=data.get("u"), is_active=True).first()
