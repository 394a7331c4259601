"""Text and JSON forms of a query, parsed to the same spec (events.query.spec).

Text grammar (whitespace between tokens is free)::

    expr    := term (("+" | "-") term)*
    term    := factor (("*" | "/") factor)*
    factor  := NUMBER | "(" expr ")" | call | query
    call    := FUNCTION "(" expr ("," ARG)* ")"       (spec.FUNCTIONS: names and arguments)
    ARG     := INT | AGG | DURATION | ["-"] NUMBER | fill word — as the function's table says
    query   := AGG ":" SOURCE "{" [filter ("," filter)* | "*"] "}" ["by" "{" KEY ("," KEY)* "}"
               ["limit" INT]]
    filter  := KEY ":" ["!"] VALUE ["*"] | KEY ":" VALUE ("|" VALUE)*
    SOURCE  := a metric name, "events", or "events.<property>"
    VALUE   := bare text up to , } | or space (":" "/" "." allowed), or a "double-quoted" string

A syntax error is ``QUERY_SYNTAX`` (400) naming the 0-based character position and what was
expected there (for a function: its argument kinds, the allowed words, 1..1000); a well-formed
query that cannot run (uniq_users of a metric, p95 of events
without a property) is ``QUERY_INVALID`` with the position of the offending part.
"""

from __future__ import annotations

import math
import re

from analytics_site.errors import ApiError

from ..names import METRIC_NAME, QUERY_KEY_TEXT
from ..names import QUERY_KEY as TAG_KEY
from .spec import (
    AGGREGATIONS,
    DEFAULT_LIMIT,
    EVENT_ONLY,
    EVENTS,
    FILTER_OPS,
    FUNCTIONS,
    MAX_LIMIT,
    MAX_WINDOW,
    OPERATORS,
    BinOp,
    Expr,
    Filter,
    Func,
    Function,
    Number,
    Query,
    duration_text,
)
from .timerange import DAY, InvalidRange, parse_duration

MAX_QUERY_CHARS = 2000
MAX_QUERIES = 10


class QuerySyntax(ApiError):
    status = 400
    code = "QUERY_SYNTAX"

    def __init__(self, message: str, *, position: int, expected: list[str]):
        super().__init__(f"{message} at position {position}.",
                         details={"position": position, "expected": expected})


class QueryInvalid(ApiError):
    status = 400
    code = "QUERY_INVALID"


