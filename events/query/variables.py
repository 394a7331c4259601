"""Dashboard variables in queries: a filter value ``$name`` takes the values chosen for the
variable — one (``key:v``), several (``key:a|b``) — or, for "all" (no choice), the filter goes
away. ``key:!$name`` excludes the chosen values one by one is not supported: it is an error."""

from __future__ import annotations

import re

from .parser import QueryInvalid
from .spec import BinOp, Expr, Filter, Func, Query

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")
MAX_VALUES = 100


def clean(variables) -> dict[str, list[str] | None]:
    """``{"host": ["web-1", "web-2"], "env": None}`` (None or [] or ["*"]: all)."""
    if variables is None:
        return {}
    if not isinstance(variables, dict) or len(variables) > 20:
        raise QueryInvalid("variables: an object of up to 20 names.",
                           details={"variables": ["An object of up to 20 names."]})
    out: dict[str, list[str] | None] = {}
    for name, values in variables.items():
        if not NAME.match(name):
            raise QueryInvalid(f"variables: bad name {name[:50]!r}.",
                               details={"variables": [f"Bad name {name[:50]!r}."]})
        if isinstance(values, str):
            values = [values]
        if values is None or values == [] or values == ["*"]:
            out[name] = None
            continue
        if (not isinstance(values, list) or len(values) > MAX_VALUES
                or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in values)):
            raise QueryInvalid(f"variables.{name}: a list of up to {MAX_VALUES} values.",
                               details={f"variables.{name}": ["A list of values."]})
        out[name] = sorted(set(values))
    return out


def _filter(f: Filter, chosen: dict) -> Filter | None:
    refs = [v for v in f.values if v.startswith("$") and v[1:] in chosen]
    if not refs:
        return f
    if f.op not in ("eq", "in"):
        raise QueryInvalid(f"Variable {refs[0]} can be used as key:{refs[0]} only.",
                           details={"variables": [refs[0]]})
    values: set[str] = {v for v in f.values if v not in refs}
    for ref in refs:
        picked = chosen[ref[1:]]
        if picked is None:  # "all": the filter no longer narrows anything
            return None
        values.update(picked)
    ordered = tuple(sorted(values))
    return Filter(f.key, "eq" if len(ordered) == 1 else "in", ordered)


def apply(expr: Expr, chosen: dict[str, list[str] | None]) -> Expr:
    if not chosen:
        return expr
    if isinstance(expr, BinOp):
        return BinOp(expr.op, apply(expr.left, chosen), apply(expr.right, chosen))
    if isinstance(expr, Func):
        return Func(expr.name, (apply(expr.series, chosen), *expr.args[1:]))
    if not isinstance(expr, Query):
        return expr
    filters = tuple(f for f in (_filter(f, chosen) for f in expr.filters) if f is not None)
    return Query(expr.aggregation, expr.source, expr.field, filters, expr.by, expr.limit)
