"""Writes of reports, blocks, schedules and recipients: the only place that changes them.

They take values already checked for shape by ``reports.api.serializers`` and keep the rules
that need the database or the query engine: a block's query parses (the engine's error with
its position otherwise), a report holds at most ``MAX_BLOCKS`` blocks, an order lists each block
once, a channel and a condition's KPI belong to the report, and a schedule's beat row follows
the schedule (``reports.scheduling``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import TYPE_CHECKING, NotRequired, TypedDict

from django.db import transaction

from analytics_site.errors import ApiError, ValidationFailed
from events import query as engine

from . import scheduling
from .models import Block, BlockKind, Recipient, Report, Schedule

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from projects.models import Project

MAX_BLOCKS = 50
MAX_RECIPIENTS = 50
QUERY_KINDS = (BlockKind.KPI, BlockKind.CHART, BlockKind.TABLE)


class Variable(TypedDict):
    name: str
    metric: str
    tag: str
    values: list[str]


class BlockDraft(TypedDict):
    kind: str
    title: NotRequired[str]
    query: NotRequired[str]
    options: NotRequired[dict]


class ReportFields(TypedDict, total=False):
    title: str
    description: str
    timezone: str
    range: str
    custom_start: datetime | None
    custom_end: datetime | None
    compare: bool
    variables: list[Variable]


def _check_block(kind: str, query: str, options: dict) -> None:
    if kind in QUERY_KINDS and not (kind == BlockKind.KPI and options.get("metric")):
        if not query.strip():
            raise ValidationFailed("query: this block needs a query.",
                                   details={"query": ["This field is required."]})
        engine.parse(query)  # QUERY_SYNTAX / QUERY_INVALID with the position


def _check_range(report: Report) -> None:
    if report.range == "custom":
        if report.custom_start is None or report.custom_end is None:
            raise ValidationFailed("A custom range needs custom_start and custom_end.",
                                   details={"custom_start": ["Required for a custom range."]})
        if report.custom_end <= report.custom_start:
            raise ValidationFailed("custom_end must be after custom_start.",
                                   details={"custom_end": ["After custom_start."]})


def _channels(project: Project, ids: Sequence[int]):
    model = Report.channels.field.related_model
    found = list(model.objects.filter(project=project, pk__in=ids,
                                      kind__in=("webhook", "slack")))
    missing = sorted(set(ids) - {c.pk for c in found})
    if missing:
        raise ValidationFailed(f"No webhook or Slack channel {missing[0]} in this project.",
                               details={"channels": [f"Unknown channel {i}." for i in missing]})
    return found


# -- reports --------------------------------------------------------------------------------------
@transaction.atomic
def create_report(*, project: Project, user: AbstractBaseUser | None, title: str,
                  blocks: Sequence[BlockDraft] = (), channels: Sequence[int] = (),
                  **fields) -> Report:
    report = Report(project=project, created_by=user, title=title, **fields)
    _check_range(report)
    report.save()
    if channels:
        report.channels.set(_channels(project, channels))
    add_blocks(report=report, drafts=blocks)
    return report


@transaction.atomic
def update_report(*, report: Report, channels: Sequence[int] | None = None,
                  **fields) -> Report:
    """Changes what is given; a new time zone or title moves the beat row too."""
    for name, value in fields.items():
        setattr(report, name, value)
    _check_range(report)
    report.save()
    if channels is not None:
        report.channels.set(_channels(report.project, channels))
    schedule = Schedule.objects.filter(report=report).first()
    if schedule is not None:
        scheduling.sync(schedule)
    return report


@transaction.atomic
def duplicate_report(*, report: Report, user: AbstractBaseUser | None) -> Report:
    """A copy of the definition (blocks, recipients, channels); not its schedule or runs."""
    copy = Report.objects.create(
        project=report.project, created_by=user, title=f"Copy of {report.title}"[:200],
        description=report.description, timezone=report.timezone, range=report.range,
        custom_start=report.custom_start, custom_end=report.custom_end,
        compare=report.compare, variables=report.variables)
    copy.channels.set(report.channels.all())
    Block.objects.bulk_create([Block(report=copy, position=b.position, kind=b.kind,
                                     title=b.title, query=b.query, options=b.options)
                               for b in report.blocks.all()])
    Recipient.objects.bulk_create([Recipient(report=copy, email=r.email, formats=r.formats,
                                             min_change_percent=r.min_change_percent)
                                   for r in report.recipients.all()])
    return copy


@transaction.atomic
def delete_report(*, report: Report) -> None:
    schedule = Schedule.objects.filter(report=report).first()
    if schedule is not None:
        scheduling.remove(schedule)
    report.delete()


# -- blocks ---------------------------------------------------------------------------------------
@transaction.atomic
def add_blocks(*, report: Report, drafts: Sequence[BlockDraft]) -> list[Block]:
    locked = Report.objects.select_for_update().get(pk=report.pk)
    count = locked.blocks.count()
    if count + len(drafts) > MAX_BLOCKS:
        raise ValidationFailed(f"A report holds at most {MAX_BLOCKS} blocks.",
                               details={"blocks": [f"At most {MAX_BLOCKS}."]})
    created = []
    for i, draft in enumerate(drafts):
        try:
            created.append(create_block(report=locked, position=count + i, **draft))
        except ApiError as exc:  # say which block
            exc.details = {**exc.details, "block": i}
            raise
    return created


@transaction.atomic
def create_block(*, report: Report, kind: str, title: str = "", query: str = "",
                 options: dict | None = None, position: int | None = None) -> Block:
    options = options or {}
    _check_block(kind, query, options)
    if position is None:
        locked = Report.objects.select_for_update().get(pk=report.pk)
        if locked.blocks.count() >= MAX_BLOCKS:
            raise ValidationFailed(f"A report holds at most {MAX_BLOCKS} blocks.",
                                   details={"blocks": [f"At most {MAX_BLOCKS}."]})
        last = locked.blocks.order_by("-position").values_list("position", flat=True).first()
        position = 0 if last is None else last + 1
    return Block.objects.create(report=report, kind=kind, title=title, query=query,
                                options=options, position=position)


@transaction.atomic
def update_block(*, block: Block, title: str | None = None, query: str | None = None,
                 options: dict | None = None) -> Block:
    if title is not None:
        block.title = title
    if query is not None:
        block.query = query
    if options is not None:
        block.options = options
    _check_block(block.kind, block.query, block.options or {})
    block.save()
    return block


def delete_block(*, block: Block) -> None:
    block.delete()


@transaction.atomic
def reorder_blocks(*, report: Report, order: Sequence[int | None]) -> list[Block]:
    """``order`` lists every block id of the report once, first to last."""
    blocks = {b.pk: b for b in Report.objects.select_for_update().get(pk=report.pk)
              .blocks.all()}
    if sorted(order, key=str) != sorted(blocks, key=str):
        raise ValidationFailed("order: must list each block of the report once.",
                               details={"order": ["Each block once."], "blocks": sorted(blocks)})
    for position, pk in enumerate(order):
        blocks[pk].position = position
    Block.objects.bulk_update(blocks.values(), ["position"])
    return sorted(blocks.values(), key=lambda b: b.position)


# -- schedule -------------------------------------------------------------------------------------
@transaction.atomic
def set_schedule(*, report: Report, kind: str, time: time, weekday: int = 0,
                 day_of_month: int = 1, cron: str = "", enabled: bool = True) -> Schedule:
    """The report's schedule (made or changed) and its beat row."""
    schedule = Schedule.objects.filter(report=report).first() or Schedule(report=report)
    schedule.kind, schedule.time, schedule.enabled = kind, time, enabled
    schedule.weekday, schedule.day_of_month, schedule.cron = weekday, day_of_month, cron
    try:
        scheduling.cron_of(schedule)
    except ValueError as exc:
        raise ValidationFailed(f"cron: {exc}", details={"cron": [str(exc)]}) from None
    schedule.save()
    scheduling.sync(schedule)
    return schedule