_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_AGG = re.compile(r"[a-z0-9_]+")
_SOURCE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*")
_KEY = QUERY_KEY_TEXT
_BARE = re.compile(r"[^\s,{}|!*\"()]+")
_WORD = re.compile(r"[a-z]+")
_INT = re.compile(r"\d+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIGNED = re.compile(r"-?\s*\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_TOKEN = re.compile(r"[A-Za-z0-9_.]+")
MAX_SHIFT_S = 400 * DAY
DURATION_EXAMPLES = ["30m", "1h", "1d", "1w"]


class _BadArgument(Exception):
    def __init__(self, message: str, expected: list[str]):
        super().__init__(message)
        self.message, self.expected = message, expected


def check_argument(fn: Function, kind: str, value):
    """A function's parameter (from the text or the JSON form) in its canonical spec form: an int
    for a count, a word for an agg or a fill word, a float for a number, a duration's text."""
    if kind == "count":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WINDOW:
            raise _BadArgument(f"N of {fn.signature} must be a whole number 1 to {MAX_WINDOW}",
                               [f"1..{MAX_WINDOW}"])
        return value
    if kind == "agg":
        if value not in fn.choices:
            raise _BadArgument(f"agg of {fn.name} must be one of {', '.join(fn.choices)}",
                               list(fn.choices))
        return value
    if kind == "duration":
        try:
            seconds = parse_duration(value, fn.name)
        except InvalidRange:
            seconds = 0
        if not 1 <= seconds <= MAX_SHIFT_S or isinstance(value, float):
            raise _BadArgument(f"{fn.name} takes a duration like 30m, 1h, 1d, 1w (at most 400d)",
                               DURATION_EXAMPLES)
        return duration_text(seconds)
    if kind == "fill" and value in fn.choices:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        wanted = [*fn.choices, "a number"] if kind == "fill" else ["a number"]
        raise _BadArgument(f"{fn.signature} takes {' or '.join(wanted)} here", wanted)
    return float(value)


class _Parser:
    def __init__(self, text: str, names: dict[str, Expr] | None = None):
        self.text = text
        self.pos = 0
        self.names = names or {}

    # -- scanning ---------------------------------------------------------------------------------
    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self, char: str) -> bool:
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def expect(self, char: str, also: tuple[str, ...] = ()) -> None:
        if not self.take(char):
            self.fail([char, *also])

    def match(self, pattern: re.Pattern) -> str | None:
        self.skip()
        found = pattern.match(self.text, self.pos)
        if found is None:
            return None
        self.pos = found.end()
        return found.group()

    def fail(self, expected: list[str], message: str | None = None):
        self.skip()
        got = repr(self.text[self.pos]) if self.pos < len(self.text) else "end of query"
        wanted = " or ".join(f'"{e}"' if len(e) == 1 else e for e in expected)
        raise QuerySyntax(message or f"Expected {wanted}, found {got}",
                          position=self.pos, expected=expected)

    # -- grammar ----------------------------------------------------------------------------------
    def parse(self) -> Expr:
        expr = self.expr()
        if self.peek():
            self.fail(list(OPERATORS))
        return expr

    def expr(self) -> Expr:
        left = self.term()
        while self.peek() in ("+", "-"):
            op = self.text[self.pos]
            self.pos += 1
            left = BinOp(op, left, self.term())
        return left

    def term(self) -> Expr:
        left = self.factor()
        while self.peek() in ("*", "/"):
            op = self.text[self.pos]
            self.pos += 1
            left = BinOp(op, left, self.factor())
        return left

    def factor(self) -> Expr:
        if self.take("("):
            inner = self.expr()
            self.expect(")", also=OPERATORS)
            return inner
        number = self.match(_NUMBER)
        if number is not None:
            return Number(float(number))
        name = _NAME.match(self.text, self.pos)
        if name and self.text[name.end():].lstrip().startswith("("):  # rate( is not rate:
            return self.call(name)
        if name and name.group() in self.names and not self.text.startswith(":", name.end()):
            self.pos = name.end()
            return self.names[name.group()]
        return self.query()

    def call(self, name: re.Match) -> Func:
        fn = FUNCTIONS.get(name.group())
        if fn is None:
            raise QuerySyntax(f"Unknown function {name.group()[:50]!r}", position=name.start(),
                              expected=list(FUNCTIONS))
        self.pos = name.end()
        self.expect("(")
        args: list = [self.expr()]
        count = f"{fn.name} takes {len(fn.args)} argument{'s' if len(fn.args) > 1 else ''}: " \
                f"{fn.signature}"
        for kind in fn.args[1:]:
            if not self.take(","):
                self.fail([",", *OPERATORS] if len(args) == 1 else [","],
                          f"{count}; expected \",\"" if self.peek() == ")" else None)
            args.append(self.argument(fn, kind))
        if not self.take(")"):
            ends = [")", *OPERATORS] if len(args) == 1 else [")"]
            self.fail(ends, f"{count}; expected \")\"" if self.peek() == "," else None)
        return Func(fn.name, tuple(args))

    def argument(self, fn: Function, kind: str):
        self.skip()
        at = self.pos
        if kind in ("number", "fill") and self.peek() and (self.peek() in "-."
                                                           or self.peek().isdigit()):
            token = self.match(_SIGNED)
            value = float(token.replace(" ", "")) if token else None
        else:  # a word, a count or a duration
            token = self.match(_TOKEN)
            value = int(token) if token and kind == "count" and token.isdigit() else token
        try:  # nothing that reads as an argument (None) is refused like a wrong one
            return check_argument(fn, kind, value)
        except _BadArgument as exc:
            raise QuerySyntax(exc.message, position=at, expected=exc.expected) from None

    def query(self) -> Query:
        self.skip()
        start = self.pos
        aggregation = self.match(_AGG)
        if aggregation not in AGGREGATIONS:
            self.pos = start
            self.fail([*AGGREGATIONS, "a number", "("])
        self.expect(":")
        source_at = self.pos
        source = self.match(_SOURCE)
        if source is None:
            self.fail(["a metric name", "events"])
        field = None
        if source.startswith(EVENTS + "."):
            source, field = EVENTS, source[len(EVENTS) + 1:]
            if not TAG_KEY.match(field):
                raise QuerySyntax("Expected a property name after events.",
                                  position=source_at + len(EVENTS) + 1, expected=["a property"])
        elif source != EVENTS and not METRIC_NAME.match(source):
            raise QuerySyntax("Metric names are at most 200 characters",
                              position=source_at, expected=["a metric name"])
        self.expect("{")
        filters = self.filters()
        by: tuple[str, ...] = ()
        limit = DEFAULT_LIMIT
        if self.match_word("by"):
            self.expect("{")
            keys = [self.key()]
            while self.take(","):
                keys.append(self.key())
            self.expect("}", also=(",",))
            by = tuple(sorted(set(keys)))
            if self.match_word("limit"):
                self.skip()
                limit_at = self.pos
                number = self.match(_INT)
                if number is None:
                    self.fail(["a number of groups"])
                limit = int(number)
                if not 1 <= limit <= MAX_LIMIT:
                    raise QuerySyntax(f"limit must be 1 to {MAX_LIMIT}", position=limit_at,
                                      expected=[f"1..{MAX_LIMIT}"])
        query = Query(aggregation, source, field, filters, by, limit)
        check(query, position=start)
        return query

    def match_word(self, word: str) -> bool:
        self.skip()
        found = _WORD.match(self.text, self.pos)
        if found and found.group() == word:
            self.pos = found.end()
            return True
        return False

    def key(self) -> str:
        key = self.match(_KEY)
        if key is None:
            self.fail(["a tag key"])
        if len(key) > 200:
            raise QuerySyntax("Tag keys are at most 200 characters", position=self.pos - len(key),
                              expected=["a tag key"])
        return key

    def filters(self) -> tuple[Filter, ...]:
        if self.take("}"):
            return ()
        if self.take("*"):
            self.expect("}")
            return ()
        found = {self.filter()}
        while self.take(","):
            found.add(self.filter())
        self.expect("}", also=(",",))
        return tuple(sorted(found, key=lambda f: (f.key, f.op, f.values)))

    def filter(self) -> Filter:
        key = self.key()
        self.expect(":")
        if self.take("!"):
            return Filter(key, "ne", (self.value(),))
        value = self.value()
        if self.text.startswith("*", self.pos):
            self.pos += 1
            return Filter(key, "prefix", (value,))
        values = [value]
        while self.take("|"):
            values.append(self.value())
        if len(values) == 1:
            return Filter(key, "eq", (value,))
        return Filter(key, "in", tuple(sorted(set(values))))

    def value(self) -> str:
        self.skip()
        if self.peek() == '"':
            return self.quoted()
        value = self.match(_BARE)
        if value is None:
            self.fail(["a value"])
        return value

    def quoted(self) -> str:
        start = self.pos
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == '"':
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise QuerySyntax("Unterminated string", position=start, expected=['"'])


