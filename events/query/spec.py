"""The query spec: what the text form and the JSON form both parse to, and what the engine runs.

A spec is an expression: a single ``Query`` (an aggregation over a metric or over events, with
filters and grouping), a ``Number``, or a ``BinOp`` of two expressions (``+ - * /``). ``to_text``
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
EVENTS = "events"
OPERATORS = ("+", "-", "*", "/")
FILTER_OPS = ("eq", "ne", "in", "prefix")

DEFAULT_LIMIT = 10
MAX_LIMIT = 100



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


Expr = Query | Number | BinOp


def queries_of(expr: Expr) -> list[Query]:
    if isinstance(expr, Query):
        return [expr]
    if isinstance(expr, BinOp):
        return queries_of(expr.left) + queries_of(expr.right)
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
