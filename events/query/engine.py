"""Running a spec: pick a table per query, fetch, fold groups past the top N into "other", fill
gaps, evaluate formulas; through the executor (one session under the query timeout, one cache
policy).

Table routing: for each query, the coarsest table whose resolution divides the step (and whose
retention still covers the range's start) — raw points, the 1-minute rollup, the 1-hour rollup;
for events the hourly rollup when it can answer (counts and uniques by event name), else raw
events. If no table resolves the asked step over the whole range, the step grows to the
resolution of the table that still has the data, and ``meta.resolution`` says so.

Functions (``spec.Func``) run on the bucketed series the executor returns, so they leave the
routing alone: each query inside one is planned over the range it needs — moved back by the
function's lookback (``functions.lookback``) or by a timeshift's duration — and the function's maths
(``events.query.functions``) runs on its series, which are trimmed and re-stamped to the range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson

from . import event_source, executor, functions, metric_source, units
from .executor import QueryTimeout, QueryTooLarge, Session
from .parser import QueryInvalid
from .spec import PERCENTILES, BinOp, Expr, Func, Notes, Number, Query
from .timerange import DAY, Range, parse_duration

FILLS = ("null", "zero", "previous")
MAX_SERIES = 500
MAX_TOTAL_POINTS = 500_000
MAX_WINDOW_CELLS = 20_000_000  # series x buckets x window of moving_avg / rolling (~2 s at most)
TABLE_NAMES = {"raw": "raw", "1m": "rollup_1m", "1h": "rollup_1h"}


__all__ = ["FILLS", "QueryTimeout", "QueryTooLarge", "Retention", "plan", "run"]


@dataclass
class Series:
    name: str
    tags: dict
    values: list[float | None]
    other: bool = False

    def as_dict(self, epochs: tuple[int, ...]) -> dict:
        # An infinity (a sum or a rate past a double's range) is no value, as JSON has none.
        body = {"name": self.name, "tags": self.tags,
                "points": [[at * 1000, v if v is None or -math.inf < v < math.inf else None]
                           for at, v in zip(epochs, self.values, strict=True)]}
        if self.other:
            body["other"] = True
        return body


@dataclass(frozen=True)
class Retention:
    raw_days: int
    minute_days: int
    hour_days: int


@dataclass
class Plan:
    table: str
    range: Range


# -- routing --------------------------------------------------------------------------------------
def _covers(rng: Range, days: int) -> bool:
    return rng.start >= rng.now - timedelta(days=days)


def plan(query: Query, rng: Range, keep: Retention, notes: Notes,
         table: str | None = None) -> Plan:
    """Which table answers ``query`` over ``rng``; ``table`` forces one (raw, 1m, 1h): the
    tests and the benchmark compare rollups with raw rows that way."""
    if table is not None:
        return Plan(table, rng)
    if query.on_events:
        if (event_source.rollup_can_answer(query) and rng.aligned_to(3600)
                and _covers(rng, keep.hour_days)):
            return Plan("1h", rng)
        if not _covers(rng, keep.raw_days):
            notes.add(f"Raw events are kept {keep.raw_days} days; this query needs them, so "
                      "buckets before that are empty.")
        return Plan("raw", rng)
    tables = [("1h", 3600, keep.hour_days), ("1m", 60, keep.minute_days),
              ("raw", 1, keep.raw_days)]
    for table, resolution, days in tables:
        if rng.aligned_to(resolution) and _covers(rng, days):
            return Plan(table, rng)
    for table, resolution, days in reversed(tables):  # the finest table that still has the data
        if _covers(rng, days) or table == "1h":
            step = max(resolution, math.ceil(rng.step / resolution) * resolution)
            if step != rng.step:
                notes.add(f"Step raised from {rng.step} s to {step} s: data this old is kept "
                          f"at {TABLE_NAMES[table]} resolution.")
            return Plan(table, rng.with_step(step))
    raise AssertionError("unreachable")


# -- one query ------------------------------------------------------------------------------------
def _bucket_seconds(rng: Range) -> list[float]:
    buckets = rng.buckets()
    ends = [*buckets[1:], rng.end]
    return [(end - start).total_seconds() for start, end in zip(buckets, ends, strict=True)]


def _series_from(name: str, by: tuple[str, ...], cells: dict, order: list, labels: dict,
                 epochs: tuple[int, ...], rate_seconds: list[float] | None,
                 other_key: object) -> list[Series]:
    out = []
    for group in order:
        values = [cells.get((group, at)) for at in epochs]
        if rate_seconds is not None:
            values = [None if v is None else v / seconds
                      for v, seconds in zip(values, rate_seconds, strict=True)]
        if group == other_key:
            out.append(Series(name, {k: "other" for k in by}, values, other=True))
        else:
            out.append(Series(name, labels.get(group, {}), values))
    return out


def _run_metric(s: Session, project_id: int, query: Query, p: Plan, notes: Notes,
                name: str) -> list[Series]:
    groups = metric_source.select_series(s, project_id, query, notes)
    if not groups.ids:
        return []
    order = list(range(len(groups.tags)))
    folding = query.by and len(groups.tags) > query.limit
    if folding and query.aggregation not in PERCENTILES:
        return _fold_metric_groups(s, project_id, query, p, groups, notes, name)
    if folding:
        totals = metric_source.data_fetch(project_id, query, groups, p.table, p.range,
                                          bucketed=False).run(s)
        order = sorted(order, key=lambda g: _rank_key(totals.get((g, 0)),
                                                      orjson.dumps(groups.tags[g])))
        top = set(order[:query.limit])
        notes.add(f"{len(order) - query.limit} groups past the top {query.limit} of "
                  f"{name} are folded into \"other\".")
        groups.groups = [g if g in top else metric_source.OTHER for g in groups.groups]
        order = [*order[:query.limit], metric_source.OTHER]
    cells = metric_source.data_fetch(project_id, query, groups, p.table, p.range).run(s)
    if query.by and metric_source.OTHER not in order:
        totals = _totals(cells)
        order = sorted(order, key=lambda g: _rank_key(totals.get(g), orjson.dumps(
            groups.tags[g])))
    rate = _bucket_seconds(p.range) if query.aggregation == "rate" else None
    return _series_from(name, query.by, cells, order, dict(enumerate(groups.tags)),
                        p.range.epochs(), rate, metric_source.OTHER)


def _totals(cells: dict) -> dict:
    """Per group: the sum of its bucket values, which orders the series (largest first)."""
    totals: dict = {}
    for (group, _), value in cells.items():
        totals[group] = totals.get(group, 0.0) + (value or 0.0)
    return totals


def _fold_metric_groups(s: Session, project_id: int, query: Query, p: Plan, groups,
                        notes: Notes, name: str) -> list[Series]:
    """Top groups and "other" in one statement (every aggregation but the percentiles)."""
    cells, top = metric_source.top_fetch(project_id, query, groups, p.table, p.range).run(s)
    order = list(top)
    if any(group == metric_source.OTHER for group, _ in cells):  # only groups with data
        order.append(metric_source.OTHER)
        notes.add(f"{len(groups.tags) - query.limit} groups past the top {query.limit} of "
                  f"{name} are folded into \"other\".")
    rate = _bucket_seconds(p.range) if query.aggregation == "rate" else None
    return _series_from(name, query.by, cells, order,
                        dict(enumerate(groups.tags)), p.range.epochs(), rate,
                        metric_source.OTHER)


def _rank_key(value, tiebreak: bytes):
    return (value is None, -(value or 0.0), tiebreak)


def _run_events(s: Session, project_id: int, query: Query, p: Plan, notes: Notes,
                name: str) -> list[Series]:
    top = None
    if query.by:
        ranked = s.rows(event_source.statement(project_id, query, p.table, p.range,
                                               bucketed=False, rank_limit=query.limit + 1))
        keys = [row[0] for row in ranked]
        if len(keys) > query.limit:
            top = keys[:query.limit]
            notes.add(f"Groups past the top {query.limit} of {name} are folded into \"other\".")
    rows = s.rows(event_source.statement(project_id, query, p.table, p.range, top=top))
    cells = {(key, at): float(value) if value is not None else None for key, at, value in rows}
    if not query.by:
        order, labels, other = [None], {}, object()
    elif top is not None:
        order, other = [*top, None], None
    else:
        totals = _totals(cells)
        order, other = sorted(totals, key=lambda k: _rank_key(totals[k], k.encode())), None
    if query.by:
        labels = {k: dict(zip(query.by, orjson.loads(k), strict=True)) for k in order if k}
    rate = _bucket_seconds(p.range) if query.aggregation == "rate" else None
    return _series_from(name, query.by, cells, order, labels, p.range.epochs(), rate, other)


# -- formulas -------------------------------------------------------------------------------------
def _apply(op: str, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    if op == "+":
        value = a + b
    elif op == "-":
        value = a - b
    elif op == "*":
        value = a * b
    else:
        value = a / b if b != 0 else None
    # Past a double's range (1e300 * 1e300) is no value, like a division by zero: JSON has none.
    return value if value is not None and math.isfinite(value) else None


def _combine(op: str, left: list[Series], right: list[Series], name: str) -> list[Series]:
    def scalar(series: list[Series]) -> bool:
        return len(series) == 1 and not series[0].tags

    if scalar(right):
        pairs = [(s, right[0], s.tags) for s in left]
    elif scalar(left):
        pairs = [(left[0], s, s.tags) for s in right]
    else:
        by_tags = {orjson.dumps(s.tags, option=orjson.OPT_SORT_KEYS): s for s in right}
        pairs = [(s, by_tags[k], s.tags) for s in left
                 if (k := orjson.dumps(s.tags, option=orjson.OPT_SORT_KEYS)) in by_tags]
    return [Series(name, tags, [_apply(op, a, b) for a, b in zip(x.values, y.values, strict=True)],
                   other=x.other or y.other) for x, y, tags in pairs]


# -- the whole spec -------------------------------------------------------------------------------
def _fill(series: list[Series], how: str) -> None:
    for s in series:
        if how == "zero":
            s.values = [0.0 if v is None else v for v in s.values]
        elif how == "previous":
            last = None
            for i, v in enumerate(s.values):
                if v is None:
                    s.values[i] = last
                else:
                    last = v


def cache_spec(outputs: list[tuple[str | None, Expr]], rng: Range, fill: str,
               table: str | None) -> dict:
    """What makes an answer: the normalised queries, the range rounded to 10 s, the step."""
    return {"q": [[name, expr.to_text()] for name, expr in outputs], "t": table,
            "s": executor.rounded(rng.start), "e": executor.rounded(rng.end), "st": rng.step,
            "f": fill, "tz": rng.tz}


def run(*, project_id: int, outputs: list[tuple[str | None, Expr]], rng: Range, keep: Retention,
        fill: str = "null", use_cache: bool = True, table: str | None = None,
        as_json: bool = False) -> dict:
    """Evaluate each ``(name, expr)`` of ``outputs`` over ``rng`` at one common step; the series
    of each carry its name (or its canonical text) and its unit (``units``; cached with the
    answer under the catalogue's version). Returns ``{"data": [...], "meta": {...}}``; with
    ``as_json`` ``data`` may be its JSON text (``renderers.JSONText``), for the API."""
    return executor.answer(
        kind="series", project_id=project_id, spec=cache_spec(outputs, rng, fill, table),
        reaches_now=rng.touches_now, use_cache=use_cache, pack=True, as_json=as_json,
        compute=lambda: units.attach(project_id, outputs,
                                     _compute(project_id, outputs, rng, keep, fill, table)))


def plans_of(outputs: list[tuple[str | None, Expr]], rng: Range, keep: Retention, notes: Notes,
             table: str | None = None) -> dict[tuple[Query, Range], Plan]:
    """A plan per query and the range it runs over (a function may widen or move it); every
    query runs at the coarsest step any of them needs, so the series line up."""
    def planned(at: Range) -> dict[tuple[Query, Range], Plan]:
        found = [pair for _, expr in outputs for pair in _occurrences(expr, at)]
        return {(q, r): plan(q, r, keep, notes, table) for q, r in found}

    plans = planned(rng)
    step = max((p.range.step for p in plans.values()), default=rng.step)
    if any(p.range.step != step for p in plans.values()) or step != rng.step:
        plans = planned(rng.with_step(step))
    return plans


def _occurrences(expr: Expr, rng: Range) -> list[tuple[Query, Range]]:
    """Each query of ``expr`` with the range it is fetched over."""
    if isinstance(expr, Query):
        return [(expr, rng)]
    if isinstance(expr, BinOp):
        return _occurrences(expr.left, rng) + _occurrences(expr.right, rng)
    if isinstance(expr, Func):
        return _occurrences(expr.series, _inner_range(expr, rng))
    return []


def _earlier(moment: datetime, seconds: int, rng: Range) -> datetime:
    """``moment`` less ``seconds``; whole days on the local calendar for day buckets, so a
    bucket's start stays at a local midnight across a DST change."""
    if rng.by_local_days and seconds % DAY == 0:
        zone = ZoneInfo(rng.tz)
        local = moment.astimezone(zone).replace(tzinfo=None) - timedelta(seconds=seconds)
        return local.replace(tzinfo=zone).astimezone(UTC)
    return moment - timedelta(seconds=seconds)


def _inner_range(func: Func, rng: Range) -> Range:
    """The range ``func``'s expression runs over: ``lookback`` buckets earlier at the start, or
    the whole range moved back by a timeshift's duration (a whole number of steps)."""
    if func.name == "timeshift":
        shift = parse_duration(func.args[1], "timeshift")
        if shift % rng.step:
            raise QueryInvalid(
                f"timeshift({func.args[1]}) must be a whole number of steps; the step is "
                f"{rng.step} s. Use a step that divides it, or a shift in whole steps.",
                details={"function": "timeshift", "step": rng.step, "shift": shift})
        return Range(_earlier(rng.start, shift, rng), _earlier(rng.end, shift, rng), rng.step,
                     rng.tz, rng.now)
    extra = functions.lookback(func.name, func.args[1:])
    if not extra:
        return rng
    return Range(_earlier(rng.start, extra * rng.step, rng), rng.end, rng.step, rng.tz, rng.now)


def _compute(project_id: int, outputs: list[tuple[str | None, Expr]], rng: Range,
             keep: Retention, fill: str, table: str | None) -> dict:
    notes = Notes()
    plans = plans_of(outputs, rng, keep, notes, table)
    step = next(iter(plans.values())).range.step if plans else rng.step
    final_range = rng if step == rng.step else rng.with_step(step)
    series: list[Series] = []
    with executor.session() as s:
        for name, expr in outputs:
            series += _evaluate(s, project_id, expr, plans, notes, name or expr.to_text(),
                                final_range)
            _check_size(series, final_range)
    _fill(series, fill)
    tables = sorted({TABLE_NAMES[p.table] for p in plans.values()})
    epochs = final_range.epochs()
    return {"data": [s.as_dict(epochs) for s in series], "meta": {
        "table": tables[0] if len(tables) == 1 else "mixed",
        "tables": tables,
        "resolution": final_range.step,
        "start": final_range.start.isoformat(),
        "end": final_range.end.isoformat(),
        "cached": False,
        "series": len(series),
        "notes": notes.items,
    }}


def _evaluate(s: Session, project_id: int, expr: Expr, plans: dict, notes: Notes, name: str,
              rng: Range) -> list[Series]:
    if isinstance(expr, Number):
        return [Series(name, {}, [expr.value] * rng.bucket_count())]
    if isinstance(expr, Query):
        runner = _run_events if expr.on_events else _run_metric
        series = runner(s, project_id, expr, plans[(expr, rng)], notes, name)
        _check_size(series, rng)
        return series
    if isinstance(expr, Func):
        return _call(s, project_id, expr, plans, notes, name, rng)
    assert isinstance(expr, BinOp)
    left = _evaluate(s, project_id, expr.left, plans, notes, name, rng)
    right = _evaluate(s, project_id, expr.right, plans, notes, name, rng)
    series = _combine(expr.op, left, right, name)
    _check_size(series, rng)
    return series


def _call(s: Session, project_id: int, func: Func, plans: dict, notes: Notes, name: str,
          rng: Range) -> list[Series]:
    inner_range = _inner_range(func, rng)
    inner = _evaluate(s, project_id, func.series, plans, notes, name, inner_range)
    params = func.args[1:]
    if func.name == "timeshift":  # the same number of buckets, each re-stamped one shift later
        return [Series(name, x.tags, x.values, x.other) for x in inner]
    if func.name in ("top", "bottom"):
        count, agg = params
        ranked = sorted(
            (x for x in inner if not x.other),  # "other" is not a group: it takes no rank
            key=lambda x: _pick_key(functions.rank_value(x.values, agg), func.name == "top",
                                    orjson.dumps(x.tags, option=orjson.OPT_SORT_KEYS)))
        return [Series(name, x.tags, x.values) for x in ranked[:count]]
    times = inner_range.buckets()
    trim = len(times) - rng.bucket_count()
    if func.name in ("moving_avg", "rolling"):
        cells = len(inner) * len(times) * params[0]
        if cells > MAX_WINDOW_CELLS:
            raise QueryTooLarge(
                f"{func.name} over {len(inner)} series of {len(times)} buckets with a window of "
                f"{params[0]} is too much work; use a larger step or a smaller window.",
                details={"max_window_cells": MAX_WINDOW_CELLS})
    return [Series(name, x.tags, functions.transform(func.name, params, x.values, times)[trim:],
                   x.other) for x in inner]


def _pick_key(value: float | None, highest: bool, tiebreak: bytes):
    return (value is None, -(value or 0.0) if highest else (value or 0.0), tiebreak)


def _check_size(series: list[Series], rng: Range) -> None:
    if len(series) > MAX_SERIES:
        raise QueryTooLarge(f"{len(series)} series is over the limit of {MAX_SERIES}.",
                            details={"max_series": MAX_SERIES})
    points = len(series) * rng.bucket_count()
    if points > MAX_TOTAL_POINTS:
        raise QueryTooLarge(f"{points} points is over the limit of {MAX_TOTAL_POINTS}; use a "
                            "larger step or fewer groups.",
                            details={"max_points": MAX_TOTAL_POINTS})