def check(query: Query, *, position: int | None = None) -> None:
    """What makes a well-formed query impossible to run."""
    where = {"position": position} if position is not None else {}
    if query.aggregation in EVENT_ONLY and not query.on_events:
        raise QueryInvalid(f"{query.aggregation} counts events; use it with events, "
                           f"e.g. {query.aggregation}:events{{}}.", details=where)
    if query.on_events and query.aggregation in EVENT_ONLY and query.field:
        raise QueryInvalid(f"{query.aggregation} takes no property: use "
                           f"{query.aggregation}:events{{...}}.", details=where)
    if query.on_events and not query.field and query.aggregation not in (
            "count", "rate", *EVENT_ONLY):
        raise QueryInvalid(f"{query.aggregation} of events needs a numeric property, e.g. "
                           f"{query.aggregation}:events.amount{{event:purchase}}.", details=where)


def parse_text(text: str, names: dict[str, Expr] | None = None) -> Expr:
    """The text form; ``names`` are named queries a formula may refer to (``a / b * 100``)."""
    if not isinstance(text, str) or not text.strip():
        raise QuerySyntax("The query is empty", position=0, expected=["a query"])
    if len(text) > MAX_QUERY_CHARS:
        raise QueryInvalid(f"A query is at most {MAX_QUERY_CHARS} characters.",
                           details={"max_chars": MAX_QUERY_CHARS})
    expr = _Parser(text, names).parse()
    _check_size(expr)
    return expr


def _check_size(expr: Expr) -> None:
    from .spec import queries_of

    if len(queries_of(expr)) > MAX_QUERIES:
        raise QueryInvalid(f"At most {MAX_QUERIES} queries in one formula.",
                           details={"max_queries": MAX_QUERIES})


# -- JSON form ------------------------------------------------------------------------------------
def parse_json(body, path: str = "query") -> Expr:
    """``{"aggregation", "source", "field"?, "filters": [{"key","op","values"}], "by", "limit"}``,
    ``{"number": 2}``, ``{"op": "/", "left": ..., "right": ...}``, ``{"function": "moving_avg",
    "args": [<expr>, 5]}``, or a text query string."""
    expr = _json_expr(body, path)
    _check_size(expr)
    return expr


