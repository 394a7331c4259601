"""The query spec: what the text form and the JSON form both parse to, and what the engine runs.

A spec is an expression: a single ``Query`` (an aggregation over a metric or over events, with
filters and grouping), a ``Number``, a ``BinOp`` of two expressions (``+ - * /``), or a ``Func``
(a function over the series of an expression, from ``FUNCTIONS``). ``to_text``
writes the canonical text form (filters and group keys sorted), which is also the cache key's
base, and ``to_json`` the JSON form; both parse back to an equal spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

AGGREGATIONS = ("count", "sum", "avg", "min", "max", "last", "p50", "p75", "p90", "p95", "p99",
                "rate", "uniq_users", "uniq_sessions")
PERCENTILES = {"p50": 0.5, "p75": 0.75, "p90": 0.9, "p95": 0.95, "p99": 0.99}
EVENT_ONLY = ("uniq_users", "uniq_sessions")
# The unit of a query's series (``events.query.units``): counts have none, ``rate`` is the
# metric's unit per second, every other aggregation keeps the metric's unit.
UNITLESS_AGGREGATIONS = ("count", "uniq_users", "uniq_sessions")
PER_SECOND_AGGREGATIONS = ("rate",)
EVENTS = "events"
OPERATORS = ("+", "-", "*", "/")
FILTER_OPS = ("eq", "ne", "in", "prefix")

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_WINDOW = 1000  # buckets of a window (moving_avg, rolling) or kept series (top, bottom)


@dataclass(frozen=True)
class Filter:
    key: str
    op: str  # eq, ne (key:!v), in (key:a|b), prefix (key:pre*)
    values: tuple[str, ...]

    def to_text(self) -> str:
        if self.op == "ne":
            return f"{self.key}:!{_value_text(self.values[0])}"
        if self.op == "prefix":
            return f"{self.key}:{_value_text(self.values[0])}*"
        return f"{self.key}:{'|'.join(_value_text(v) for v in self.values)}"


@dataclass(frozen=True)
class Query:
    aggregation: str
    source: str  # a metric name, or "events"
    field: str | None = None  # events.<field>: a numeric property of events
    filters: tuple[Filter, ...] = ()
    by: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT

    @property
    def on_events(self) -> bool:
        return self.source == EVENTS

    def to_text(self) -> str:
        source = self.source + (f".{self.field}" if self.field else "")
        text = f"{self.aggregation}:{source}{{{', '.join(f.to_text() for f in self.filters)}}}"
        if self.by:
            text += f" by {{{', '.join(self.by)}}}"
            if self.limit != DEFAULT_LIMIT:
                text += f" limit {self.limit}"
        return text

    def to_json(self) -> dict:
        body: dict = {"aggregation": self.aggregation, "source": self.source}
        if self.field:
            body["field"] = self.field
        body["filters"] = [{"key": f.key, "op": f.op, "values": list(f.values)}
                           for f in self.filters]
        body["by"] = list(self.by)
        if self.by:
            body["limit"] = self.limit
        return body


@dataclass(frozen=True)
class Number:
    value: float

    def to_text(self) -> str:
        return repr(self.value) if self.value != int(self.value) else str(int(self.value))

    def to_json(self) -> dict:
        return {"number": self.value}


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Expr
    right: Expr

    def to_text(self) -> str:
        return f"({self.left.to_text()} {self.op} {self.right.to_text()})"

    def to_json(self) -> dict:
        return {"op": self.op, "left": self.left.to_json(), "right": self.right.to_json()}


# -- functions ------------------------------------------------------------------------------------
# Argument kinds: "series" (an expression), "count" (an integer 1..MAX_WINDOW), "agg" (a word of
# the function's ``choices``), "duration" (30m, 1h, 1d, 1w), "number", "fill" (a word of
# ``choices`` or a number). ``unit``: what the function makes of its series' unit — ``keep``
# it, ``per_second`` (unit/s), ``drop`` it; ``unit_dropped_by``: the choices that drop it
# (``rolling(q, N, count)`` counts buckets).
@dataclass(frozen=True)
class Function:
    name: str
    args: tuple[str, ...]
    choices: tuple[str, ...] = ()
    summary: str = ""
    unit: str = "keep"
    unit_dropped_by: tuple[str, ...] = ()

    @property
    def signature(self) -> str:
        names = {"series": "q", "count": "N", "agg": "agg", "duration": "duration",
                 "number": "x", "fill": "how"}
        return f"{self.name}({', '.join(names[a] for a in self.args)})"


ROLLING_AGGS = ("avg", "sum", "min", "max", "median", "count")
RANK_AGGS = ("avg", "max", "min", "sum", "last")
FILL_WORDS = ("zero", "previous", "linear")

FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("moving_avg", ("series", "count"), (), "mean of the last N buckets"),
    Function("rolling", ("series", "count", "agg"), ROLLING_AGGS, "agg over the last N buckets",
             unit_dropped_by=("count",)),
    Function("timeshift", ("series", "duration"), (), "the series one duration earlier"),
    Function("derivative", ("series",), (), "change per second from the previous bucket",
             unit="per_second"),
    Function("cumsum", ("series",), (), "running sum over the range"),
    Function("abs", ("series",), (), "absolute value"),
    Function("log", ("series",), (), "base-10 logarithm; null for values <= 0",
             unit="drop"),
    Function("clamp_min", ("series", "number"), (), "values below x raised to x"),
    Function("clamp_max", ("series", "number"), (), "values above x lowered to x"),
    Function("top", ("series", "count", "agg"), RANK_AGGS, "the N series highest by agg"),
    Function("bottom", ("series", "count", "agg"), RANK_AGGS, "the N series lowest by agg"),
    Function("fill", ("series", "fill"), FILL_WORDS, "fill the missing buckets"),
    Function("rate", ("series",), (), "per-second rate of a counter (resets handled)",
             unit="per_second"),
    Function("increase", ("series",), (), "per-bucket increase of a counter (resets handled)"),
)}

_UNIT_SECONDS = (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def duration_text(seconds: int) -> str:
    """The canonical duration: the largest unit that divides it (``7d`` is ``1w``)."""
    for unit, size in _UNIT_SECONDS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable")


def _number_text(value: float) -> str:
    return Number(value).to_text()


@dataclass(frozen=True)
class Func:
    """``name(args)``: ``args[0]`` is the expression, the rest are the parameters its
    ``Function`` names — an int (count), a word (agg, fill), a float (number, fill) or a canonical
    duration text (``1w``)."""

    name: str
    args: tuple

    @property
    def series(self) -> Expr:
        return self.args[0]

    def _arg_text(self, arg) -> str:
        if isinstance(arg, Query | Number | BinOp | Func):
            return arg.to_text()
        if isinstance(arg, float):
            return _number_text(arg)
        return str(arg)

    def to_text(self) -> str:
        return f"{self.name}({', '.join(self._arg_text(a) for a in self.args)})"

    def to_json(self) -> dict:
        return {"function": self.name, "args": [
            a.to_json() if isinstance(a, Query | Number | BinOp | Func) else a
            for a in self.args]}


Expr = Query | Number | BinOp | Func


def queries_of(expr: Expr) -> list[Query]:
    if isinstance(expr, Query):
        return [expr]
    if isinstance(expr, BinOp):
        return queries_of(expr.left) + queries_of(expr.right)
    if isinstance(expr, Func):
        return queries_of(expr.series)
    return []


_PLAIN_VALUE = re.compile(r"^[^\s,{}|:!*\"()]+$")


def _value_text(value: str) -> str:
    if _PLAIN_VALUE.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Notes:
    """What the engine tells the caller beside the data (unknown metric, folded groups ...)."""

    items: list[str] = field(default_factory=list)

    def add(self, note: str) -> None:
        if note not in self.items:
            self.items.append(note)