@transaction.atomic
def remove_schedule(*, report: Report) -> None:
    schedule = Schedule.objects.filter(report=report).first()
    if schedule is not None:
        scheduling.remove(schedule)
        schedule.delete()


# -- recipients -----------------------------------------------------------------------------------
def _condition_block(report: Report, block_id: int | None) -> Block | None:
    if block_id is None:
        return None
    block = report.blocks.filter(pk=block_id, kind=BlockKind.KPI).first()
    if block is None:
        raise ValidationFailed("condition_block: not a KPI block of this report.",
                               details={"condition_block": ["A KPI block of this report."]})
    return block


@transaction.atomic
def add_recipient(*, report: Report, email: str, formats: Sequence[str] = ("pdf",),
                  min_change_percent: float | None = None,
                  condition_block: int | None = None) -> Recipient:
    if Recipient.objects.filter(report=report).count() >= MAX_RECIPIENTS:
        raise ValidationFailed(f"A report has at most {MAX_RECIPIENTS} recipients.",
                               details={"email": [f"At most {MAX_RECIPIENTS}."]})
    if Recipient.objects.filter(report=report, email__iexact=email).exists():
        raise ValidationFailed(f"{email} already receives this report.",
                               details={"email": ["Already a recipient."]})
    return Recipient.objects.create(report=report, email=email, formats=list(formats),
                                    min_change_percent=min_change_percent,
                                    condition_block=_condition_block(report, condition_block))