def _invalid(path: str, message: str) -> QueryInvalid:
    return QueryInvalid(f"{path}: {message}", details={"path": path})


def _json_expr(body, path: str) -> Expr:
    if isinstance(body, str):
        return parse_text(body)
    if not isinstance(body, dict):
        raise _invalid(path, "must be a query object or a query string.")
    if "number" in body:
        value = body["number"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _invalid(f"{path}.number", "must be a number.")
        return Number(float(value))
    if "function" in body:
        return _json_func(body, path)
    if "op" in body:
        if body["op"] not in OPERATORS:
            raise _invalid(f"{path}.op", f"must be one of {' '.join(OPERATORS)}.")
        return BinOp(body["op"], _json_expr(body.get("left"), f"{path}.left"),
                     _json_expr(body.get("right"), f"{path}.right"))
    return _json_query(body, path)


def _json_func(body: dict, path: str) -> Func:
    fn = FUNCTIONS.get(body["function"]) if isinstance(body["function"], str) else None
    if fn is None:
        raise QueryInvalid(f"{path}.function: must be one of {', '.join(FUNCTIONS)}.",
                           details={"path": f"{path}.function", "expected": list(FUNCTIONS)})
    args = body.get("args")
    if not isinstance(args, list) or len(args) != len(fn.args):
        raise QueryInvalid(f"{path}.args: {fn.name} takes {len(fn.args)} arguments: "
                           f"{fn.signature}.",
                           details={"path": f"{path}.args", "expected": [fn.signature]})
    out: list = [_json_expr(args[0], f"{path}.args[0]")]
    for i, kind in enumerate(fn.args[1:], start=1):
        try:
            out.append(check_argument(fn, kind, args[i]))
        except _BadArgument as exc:
            raise QueryInvalid(f"{path}.args[{i}]: {exc.message}.",
                               details={"path": f"{path}.args[{i}]",
                                        "expected": exc.expected}) from None
    return Func(fn.name, tuple(out))


def _json_query(body: dict, path: str) -> Query:
    aggregation = body.get("aggregation")
    if aggregation not in AGGREGATIONS:
        raise _invalid(f"{path}.aggregation", f"must be one of {', '.join(AGGREGATIONS)}.")
    source = body.get("source")
    if not isinstance(source, str) or not (source == EVENTS or METRIC_NAME.match(source)):
        raise _invalid(f"{path}.source", "must be a metric name or events.")
    field = body.get("field")
    if field is not None and (source != EVENTS or not isinstance(field, str)
                              or not TAG_KEY.match(field)):
        raise _invalid(f"{path}.field", "is a property name, for events only.")
    filters = []
    raw_filters = body.get("filters", [])
    if not isinstance(raw_filters, list):
        raise _invalid(f"{path}.filters", "must be a list.")
    for i, item in enumerate(raw_filters):
        where = f"{path}.filters[{i}]"
        if not isinstance(item, dict):
            raise _invalid(where, "must be an object with key, op and values.")
        key, op, values = item.get("key"), item.get("op", "eq"), item.get("values")
        if not isinstance(key, str) or not TAG_KEY.match(key):
            raise _invalid(f"{where}.key", "must be a tag key.")
        if op not in FILTER_OPS:
            raise _invalid(f"{where}.op", f"must be one of {', '.join(FILTER_OPS)}.")
        if isinstance(values, str):
            values = [values]
        if (not isinstance(values, list) or not values
                or not all(isinstance(v, str) and len(v) <= 1000 for v in values)
                or (op != "in" and len(values) != 1)):
            raise _invalid(f"{where}.values", "must be a list of strings (one unless op is in).")
        filters.append(Filter(key, op, tuple(sorted(set(values))) if op == "in" else
                              (values[0],)))
    by = body.get("by", [])
    if not isinstance(by, list) or not all(isinstance(k, str) and TAG_KEY.match(k) for k in by):
        raise _invalid(f"{path}.by", "must be a list of tag keys.")
    limit = body.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise _invalid(f"{path}.limit", f"must be an integer from 1 to {MAX_LIMIT}.")
    query = Query(aggregation, source, field,
                  tuple(sorted(set(filters), key=lambda f: (f.key, f.op, f.values))),
                  tuple(sorted(set(by))), limit)
    try:
        check(query)
    except QueryInvalid as exc:
        raise _invalid(path, exc.message) from None
    return query
