"""The unit of each series of an answer, from the metric catalogue (``events_metricdefinition``)
and the rules of the spec: what an aggregation does to it (``spec.UNITLESS_AGGREGATIONS``,
``spec.PER_SECOND_AGGREGATIONS``) and what each function does (``Function.unit``).

- A metric query: the metric's catalogue unit; none for the count aggregations; ``unit/s`` for
  ``rate:``. An event count or a numeric property of events has none.
- ``a + b``, ``a - b``: the unit when both sides have the same one, else none. ``a * 2``,
  ``2 * a``, ``a / 2``: a's unit; any other product or ratio has none.
- A function keeps its series' unit, makes it per second (``derivative``, ``rate``) or drops it
  (``log``, ``rolling(…, count)``).

The unit is attached to an answer as it is computed, by one statement for the metric names its
queries read (none when they read no metric), and cached with it, under the catalogue's
version (``freshness.bump_catalogue``, on every write of a definition), so an edit
shows in the next answer and a cached answer costs no statement. An answer computed again (a
new window) finds the units it needs kept in its process under that same version.
"""

from __future__ import annotations

from psycopg import sql

from .. import freshness
from ..kept import Kept
from . import executor, replicas
from .executor import Statement
from .spec import (
    FUNCTIONS,
    PER_SECOND_AGGREGATIONS,
    UNITLESS_AGGREGATIONS,
    BinOp,
    Expr,
    Func,
    Number,
    Query,
    queries_of,
)

PER_SECOND = "/s"


def per_second(unit: str) -> str:
    return f"{unit}{PER_SECOND}" if unit else ""


def unit_of(expr: Expr, catalogue: dict[str, str]) -> str:
    """The unit of ``expr``'s series, given ``catalogue`` (metric name → unit); "" for none."""
    if isinstance(expr, Number):
        return ""
    if isinstance(expr, Query):
        if expr.on_events or expr.aggregation in UNITLESS_AGGREGATIONS:
            return ""
        unit = catalogue.get(expr.source, "")
        return per_second(unit) if expr.aggregation in PER_SECOND_AGGREGATIONS else unit
    if isinstance(expr, BinOp):
        left, right = unit_of(expr.left, catalogue), unit_of(expr.right, catalogue)
        if expr.op in ("+", "-"):
            return left if left == right else ""
        if isinstance(expr.right, Number):
            return left
        if expr.op == "*" and isinstance(expr.left, Number):
            return right
        return ""
    assert isinstance(expr, Func)
    inner = unit_of(expr.series, catalogue)
    function = FUNCTIONS[expr.name]
    if function.unit == "drop" or any(isinstance(arg, str) and arg in function.unit_dropped_by
                                      for arg in expr.args[1:]):
        return ""
    return per_second(inner) if function.unit == "per_second" else inner


def units_statement(project_id: int, names: list[str]) -> Statement:
    return Statement(sql.SQL(
        "SELECT name, unit FROM events_metricdefinition "
        "WHERE project_id = %(project)s AND name = ANY(%(names)s) AND unit <> ''"),
        {"project": project_id, "names": names}, table="events_metricdefinition")


def metric_names(exprs: list[Expr]) -> list[str]:
    return sorted({q.source for expr in exprs for q in queries_of(expr) if not q.on_events})


# (project, names) -> (catalogue version, kept at, units): an answer computed again for another
# window (a dashboard's panel every 10 s) finds its units here instead of a session of its own
# (its settings and the statement) — under the catalogue version its cached answer is kept with,
# which every write of a unit bumps as it commits, and for at most KEPT_S whatever happens (a
# Redis that lost the counter would count again from 0).
KEPT_S = 30.0
KEPT_MAX = 10_000  # emptied when full
_kept = Kept(max_age_s=KEPT_S, max_size=KEPT_MAX)


def catalogue_units(project_id: int, names: list[str]) -> dict[str, str]:
    """Metric name → its catalogue unit, for those of ``names`` that have one."""
    if not names:
        return {}
    version = freshness.catalogue_seen(project_id)  # read with this answer's cached copy
    key = (project_id, tuple(names))
    if (kept := _kept.find(key, version)) is not None:
        return dict(kept)
    # From the primary: an edit bumps the catalogue's version as it commits, and a replica still
    # behind would have the old unit cached under the new version.
    token = replicas.reading.set(None)
    try:
        found = dict(executor.rows(units_statement(project_id, names)))
    finally:
        replicas.reading.reset(token)
    _kept.keep(key, version, dict(found))
    return found


def units_of(project_id: int, outputs: list[tuple[str | None, Expr]]) -> dict[str, str]:
    """Series name (the output's name or its canonical text) → unit, in one statement."""
    catalogue = catalogue_units(project_id, metric_names([expr for _, expr in outputs]))
    return {name or expr.to_text(): unit_of(expr, catalogue) for name, expr in outputs}


def attach(project_id: int, outputs: list[tuple[str | None, Expr]], body: dict) -> dict:
    """Set ``unit`` on each series of ``body`` (an engine answer); returns it."""
    units = units_of(project_id, outputs)
    for series in body.get("data", ()):
        series["unit"] = units.get(series["name"], "")
    return body