_UNSET = object()


@transaction.atomic
def update_recipient(*, recipient: Recipient, formats: Sequence[str] | None = None,
                     min_change_percent=_UNSET, condition_block=_UNSET) -> Recipient:
    if formats is not None:
        recipient.formats = list(formats)
    if min_change_percent is not _UNSET:
        recipient.min_change_percent = min_change_percent
    if condition_block is not _UNSET:
        recipient.condition_block = _condition_block(recipient.report, condition_block)
    recipient.save()
    return recipient


def remove_recipient(*, recipient: Recipient) -> None:
    recipient.delete()


# -- from a dashboard -----------------------------------------------------------------------------
PANEL_BLOCKS = {"line": ("chart", {"type": "line"}), "area": ("chart", {"type": "area"}),
                "bar": ("chart", {"type": "bar"}), "heatmap": ("chart", {"type": "line"}),
                "stat": ("kpi", {}), "gauge": ("kpi", {}), "table": ("table", {})}


def blocks_of_panels(panels: Sequence[dict]) -> list[BlockDraft]:
    """A dashboard's panels (its export's ``panels``) as blocks, top to bottom, left to right:
    time charts stay charts, stat and gauge panels become KPIs, tables become tables (a
    breakdown when grouped)."""
    drafts: list[BlockDraft] = []
    for panel in sorted(panels, key=lambda p: (p.get("y", 0), p.get("x", 0))):
        kind, options = PANEL_BLOCKS.get(panel.get("type", "line"), ("chart", {"type": "line"}))
        panel_options = panel.get("options") or {}
        options = dict(options)
        if kind in ("kpi", "table") and panel_options.get("calculation"):
            options["calculation"] = panel_options["calculation"]
        if kind == "kpi" and panel_options.get("unit"):
            options["unit"] = panel_options["unit"]
        if kind == "table":
            grouped = any(q.by for q in engine.queries_of(engine.parse(panel["query"])))
            options["mode"] = "breakdown" if grouped else "series"
        drafts.append({"kind": kind, "title": panel.get("title", ""), "query": panel["query"],
                       "options": options})
    return drafts


@transaction.atomic
def report_from_dashboard(*, project: Project, user: AbstractBaseUser | None, name: str,
                          description: str = "", variables: Sequence[dict] = (),
                          panels: Sequence[dict] = ()) -> Report:
    """"Make a report" on a dashboard: its panels copied into a new report, its variables
    kept (all values)."""
    return create_report(
        project=project, user=user, title=name, description=description,
        variables=[{**v, "values": []} for v in variables], blocks=blocks_of_panels(panels))


# -- runs -----------------------------------------------------------------------------------------
def revoke_link(*, run) -> None:
    """Every link made for the run stops working."""
    from .links import new_key

    run.link_key = new_key()
    run.save(update_fields=["link_key"])
