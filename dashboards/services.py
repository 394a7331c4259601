"""Writes of dashboards and panels: the only place that changes them. Panel queries are checked
by the query engine's parser, so a panel never stores a query that cannot run."""

from __future__ import annotations

import re
import secrets

from django.core import signing
from django.db import transaction
from django.utils import timezone

from analytics_site.errors import ApiError, ValidationFailed
from events import query as engine
from events.query import METRIC_NAME, QUERY_KEY, parse_time
from projects.tokens import hash_token

from .models import GRID_COLUMNS, MAX_PANEL_HEIGHT, Annotation, Dashboard, Panel, PanelType

CALCULATIONS = ("last", "avg", "min", "max", "sum")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")
MAX_PANELS = 50


def _name(value, field: str = "name", limit: int = 100) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{field}: this field may not be blank.",
                               details={field: ["This field may not be blank."]})
    value = value.strip()
    if len(value) > limit:
        raise ValidationFailed(f"{field}: at most {limit} characters.",
                               details={field: [f"At most {limit} characters."]})
    return value


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(f"options.{field}: must be a number.",
                               details={f"options.{field}": ["Must be a number."]})
    return float(value)


def clean_options(options) -> dict:
    """unit, color, legend, thresholds [{value, color}], min, max, calculation."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ValidationFailed("options: must be an object.", details={"options": ["Object."]})
    allowed = {"unit", "color", "legend", "thresholds", "min", "max", "calculation"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValidationFailed(f"options: unknown keys {', '.join(unknown)}.",
                               details={f"options.{k}": ["Unknown option."] for k in unknown})
    clean: dict = {}
    if "unit" in options:
        clean["unit"] = _name(options["unit"], "options.unit", 20)
    if "color" in options:
        if not isinstance(options["color"], str) or not _COLOR.match(options["color"]):
            raise ValidationFailed("options.color: a colour like #4c6ef5.",
                                   details={"options.color": ["A colour like #4c6ef5."]})
        clean["color"] = options["color"]
    if "legend" in options:
        if not isinstance(options["legend"], bool):
            raise ValidationFailed("options.legend: true or false.",
                                   details={"options.legend": ["true or false."]})
        clean["legend"] = options["legend"]
    for bound in ("min", "max"):
        if options.get(bound) is not None:
            clean[bound] = _number(options[bound], bound)
    if "calculation" in options:
        if options["calculation"] not in CALCULATIONS:
            raise ValidationFailed(f"options.calculation: one of {', '.join(CALCULATIONS)}.",
                                   details={"options.calculation": list(CALCULATIONS)})
        clean["calculation"] = options["calculation"]
    if "thresholds" in options:
        steps = options["thresholds"]
        if not isinstance(steps, list) or len(steps) > 10:
            raise ValidationFailed("options.thresholds: a list of up to 10 {value, color}.",
                                   details={"options.thresholds": ["Up to 10 {value, color}."]})
        clean["thresholds"] = []
        for i, step in enumerate(steps):
            if (not isinstance(step, dict) or not isinstance(step.get("color"), str)
                    or not _COLOR.match(step["color"])):
                raise ValidationFailed(f"options.thresholds[{i}]: needs value and a #rrggbb color.",
                                       details={f"options.thresholds[{i}]": ["{value, color}"]})
            clean["thresholds"].append({"value": _number(step.get("value"), f"thresholds[{i}]"),
                                        "color": step["color"]})
        clean["thresholds"].sort(key=lambda s: s["value"])
    return clean


def check_query(text) -> str:
    if not isinstance(text, str):
        raise ValidationFailed("query: a query is required.", details={"query": ["Required."]})
    engine.parse(text)  # QUERY_SYNTAX / QUERY_INVALID with the position, as the API gives them
    return text.strip()


def _check_box(x, y, w, h, where: str) -> tuple[int, int, int, int]:
    values = (x, y, w, h)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ValidationFailed(f"{where}: x, y, w and h are integers.",
                               details={where: ["x, y, w and h are integers."]})
    if x < 0 or y < 0 or not 1 <= w <= GRID_COLUMNS or x + w > GRID_COLUMNS \
            or not 1 <= h <= MAX_PANEL_HEIGHT or y > 1000:
        raise ValidationFailed(
            f"{where}: the panel must fit the {GRID_COLUMNS}-column grid "
            f"(0 ≤ x, x + w ≤ {GRID_COLUMNS}, 1 ≤ h ≤ {MAX_PANEL_HEIGHT}).",
            details={where: [f"Outside the {GRID_COLUMNS}-column grid."]})
    return values


# -- dashboards -----------------------------------------------------------------------------------
def create_dashboard(*, project, name, user, description: str = "") -> Dashboard:
    return Dashboard.objects.create(project=project, name=_name(name), created_by=user,
                                    description=(description or "")[:500])


def clean_variables(variables) -> list[dict]:
    """[{"name": "host", "metric": "http.latency_ms", "tag": "host"}, ...], names unique."""
    if not isinstance(variables, list) or len(variables) > 10:
        raise ValidationFailed("variables: a list of up to 10 {name, metric, tag}.",
                               details={"variables": ["Up to 10 {name, metric, tag}."]})
    clean, seen = [], set()
    for i, item in enumerate(variables):
        where = f"variables[{i}]"
        if not isinstance(item, dict) or set(item) - {"name", "metric", "tag"}:
            raise ValidationFailed(f"{where}: an object with name, metric and tag.",
                                   details={where: ["{name, metric, tag}"]})
        name, metric, tag = item.get("name"), item.get("metric"), item.get("tag")
        if not isinstance(name, str) or not _VARIABLE.match(name) or name in seen:
            raise ValidationFailed(f"{where}.name: letters, digits and _, unique.",
                                   details={f"{where}.name": ["Letters, digits and _, unique."]})
        if not isinstance(metric, str) or not METRIC_NAME.match(metric):
            raise ValidationFailed(f"{where}.metric: a metric name.",
                                   details={f"{where}.metric": ["A metric name."]})
        if not isinstance(tag, str) or not QUERY_KEY.match(tag):
            raise ValidationFailed(f"{where}.tag: a tag key.",
                                   details={f"{where}.tag": ["A tag key."]})
        seen.add(name)
        clean.append({"name": name, "metric": metric, "tag": tag})
    return clean


def update_dashboard(*, dashboard: Dashboard, **fields) -> Dashboard:
    unknown = set(fields) - {"name", "description", "variables"}
    if unknown:
        raise ValidationFailed("Unknown fields.", details={f: ["Unknown field."] for f in unknown})
    if "name" in fields:
        dashboard.name = _name(fields["name"])
    if "description" in fields:
        dashboard.description = str(fields["description"] or "")[:500]
    if "variables" in fields:
        dashboard.variables = clean_variables(fields["variables"])
    dashboard.save()
    return dashboard


@transaction.atomic
def duplicate_dashboard(*, dashboard: Dashboard, user) -> Dashboard:
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
def _type(value) -> str:
    if value not in PanelType.values:
        raise ValidationFailed(f"type: one of {', '.join(PanelType.values)}.",
                               details={"type": [f"One of {', '.join(PanelType.values)}."]})
    return value


@transaction.atomic
def create_panel(*, dashboard: Dashboard, title, query, type=PanelType.LINE, options=None,
                 x=None, y=None, w=6, h=4) -> Panel:
    panels = list(Dashboard.objects.select_for_update().get(pk=dashboard.pk).panels.all())
    if len(panels) >= MAX_PANELS:
        raise ValidationFailed(f"A dashboard holds at most {MAX_PANELS} panels.",
                               details={"panels": [f"At most {MAX_PANELS}."]})
    if y is None:  # below everything
        y = max((p.y + p.h for p in panels), default=0)
    x = 0 if x is None else x
    x, y, w, h = _check_box(x, y, w, h, "position")
    return Panel.objects.create(dashboard=dashboard, title=_name(title, "title"),
                                type=_type(type), query=check_query(query),
                                options=clean_options(options), x=x, y=y, w=w, h=h)


def update_panel(*, panel: Panel, **fields) -> Panel:
    unknown = set(fields) - {"title", "type", "query", "options"}
    if unknown:
        raise ValidationFailed("Unknown fields.", details={f: ["Unknown field."] for f in unknown})
    if "title" in fields:
        panel.title = _name(fields["title"], "title")
    if "type" in fields:
        panel.type = _type(fields["type"])
    if "query" in fields:
        panel.query = check_query(fields["query"])
    if "options" in fields:
        panel.options = clean_options(fields["options"])
    panel.save()
    return panel


def delete_panel(*, panel: Panel) -> None:
    panel.delete()


@transaction.atomic
def save_layout(*, dashboard: Dashboard, items) -> list[Panel]:
    """Every panel of the dashboard, each once, inside the grid, none overlapping."""
    panels = {p.pk: p for p in Dashboard.objects.select_for_update().get(pk=dashboard.pk)
              .panels.all()}
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValidationFailed("layout: a list of {id, x, y, w, h}.",
                               details={"layout": ["A list of {id, x, y, w, h}."]})
    ids = [i.get("id") for i in items]
    if sorted(ids, key=str) != sorted(panels, key=str):
        raise ValidationFailed("layout: must list each panel of the dashboard once.",
                               details={"layout": ["Each panel once."],
                                        "panels": sorted(panels)})
    boxes = {}
    for i, item in enumerate(items):
        boxes[item["id"]] = _check_box(item.get("x"), item.get("y"), item.get("w"),
                                       item.get("h"), f"layout[{i}]")
    cells: dict[tuple[int, int], int] = {}
    for panel_id, (x, y, w, h) in boxes.items():
        for cx in range(x, x + w):
            for cy in range(y, y + h):
                other = cells.setdefault((cx, cy), panel_id)
                if other != panel_id:
                    raise ValidationFailed(
                        f"layout: panels {other} and {panel_id} overlap.",
                        details={"layout": ["Panels overlap."], "panels": [other, panel_id]})
    for panel_id, (x, y, w, h) in boxes.items():
        panel = panels[panel_id]
        panel.x, panel.y, panel.w, panel.h = x, y, w, h
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
def import_dashboard(*, project, data, user) -> Dashboard:
    """A dashboard from ``export_dashboard``'s JSON, checked like one built by hand."""
    if not isinstance(data, dict) or data.get("version") != EXPORT_VERSION:
        raise ValidationFailed(f"Not a dashboard export (version {EXPORT_VERSION}).",
                               details={"version": [f"Must be {EXPORT_VERSION}."]})
    panels = data.get("panels", [])
    if not isinstance(panels, list) or len(panels) > MAX_PANELS:
        raise ValidationFailed(f"panels: a list of at most {MAX_PANELS}.",
                               details={"panels": [f"At most {MAX_PANELS}."]})
    dashboard = create_dashboard(project=project, name=data.get("name"), user=user,
                                 description=str(data.get("description") or ""))
    if data.get("variables"):
        dashboard.variables = clean_variables(data["variables"])
        dashboard.save(update_fields=["variables"])
    created = []
    for i, item in enumerate(panels):
        if not isinstance(item, dict):
            raise ValidationFailed(f"panels[{i}]: an object.", details={f"panels[{i}]": ["?"]})
        fields = {k: item[k] for k in ("title", "type", "query", "options", "x", "y", "w", "h")
                  if k in item}
        try:
            created.append(create_panel(dashboard=dashboard, **fields))
        except ApiError as exc:  # a bad query or option: say which panel
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
def parse_moment(value, field: str):
    """ISO 8601, or relative to now like the query ranges (now-6h)."""
    from datetime import UTC, datetime

    if isinstance(value, str) and value.strip().startswith("now"):
        return parse_time(value, field, datetime.now(UTC))
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValidationFailed(f"{field}: an ISO 8601 time.", details={field: ["ISO 8601 time."]})


def create_annotation(*, project, text, at, ends_at=None, dashboard=None, user=None):
    start = parse_moment(at, "at")
    end = parse_moment(ends_at, "ends_at") if ends_at not in (None, "") else None
    if end is not None and end < start:
        raise ValidationFailed("ends_at: must not be before at.",
                               details={"ends_at": ["Not before at."]})
    if dashboard is not None and dashboard.project_id != project.pk:
        raise ValidationFailed("dashboard: not in this project.",
                               details={"dashboard": ["Not in this project."]})
    return Annotation.objects.create(project=project, dashboard=dashboard, at=start,
                                     ends_at=end, text=_name(text, "text", 500),
                                     created_by=user)


def delete_annotation(*, annotation) -> None:
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
