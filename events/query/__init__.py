"""The read path: one query engine for every reader (dashboards, alerts, reports, models, API).

    from events.query import execute
    execute(project, query="p95:http.latency_ms{env:prod} by {host}", start="now-24h")

returns ``{"data": [{"name", "tags", "points": [[epoch_ms, value], ...], "unit"}],
"meta": {"table", "resolution", "cached", "took_ms", "series", "notes", ...}}``. Faults are
``ApiError``s: ``QUERY_SYNTAX`` / ``QUERY_INVALID`` (400, with the position),
``INVALID_RANGE`` (400), ``QUERY_TOO_LARGE`` (400), ``QUERY_TIMEOUT`` (504).

This module is the read path's public surface: other apps import names from here only, never
from its submodules (import-linter holds them to it). Inside, sources compile queries and
reports to statements (``executor.Statement``) and ``executor`` runs them all.
"""

from __future__ import annotations

import re
from datetime import datetime

from analytics_site.errors import ApiError

from ..names import METRIC_NAME, QUERY_KEY, TAG_KEY
from . import analytics, explorer, funnels, goals, paths, people, retention, units
from . import variables as variables_module
from .catalog import metric_names, metric_tags, parse_tag_filter, window
from .engine import FILLS, Retention, run
from .executor import QueryTimeout, QueryTooLarge, Statement
from .parser import MAX_QUERIES, QueryInvalid, QuerySyntax, parse_json, parse_text
from .spec import FUNCTIONS, Expr, Query, queries_of
from .timerange import InvalidRange, Span, parse_duration, parse_time, resolve, rounded_now

__all__ = [
    "FILLS",
    "FUNCTIONS",
    "METRIC_NAME",
    "QUERY_KEY",
    "TAG_KEY",
    "InvalidRange",
    "Query",
    "QueryInvalid",
    "QuerySyntax",
    "QueryTimeout",
    "QueryTooLarge",
    "Span",
    "Statement",
    "analytics",
    "canonical",
    "execute",
    "explorer",
    "funnels",
    "goals",
    "metric_names",
    "metric_tags",
    "parse",
    "parse_duration",
    "parse_tag_filter",
    "parse_time",
    "paths",
    "people",
    "queries_of",
    "query_unit",
    "retention",
    "retention_of",
    "window",
]

_QUERY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")


def retention_of(project) -> Retention:
    return Retention(project.raw_retention_days, project.minute_rollup_retention_days,
                     project.hour_rollup_retention_days)


def parse(query) -> Expr:
    """A text query or the JSON form."""
    return parse_text(query) if isinstance(query, str) else parse_json(query)


def _outputs(query, queries, formula, chosen=None) -> list[tuple[str | None, Expr]]:
    outputs = _parse_outputs(query, queries, formula)
    return [(name, variables_module.apply(expr, chosen)) for name, expr in outputs] if chosen \
        else outputs


def _parse_outputs(query, queries, formula) -> list[tuple[str | None, Expr]]:
    if query is not None:
        if queries is not None:
            raise QueryInvalid("Send either query or queries, not both.",
                               details={"queries": ["Not with query."]})
        return [(None, parse(query))]
    if not isinstance(queries, dict) or not queries:
        raise QueryInvalid("A query is required: query, or queries (named) with a formula.",
                           details={"query": ["This field is required."]})
    if len(queries) > MAX_QUERIES:
        raise QueryInvalid(f"At most {MAX_QUERIES} named queries.",
                           details={"queries": [f"At most {MAX_QUERIES}."]})
    named = _parse_named(queries)
    if formula is None:
        return list(named.items())
    return [(formula.strip() if isinstance(formula, str) else formula,
             _parse_formula(formula, named))]


def _parse_named(queries: dict) -> dict[str, Expr]:
    named = {}
    for name, body in queries.items():
        if not _QUERY_NAME.match(name):
            raise QueryInvalid(f"Query names are letters, digits and _: {name[:60]!r}.",
                               details={"queries": [f"Invalid name {name[:60]!r}."]})
        try:
            named[name] = parse(body)
        except ApiError as exc:
            exc.details = {**exc.details, "query": name}
            raise
    return named


def _parse_formula(formula, named: dict[str, Expr]) -> Expr:
    if not isinstance(formula, str):
        raise QueryInvalid("formula must be a string like a / b * 100.",
                           details={"formula": ["Must be a string."]})
    try:
        return parse_text(formula, names=named)
    except ApiError as exc:
        exc.details = {**exc.details, "query": "formula"}
        raise


def canonical(*, query=None, queries: dict | None = None, formula: str | None = None) -> dict:
    """The canonical text and JSON forms of what ``execute`` would run, without running it (the
    query builders write the one and read the other, so the browser needs no second grammar):
    ``{"text", "json"}`` for ``query``; ``{"queries": {name: {"text", "json"}}, "formula":
    {"text", "json"} or None}`` for named queries, the formula with the names written out."""
    outputs = _parse_outputs(query, queries, formula)  # the checks and errors of execute
    if query is not None:
        return _forms(outputs[0][1])
    if formula is None:  # the outputs are the named queries themselves
        return {"queries": {name: _forms(expr) for name, expr in outputs}, "formula": None}
    # With a formula the outputs hold only it; the names are parsed for their own forms.
    return {"queries": {name: _forms(expr) for name, expr in _parse_named(queries).items()},
            "formula": _forms(outputs[0][1])}


def _forms(expr: Expr) -> dict:
    return {"text": expr.to_text(), "json": expr.to_json()}


def execute(project, *, query=None, queries: dict | None = None, formula: str | None = None,
            start=None, end=None, step=None, fill: str = "null", now: datetime | None = None,
            use_cache: bool = True, table: str | None = None, variables=None,
            as_json: bool = False) -> dict:
    """Run a query (text or JSON form) or named ``queries`` (with an optional ``formula`` over
    their names) for ``project`` over ``start``..``end`` (default the last hour); ``variables``
    fill ``$name`` filter values (dashboard variables). ``as_json``: for the API's answer only
    (``engine.run``)."""
    if fill not in FILLS:
        raise QueryInvalid(f"fill must be one of {', '.join(FILLS)}.",
                           details={"fill": [f"One of {', '.join(FILLS)}."]})
    outputs = _outputs(query, queries, formula, variables_module.clean(variables))
    rng = resolve(start, end, step, tz=project.timezone, now=rounded_now(now))
    return run(project_id=project.pk, outputs=outputs, rng=rng, keep=retention_of(project),
               fill=fill, use_cache=use_cache, table=table, as_json=as_json)


def query_unit(project, query) -> str:
    """The unit of ``query``'s series (text or JSON form; ``units``), as an answer carries it:
    for pages that show stored values of a query (an alert's) without running it."""
    expr = parse(query)
    return units.units_of(project.pk, [(None, expr)])[expr.to_text()]
