"""The query language: the documented examples, errors that name the position and what was
expected, and text / JSON forms that round-trip to the same spec (Hypothesis)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.query import parse
from events.query.parser import QueryInvalid, QuerySyntax, parse_json, parse_text
from events.query.spec import (
    AGGREGATIONS,
    DEFAULT_LIMIT,
    EVENT_ONLY,
    BinOp,
    Filter,
    Number,
    Query,
)

EXAMPLES = {
    "avg:http.latency_ms{service:api, env:prod} by {host}":
        Query("avg", "http.latency_ms", None,
              (Filter("env", "eq", ("prod",)), Filter("service", "eq", ("api",))), ("host",)),
    "p95:http.latency_ms{env:prod, host:web-*}":
        Query("p95", "http.latency_ms", None,
              (Filter("env", "eq", ("prod",)), Filter("host", "prefix", ("web-",)))),
    "sum:errors{env:!staging}": Query("sum", "errors", None, (Filter("env", "ne", ("staging",)),)),
    "count:events{event:page_view, path:/pricing} by {browser}":
        Query("count", "events", None,
              (Filter("event", "eq", ("page_view",)), Filter("path", "eq", ("/pricing",))),
              ("browser",)),
    "uniq_users:events{event:signup}":
        Query("uniq_users", "events", None, (Filter("event", "eq", ("signup",)),)),
    "uniq_sessions:events{}": Query("uniq_sessions", "events"),
    "sum:events.amount{event:purchase}":
        Query("sum", "events", "amount", (Filter("event", "eq", ("purchase",)),)),
    "(sum:errors{} / count:events{event:request}) * 100":
        BinOp("*", BinOp("/", Query("sum", "errors"),
                         Query("count", "events", None, (Filter("event", "eq", ("request",)),))),
              Number(100)),
    "max:cpu{host:a|b} by {host, env} limit 3":
        Query("max", "cpu", None, (Filter("host", "in", ("a", "b")),), ("env", "host"), 3),
    'last:cpu{url:"https://x.example/a b", *_}': None,  # '*_' is not a key: an error below
}


@pytest.mark.parametrize("text", [t for t, spec in EXAMPLES.items() if spec is not None])
def test_the_documented_examples(text):
    assert parse_text(text) == EXAMPLES[text]
    assert parse_text(EXAMPLES[text].to_text()) == EXAMPLES[text]


@pytest.mark.parametrize(("text", "position", "expected"), [
    ("avg:cpu{host:web-1 env:prod}", 19, ["}", ","]),
    ("avg:cpu{host:web-1", 18, ["}", ","]),
    ("avg:cpu{host}", 12, [":"]),
    ("avg:cpu", 7, ["{"]),
    ("avg:cpu{} by {host", 18, ["}", ","]),
    ("avg:cpu{} +", 11, [*AGGREGATIONS, "a number", "("]),
    ("median:cpu{}", 0, [*AGGREGATIONS, "a number", "("]),
    ("(avg:cpu{}", 10, [")", "+", "-", "*", "/"]),
    ("avg:cpu{} avg:mem{}", 10, ["+", "-", "*", "/"]),
    ('avg:cpu{k:"open}', 10, ['"']),
    ("avg:cpu{} by {h} limit 0", 23, ["1..100"]),
])
def test_syntax_errors_name_the_position_and_what_was_expected(text, position, expected):
    with pytest.raises(QuerySyntax) as error:
        parse_text(text)
    assert error.value.code == "QUERY_SYNTAX"
    assert error.value.details == {"position": position, "expected": expected}
    assert f"at position {position}" in error.value.message


@pytest.mark.parametrize(("text", "words"), [
    ("uniq_users:cpu{}", "counts events"),
    ("p95:events{event:purchase}", "needs a numeric property"),
    ("uniq_sessions:events.amount{}", "takes no property"),
])
def test_queries_that_cannot_run_are_invalid_not_syntax_errors(text, words):
    with pytest.raises(QueryInvalid) as error:
        parse_text(text)
    assert error.value.code == "QUERY_INVALID"
    assert words in error.value.message


def test_json_errors_name_the_path():
    with pytest.raises(QueryInvalid) as error:
        parse_json({"op": "/", "left": {"aggregation": "avg", "source": "cpu"},
                    "right": {"aggregation": "avg", "source": "cpu",
                              "filters": [{"key": "host", "op": "like", "values": ["a"]}]}})
    assert error.value.details == {"path": "query.right.filters[0].op"}


def test_named_queries_in_formulas_and_limits():
    names = {"a": parse_text("sum:errors{}"), "b": parse_text("count:events{}")}
    assert parse_text("a / b * 100", names=names) == BinOp(
        "*", BinOp("/", names["a"], names["b"]), Number(100))
    with pytest.raises(QueryInvalid):
        parse_text(" + ".join(["avg:cpu{}"] * 11))
    with pytest.raises(QueryInvalid):
        parse_text("avg:cpu{}" + " " * 2000)


# -- round trips ----------------------------------------------------------------------------------
_keys = st.from_regex(r"\A[a-z_][a-z0-9_.]{0,8}\Z")
_values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1,
                  max_size=12)
_filters = st.one_of(
    st.builds(lambda k, v: Filter(k, "eq", (v,)), _keys, _values),
    st.builds(lambda k, v: Filter(k, "ne", (v,)), _keys, _values),
    st.builds(lambda k, vs: Filter(k, "in", tuple(sorted(set(vs)))), _keys,
              st.lists(_values, min_size=2, max_size=3, unique=True)),
    st.builds(lambda k, v: Filter(k, "prefix", (v,)), _keys, _values),
)


@st.composite
def _queries(draw):
    on_events = draw(st.booleans())
    aggregations = [a for a in AGGREGATIONS if on_events or a not in EVENT_ONLY]
    aggregation = draw(st.sampled_from(aggregations))
    field = None
    if on_events and aggregation not in ("count", "rate", *EVENT_ONLY):
        field = draw(_keys)
    elif on_events and aggregation in ("count", "rate"):
        field = draw(st.one_of(st.none(), _keys))
    source = "events" if on_events else draw(st.from_regex(r"\A[a-z_][a-z0-9_.:-]{0,15}\Z"))
    if not on_events and source.startswith("events"):
        source = "m" + source
    filters = draw(st.lists(_filters, max_size=3, unique=True))
    by = tuple(sorted(set(draw(st.lists(_keys, max_size=2)))))
    limit = draw(st.integers(1, 100)) if by else DEFAULT_LIMIT
    return Query(aggregation, source, field,
                 tuple(sorted(set(filters), key=lambda f: (f.key, f.op, f.values))), by, limit)


_exprs = st.recursive(
    _queries() | st.builds(Number, st.integers(0, 10**6).map(float)),
    lambda inner: st.builds(BinOp, st.sampled_from("+-*/"), inner, inner), max_leaves=4)


@settings(max_examples=300, deadline=None)
@given(_exprs)
def test_text_and_json_forms_round_trip(expr):
    assert parse_text(expr.to_text()) == expr
    assert parse(expr.to_json()) == expr


def test_times_are_utc_instants_and_out_of_calendar_ones_are_refused():
    from datetime import UTC, datetime

    import pytest

    from events.query import InvalidRange, parse_time

    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    moment = parse_time("2026-11-29T10:00:00+21:02", "start", now)
    assert (moment.isoformat(), moment.utcoffset().total_seconds()) == (
        "2026-11-28T12:58:00+00:00", 0)
    for value in (1e20, "9999-12-31T23:59:59-23:59", "10000-01-01T00:00:00Z"):
        with pytest.raises(InvalidRange) as refused:
            parse_time(value, "start", now)
        assert refused.value.details == {"start": ["Invalid time."]}
