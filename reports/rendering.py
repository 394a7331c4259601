"""A report's content over a range: each block asked of the query engine (``events.query``, the
one read path) and shaped once — a KPI, series for a chart, a table, safe HTML for text — for
every output to read: the e-mail, the preview, the exports (CSV, XLSX, PDF, JSON, PNG) and the
run's page. A block whose query the engine refuses keeps the engine's error (its message, code
and position) instead of data, and the rest of the report is still made.

Large series tables stream: with a step small enough that the range holds more than
``SLICE_BUCKETS`` buckets, the rows are asked slice by slice (each slice's buckets are exactly
the whole range's, since slices start on multiples of the step) and written as they come, so an
export of a million rows never holds them all.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from analytics_site.errors import ApiError
from events import query as engine

from . import markdown, timing

SLICE_BUCKETS = 2000  # buckets per engine call when a series table streams
KPI_CALCULATIONS = ("last", "avg", "min", "max", "sum")
OVERVIEW_METRICS = ("events", "sessions", "users", "pageviews", "bounce_rate",
                    "avg_session_duration_s")
CHART_TYPES = ("line", "area", "bar")
TABLE_MODES = ("series", "breakdown")
PRODUCT_REPORTS = tuple(engine.analytics.BREAKDOWNS)  # top-events, top-pages, top-referrers …
PRODUCT_LIMIT = 10


@dataclass(frozen=True)
class BlockSpec:
    """A block to render: a saved one, or one being edited in the builder."""

    kind: str
    title: str = ""
    query: str = ""
    options: dict = field(default_factory=dict)
    id: int | None = None
    position: int = 0


@dataclass
class Column:
    name: str
    type: str  # time, text, number, percent
    unit: str = ""  # of a number column's values (the query's, or the block's unit option)

    @property
    def heading(self) -> str:
        """The header of the exports (CSV, XLSX), which keep raw numbers: ``value (ms)``."""
        return f"{self.name} ({self.unit})" if self.unit else self.name


@dataclass
class Table:
    columns: list[Column]
    rows: list[list]  # in memory: every row, or the first slice's when ``stream`` is set
    total: int | None  # every row's count (None: streamed, not counted)
    stream: Callable[[], Iterator[list]] | None = None

    def all_rows(self) -> Iterator[list]:
        return self.stream() if self.stream is not None else iter(self.rows)


@dataclass
class Kpi:
    value: float | None
    previous: float | None
    change: float | None  # a fraction: 0.25 is +25 %
    unit: str = ""
    spark: list[float | None] = field(default_factory=list)


@dataclass
class Series:
    label: str
    points: list[list]  # [epoch_ms, value]
    unit: str = ""


@dataclass
class RenderedBlock:
    spec: BlockSpec
    error: dict | None = None
    kpi: Kpi | None = None
    series: list[Series] = field(default_factory=list)
    table: Table | None = None
    html: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def title(self) -> str:
        return self.spec.title or default_title(self.spec)

    @property
    def chart_type(self) -> str | None:
        if self.kind == "chart":
            return self.spec.options.get("type", "line")
        return None


@dataclass
class Rendered:
    report_id: int | None
    title: str
    description: str
    tz: str
    range_kind: str
    start: datetime
    end: datetime
    previous: tuple[datetime, datetime] | None
    generated_at: datetime
    variables: list[dict]
    blocks: list[RenderedBlock]

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.tz))

    def range_text(self) -> str:
        start, end = self.local(self.start), self.local(self.end)
        return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ({self.tz})"


def default_title(spec: BlockSpec) -> str:
    if spec.kind == "product":
        return str(spec.options.get("report", "Product report")).replace("-", " ").capitalize()
    if spec.kind == "kpi" and spec.options.get("metric"):
        return str(spec.options["metric"]).replace("_", " ").capitalize()
    if spec.kind == "text":
        return ""
    return spec.query or spec.kind.capitalize()


def label(series: dict) -> str:
    tags = ", ".join(f"{k}:{v}" for k, v in (series.get("tags") or {}).items())
    return tags or series["name"]


def calculate(values: list[float | None], how: str) -> float | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    if how == "sum":
        return float(sum(present))
    if how == "avg":
        return sum(present) / len(present)
    if how == "min":
        return min(present)
    if how == "max":
        return max(present)
    return present[-1]


def change(value: float | None, before: float | None) -> float | None:
    if value is None or before in (None, 0):
        return None
    return (value - before) / before


def default_calculation(query_text: str) -> str:
    """Totals for counts and sums, the mean for the rest (as a stat panel reads a series)."""
    found = engine.queries_of(engine.parse(query_text))
    return "sum" if found and found[0].aggregation in ("count", "sum") else "avg"


def _by_of(query_text: str) -> tuple[str, ...]:
    found = engine.queries_of(engine.parse(query_text))
    return found[0].by if len(found) == 1 else ()


# -- the pieces ----------------------------------------------------------------------------------
@dataclass
class Context:
    project: Any
    tz: str
    start: datetime
    end: datetime
    previous: tuple[datetime, datetime] | None
    variables: dict
    use_cache: bool = True

    def ask(self, query: str, *, start: datetime | None = None, end: datetime | None = None,
            step=None, fill: str = "null", use_cache: bool | None = None) -> dict:
        return engine.execute(
            self.project, query=query, start=(start or self.start).isoformat(),
            end=(end or self.end).isoformat(), step=step, fill=fill,
            variables=self.variables or None,
            use_cache=self.use_cache if use_cache is None else use_cache)

    def local(self, epoch_ms: int) -> datetime:
        return datetime.fromtimestamp(epoch_ms / 1000, UTC).astimezone(ZoneInfo(self.tz))

    def span(self, start: datetime, end: datetime):
        return engine.analytics.window(start.isoformat(), end.isoformat(), tz=self.tz)


def _step(spec: BlockSpec):
    step = spec.options.get("step")
    return None if step in (None, "", "auto") else step


def _require_query(spec: BlockSpec) -> str:
    if not spec.query.strip():
        raise engine.QueryInvalid("This block needs a query.",
                                  details={"query": ["This field is required."]})
    return spec.query


def unit_of(spec: BlockSpec, data: list[dict]) -> str:
    """The unit of a block's values: its own unit option, else the one all the answer's series
    carry (the metric catalogue's, through the query), else none."""
    if spec.options.get("unit"):
        return spec.options["unit"]
    found = {series.get("unit", "") for series in data}
    return found.pop() if len(found) == 1 else ""


def _kpi(ctx: Context, spec: BlockSpec, block: RenderedBlock) -> None:
    unit = spec.options.get("unit", "")
    metric = spec.options.get("metric")
    if metric:  # a product KPI, exact over the range (people counted once)
        span = ctx.span(ctx.start, ctx.end)
        overview = engine.analytics.overview(ctx.project.pk, span)[metric]
        previous = None
        if ctx.previous:
            previous = engine.analytics.overview(
                ctx.project.pk, ctx.span(*ctx.previous))[metric]["value"]
        spark = []
        if metric in engine.analytics.TIMESERIES:
            series = engine.analytics.timeseries(ctx.project, span, _interval(ctx))
            spark = [point[metric] for point in series["points"]]
        block.kpi = Kpi(overview["value"], previous, change(overview["value"], previous),
                        unit, spark)
        return
    query = _require_query(spec)
    how = spec.options.get("calculation") or default_calculation(query)
    answer = ctx.ask(query, step=_step(spec))
    if len(answer["data"]) > 1:
        raise engine.QueryInvalid("A KPI is one series: remove the by {…} grouping.",
                                  details={"query": ["One series only."]})
    values = [v for _, v in answer["data"][0]["points"]] if answer["data"] else []
    value = calculate(values, how)
    previous = None
    if ctx.previous:
        before = ctx.ask(query, start=ctx.previous[0], end=ctx.previous[1],
                         step=answer["meta"]["resolution"])
        previous = calculate([v for s in before["data"][:1] for _, v in s["points"]], how)
    block.kpi = Kpi(value, previous, change(value, previous), unit_of(spec, answer["data"]),
                    values)
    block.meta = answer["meta"]


def _interval(ctx: Context) -> str:
    return "hour" if ctx.end - ctx.start <= timedelta(days=3) else "day"


def _chart(ctx: Context, spec: BlockSpec, block: RenderedBlock) -> None:
    answer = ctx.ask(_require_query(spec), step=_step(spec))
    block.meta = answer["meta"]
    block.series = [Series(label(s), s["points"], unit_of(spec, [s])) for s in answer["data"]]
    columns = [Column("time", "time"),
               *[Column(s.label, "number", s.unit) for s in block.series]]
    times = [t for t, _ in block.series[0].points] if block.series else []
    rows = [[ctx.local(t), *[s.points[i][1] for s in block.series]]
            for i, t in enumerate(times)]
    block.table = Table(columns, rows, len(rows))


def _series_table(ctx: Context, spec: BlockSpec, block: RenderedBlock) -> None:
    query = _require_query(spec)
    by = _by_of(query)
    columns = [Column("time", "time"),
               *([Column(k, "text") for k in by] if by else [Column("series", "text")]),
               Column("value", "number")]

    def with_unit(answer: dict) -> None:
        columns[-1].unit = unit_of(spec, answer["data"])

    def rows_of(answer: dict) -> Iterator[list]:
        """Time by time, the series by their labels (the same order in every slice)."""
        data = sorted(answer["data"], key=label)
        tags = [[s["tags"].get(k) for k in by] if by else [label(s)] for s in data]
        for i, (at, _) in enumerate(data[0]["points"] if data else []):
            moment = ctx.local(at)
            for series, names in zip(data, tags, strict=True):
                yield [moment, *names, series["points"][i][1]]

    step = _step(spec)
    seconds = engine.parse_duration(step, "step") if step else None
    slices = _slices(ctx.start, ctx.end, seconds)
    if len(slices) <= 1:
        answer = ctx.ask(query, step=step)
        block.meta = answer["meta"]
        with_unit(answer)
        rows = list(rows_of(answer))
        block.table = Table(columns, rows, len(rows))
        return
    first = ctx.ask(query, start=slices[0][0], end=slices[0][1], step=step, use_cache=False)
    with_unit(first)
    block.meta = {**first["meta"], "start": ctx.start.isoformat(), "end": ctx.end.isoformat(),
                  "slices": len(slices)}

    def stream() -> Iterator[list]:
        for a, b in slices:
            yield from rows_of(ctx.ask(query, start=a, end=b, step=step, use_cache=False))

    block.table = Table(columns, list(rows_of(first)), None, stream)


def _slices(start: datetime, end: datetime,
            step: int | None) -> list[tuple[datetime, datetime]]:
    """Pieces of ``start``..``end`` of SLICE_BUCKETS buckets each, cut on multiples of the step
    since the epoch (where the engine's buckets start); one piece when there is no need."""
    if step is None or step % 86400 == 0 or (end - start).total_seconds() / step <= \
            SLICE_BUCKETS:
        return [(start, end)]
    width = step * SLICE_BUCKETS
    first = int(start.timestamp()) // step * step
    cuts = [start]
    edge = first + width
    while edge < end.timestamp():
        cuts.append(datetime.fromtimestamp(edge, UTC))
        edge += width
    cuts.append(end)
    return list(itertools.pairwise(cuts))


def _breakdown(ctx: Context, spec: BlockSpec, block: RenderedBlock) -> None:
    query = _require_query(spec)
    by = _by_of(query)
    if not by:
        raise engine.QueryInvalid("A breakdown groups its query: add by {tag}.",
                                  details={"query": ["Needs by {…}."]})
    how = spec.options.get("calculation") or default_calculation(query)
    answer = ctx.ask(query, step=_step(spec))
    block.meta = answer["meta"]
    before = {}
    if ctx.previous:
        earlier = ctx.ask(query, start=ctx.previous[0], end=ctx.previous[1],
                          step=answer["meta"]["resolution"])
        before = {label(s): calculate([v for _, v in s["points"]], how) for s in earlier["data"]}
    rows = []
    for series in answer["data"]:
        value = calculate([v for _, v in series["points"]], how)
        row = [series["tags"].get(k) for k in by] + [value]
        if ctx.previous:
            previous = before.get(label(series))
            row += [previous, change(value, previous)]
        rows.append(row)
    rows.sort(key=lambda r: (r[len(by)] is None, -(r[len(by)] or 0)))
    unit = unit_of(spec, answer["data"])
    columns = [*[Column(k, "text") for k in by], Column(how, "number", unit)]
    if ctx.previous:
        columns += [Column("previous", "number", unit), Column("change", "percent")]
    block.table = Table(columns, rows, len(rows))


def _product(ctx: Context, spec: BlockSpec, block: RenderedBlock) -> None:
    kind = spec.options.get("report")
    if kind not in PRODUCT_REPORTS:
        raise engine.QueryInvalid(f"report: one of {', '.join(PRODUCT_REPORTS)}.",
                                  details={"options.report": list(PRODUCT_REPORTS)})
    limit = int(spec.options.get("limit") or PRODUCT_LIMIT)
    results = engine.analytics.breakdown(ctx.project.pk, kind, ctx.span(ctx.start, ctx.end),
                                         limit)
    columns = [Column(engine.analytics.BREAKDOWNS[kind], "text"), Column("events", "number"),
               Column("users", "number"), Column("sessions", "number")]
    rows = [[r["value"], r["events"], r["users"], r["sessions"]] for r in results]
    block.table = Table(columns, rows, len(rows))


def render_block(ctx: Context, spec: BlockSpec) -> RenderedBlock:
    block = RenderedBlock(spec)
    try:
        if spec.kind == "text":
            block.html = markdown.render(str(spec.options.get("markdown", "")))
        elif spec.kind == "kpi":
            _kpi(ctx, spec, block)
        elif spec.kind == "chart":
            _chart(ctx, spec, block)
        elif spec.kind == "table" and spec.options.get("mode") == "breakdown":
            _breakdown(ctx, spec, block)
        elif spec.kind == "table":
            _series_table(ctx, spec, block)
        elif spec.kind == "product":
            _product(ctx, spec, block)
    except ApiError as exc:  # the engine's message, code and position, shown in place
        block.error = {"error": exc.message, "code": exc.code, "details": exc.details}
    return block


# -- the whole report ----------------------------------------------------------------------------
def specs_of(report) -> list[BlockSpec]:
    return [BlockSpec(b.kind, b.title, b.query, b.options or {}, b.pk, b.position)
            for b in report.blocks.all()]


def chosen_variables(variables: list[dict]) -> dict:
    return {v["name"]: (v.get("values") or None) for v in variables or []}


def window_of(report, at: datetime) -> tuple[datetime, datetime]:
    return timing.report_range(report.range, report.zone, at, report.custom_start,
                               report.custom_end)


def render(report, *, at: datetime | None = None, start: datetime | None = None,
           end: datetime | None = None, blocks: list[BlockSpec] | None = None,
           range_kind: str | None = None, use_cache: bool = True) -> Rendered:
    """The report over its range at ``at`` (now by default), or over ``start``..``end`` (then
    compared as ``range_kind`` says: the calendar period before, or the same length before)."""
    now = timezone.now()
    at = at or now
    if start is None or end is None:
        kind = report.range
        start, end = window_of(report, at)
    else:
        kind = range_kind or "custom"
    previous = timing.previous_period(kind, report.zone, start, end) if report.compare \
        else None
    ctx = Context(report.project, report.zone, start, end, previous,
                  chosen_variables(report.variables), use_cache)
    specs = blocks if blocks is not None else specs_of(report)
    return Rendered(report.pk, report.title, report.description, report.zone, kind,
                    start, end, previous, now, report.variables or [],
                    [render_block(ctx, spec) for spec in specs])


# -- as JSON ---------------------------------------------------------------------------------------
def cell_json(value):
    return value.isoformat() if isinstance(value, datetime) else value


def block_json(block: RenderedBlock, *, max_rows: int | None = None) -> dict:
    spec = block.spec
    body: dict = {"id": spec.id, "position": spec.position, "kind": spec.kind,
                  "title": block.title, "query": spec.query, "options": spec.options,
                  "error": block.error}
    if block.kpi is not None:
        kpi = block.kpi
        body["kpi"] = {"value": kpi.value, "previous": kpi.previous, "change": kpi.change,
                       "unit": kpi.unit, "spark": kpi.spark}
    if block.series:
        body["series"] = [{"label": s.label, "points": s.points, **_unit_json(s.unit)}
                          for s in block.series]
    if block.table is not None:
        rows = block.table.rows if max_rows is None else block.table.rows[:max_rows]
        body["table"] = {"columns": [{"name": c.name, "type": c.type, **_unit_json(c.unit)}
                                     for c in block.table.columns],
                         "rows": [[cell_json(v) for v in row] for row in rows],
                         "total": block.table.total}
    if block.html:
        body["html"] = block.html
    if block.meta:
        body["meta"] = {k: block.meta[k] for k in ("table", "resolution", "series", "notes")
                        if k in block.meta}
    return body


def _unit_json(unit: str) -> dict:
    return {"unit": unit} if unit else {}


def header_json(rendered: Rendered) -> dict:
    return {"report": rendered.report_id, "title": rendered.title,
            "description": rendered.description, "timezone": rendered.tz,
            "range": rendered.range_kind, "start": rendered.start.isoformat(),
            "end": rendered.end.isoformat(),
            "previous": [t.isoformat() for t in rendered.previous] if rendered.previous
            else None,
            "generated_at": rendered.generated_at.isoformat(),
            "variables": rendered.variables}


def snapshot(rendered: Rendered, *, max_rows: int = 500) -> dict:
    """What a run keeps to show on its page: the definition and its data (tables cut at
    ``max_rows``; the files hold every row)."""
    return {**header_json(rendered),
            "blocks": [block_json(b, max_rows=max_rows) for b in rendered.blocks]}


def from_snapshot(data: dict) -> Rendered:
    """A run's stored snapshot as a Rendered again: what its e-mail is made of when a delivery
    is retried, and what its page shows (the files hold every row)."""
    def moment(text):
        return datetime.fromisoformat(text)

    blocks = []
    for body in data.get("blocks", []):
        spec = BlockSpec(body["kind"], body.get("title", ""), body.get("query", ""),
                         body.get("options") or {}, body.get("id"), body.get("position", 0))
        block = RenderedBlock(spec, error=body.get("error"), html=body.get("html", ""),
                              meta=body.get("meta") or {})
        if "kpi" in body:
            k = body["kpi"]
            block.kpi = Kpi(k["value"], k["previous"], k["change"], k.get("unit", ""),
                            k.get("spark") or [])
        block.series = [Series(s["label"], s["points"], s.get("unit", ""))
                        for s in body.get("series", [])]
        if "table" in body:
            t = body["table"]
            columns = [Column(c["name"], c["type"], c.get("unit", "")) for c in t["columns"]]
            times = [c.type == "time" for c in columns]
            rows = [[moment(v) if is_time and isinstance(v, str) else v
                     for v, is_time in zip(row, times, strict=False)] for row in t["rows"]]
            block.table = Table(columns, rows, t.get("total"))
        blocks.append(block)
    previous = tuple(moment(t) for t in data["previous"]) if data.get("previous") else None
    return Rendered(data.get("report"), data["title"], data.get("description", ""),
                    data["timezone"], data.get("range", "custom"), moment(data["start"]),
                    moment(data["end"]), previous, moment(data["generated_at"]),
                    data.get("variables") or [], blocks)
