"""Functions over series (moving_avg, rolling, timeshift, derivative, cumsum, abs, log, clamps,
top / bottom, fill, counter rate / increase): each equals pandas over the same buckets
(Hypothesis, on data written through the real write path), windows are full at the range's first
bucket, table routing is the inner query's, text and JSON forms round-trip, and bad calls are
errors that name the position and what was expected."""

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import rollups
from events.models import DATA_TABLES
from events.query import execute, parse
from events.query.parser import QueryInvalid, QuerySyntax, parse_json, parse_text
from events.query.spec import (
    FILL_WORDS,
    FUNCTIONS,
    RANK_AGGS,
    ROLLING_AGGS,
    BinOp,
    Filter,
    Func,
    Number,
    Query,
    queries_of,
)

pytestmark = pytest.mark.slow

START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
BUCKETS = 40  # one-minute buckets written from START
SHOWN = 30  # the range asked: the last 30 of them (10 before it feed the windows)


def _truncate():
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(DATA_TABLES))


def _write(store, project, name, values, start=START, step=60, tags=None):
    items = [{"name": name, "value": v, "tags": tags or {},
              "timestamp": (start + timedelta(seconds=i * step + 1)).isoformat()}
             for i, v in enumerate(values) if v is not None]
    for i in range(0, len(items), 500):
        store.points(project, items[i:i + 500])


def _series(body, **tags):
    for series in body["data"]:
        if all(series["tags"].get(k) == v for k, v in tags.items()):
            return [v for _, v in series["points"]]
    raise AssertionError(f"no series with {tags}: {[s['tags'] for s in body['data']]}")


def _same(got, want):
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if w is None or math.isnan(w):
            assert g is None, (i, g, w)
        else:
            assert g == pytest.approx(w, rel=1e-9, abs=1e-9), (i, g, w)


def _pandas(text: str, s: pd.Series) -> pd.Series:
    """The same function by pandas, over all BUCKETS (the shown ones are the last SHOWN)."""
    shown = s.iloc[-SHOWN:]
    previous = s.shift()
    increase = s.diff().where(s >= previous, s).where(previous.notna())
    call = parse_text(text)
    name, params = call.name, call.args[1:]
    if name == "moving_avg":
        return s.rolling(params[0], min_periods=1).mean()
    if name == "rolling":
        n, agg = params
        window = s.rolling(n, min_periods=0 if agg == "count" else 1)
        return getattr(window, "mean" if agg == "avg" else agg)()
    return {
        "derivative": lambda: s.diff() / 60,
        "increase": lambda: increase,
        "rate": lambda: increase / 60,
        "cumsum": lambda: shown.cumsum(),
        "abs": lambda: s.abs(),
        "log": lambda: np.log10(s.where(s > 0)),
        "clamp_min": lambda: s.clip(lower=params[0]),
        "clamp_max": lambda: s.clip(upper=params[0]),
        "fill": lambda: {"zero": lambda: shown.fillna(0), "previous": lambda: shown.ffill(),
                         "linear": lambda: shown.interpolate(limit_area="inside")}.get(
            params[0], lambda: shown.fillna(params[0]))(),
    }[name]()


_cells = st.lists(st.one_of(st.none(), st.floats(-1000, 1000, allow_nan=False,
                                                 allow_subnormal=False)),
                  min_size=BUCKETS, max_size=BUCKETS).filter(lambda c: any(v is not None
                                                                          for v in c))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=_cells, n=st.integers(1, 10), agg=st.sampled_from(ROLLING_AGGS),
       x=st.floats(-500, 500, allow_nan=False).map(lambda v: round(v, 2)),
       how=st.sampled_from([*FILL_WORDS, "-7.5"]))
def test_each_function_equals_pandas_over_the_same_buckets(store, make_project, cells, n, agg, x,
                                                           how):
    _truncate()
    project = make_project()
    _write(store, project, "m", cells)
    rollups.fold()
    s = pd.Series([np.nan if v is None else v for v in cells], dtype=float)
    for text in (f"moving_avg(avg:m{{}}, {n})", f"rolling(avg:m{{}}, {n}, {agg})",
                 "derivative(avg:m{})", "rate(avg:m{})", "increase(avg:m{})", "cumsum(avg:m{})",
                 "abs(avg:m{})", "log(avg:m{})", f"clamp_min(avg:m{{}}, {x})",
                 f"clamp_max(avg:m{{}}, {x})", f"fill(avg:m{{}}, {how})"):
        body = execute(project, query=text, start=(START + timedelta(minutes=BUCKETS - SHOWN))
                       .isoformat(), end=(START + timedelta(minutes=BUCKETS)).isoformat(),
                       step=60, use_cache=False)
        assert body["meta"]["resolution"] == 60 and len(body["data"]) == 1, text
        _same(_series(body), list(_pandas(text, s).iloc[-SHOWN:]))


# -- windows, routing, timeshift, ranking ---------------------------------------------------------
@pytest.fixture
def ramp(store, make_project):
    """Three hours of metric m, one point a minute, valued by its minute: 0, 1, ... 179."""
    project = make_project("Ramp")
    _write(store, project, "m", [float(i) for i in range(180)])
    rollups.fold()
    return project


def test_windows_are_full_at_the_first_bucket_and_keep_the_table(ramp):
    start, end = START + timedelta(minutes=60), START + timedelta(minutes=120)
    window = {"start": start.isoformat(), "end": end.isoformat(), "step": 60, "use_cache": False}
    for table in (None, "raw"):
        plain = execute(ramp, query="avg:m{}", table=table, **window)
        for text, first in (("moving_avg(avg:m{}, 5)", (56 + 57 + 58 + 59 + 60) / 5),
                            ("rolling(avg:m{}, 3, sum)", 58 + 59 + 60.0),
                            ("derivative(avg:m{})", 1 / 60), ("increase(avg:m{})", 1.0)):
            body = execute(ramp, query=text, table=table, **window)
            values = _series(body)
            assert (values[0], len(values)) == (pytest.approx(first), 60), text
            assert body["meta"]["table"] == plain["meta"]["table"] == ((table and "raw")
                                                                       or "rollup_1m")
            assert (body["meta"]["start"], body["meta"]["end"]) == (start.isoformat(),
                                                                    end.isoformat())
    hourly = execute(ramp, query="moving_avg(avg:m{}, 2)", start=(START + timedelta(hours=1))
                     .isoformat(), end=(START + timedelta(hours=3)).isoformat(), step=3600,
                     use_cache=False)
    assert hourly["meta"]["table"] == "rollup_1h"
    assert _series(hourly) == [(29.5 + 89.5) / 2, (89.5 + 149.5) / 2]


def test_a_30_day_moving_average_reads_the_hourly_rollup(ramp):
    plain = execute(ramp, query="avg:m{}", start="now-30d", step="1h", use_cache=False)
    body = execute(ramp, query="moving_avg(avg:m{}, 24)", start="now-30d", step="1h",
                   use_cache=False)
    assert body["meta"]["table"] == plain["meta"]["table"] == "rollup_1h"
    assert body["meta"]["resolution"] == 3600
    assert len(_series(body)) == len(_series(plain))
    hours = {t: v for t, v in plain["data"][0]["points"] if v is not None}
    last = max(hours)  # the mean of the 3 hours with data, whichever 24-hour windows hold them
    assert dict(body["data"][0]["points"])[last] == pytest.approx(
        sum(hours.values()) / len(hours))


def test_timeshift_by_a_week_is_restamped_onto_the_current_buckets(store, make_project):
    project = make_project("Weekly")
    project.raw_retention_days = 30
    project.save()
    now_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    this_week = now_hour - timedelta(days=1, hours=3)
    last_week = this_week - timedelta(weeks=1)
    _write(store, project, "orders", [5.0, 7.0, 11.0], start=last_week, step=3600)
    _write(store, project, "orders", [50.0, 70.0, 110.0], start=this_week, step=3600)
    rollups.fold()
    window = {"start": this_week.isoformat(), "end": (this_week + timedelta(hours=3)).isoformat(),
              "step": "1h", "use_cache": False}
    now = execute(project, query="sum:orders{}", **window)
    before = execute(project, query="timeshift(sum:orders{}, 1w)", **window)
    assert now["data"][0]["points"] == [[int((this_week + timedelta(hours=h)).timestamp() * 1000),
                                         v] for h, v in enumerate((50.0, 70.0, 110.0))]
    assert before["data"][0]["points"] == [[t, v] for (t, _), v in zip(
        now["data"][0]["points"], (5.0, 7.0, 11.0), strict=True)]
    assert before["meta"]["table"] == "rollup_1h"
    growth = execute(project, queries={"a": "sum:orders{}"}, formula="a / timeshift(a, 7d)",
                     **window)
    assert _series(growth) == [10.0, 10.0, 10.0]
    with pytest.raises(QueryInvalid) as error:
        execute(project, query="timeshift(sum:orders{}, 90m)", **window)
    assert error.value.details == {"function": "timeshift", "step": 3600, "shift": 5400}


def test_day_windows_and_shifts_follow_the_local_calendar_across_dst(store, make_project):
    """Berlin's clocks went back on 2026-10-25 (a 25-hour day): day buckets stay at local
    midnight, and a window or shift reaches exactly the local days before."""
    project = make_project("Berlin")
    project.timezone, project.raw_retention_days = "Europe/Berlin", 90
    project.save()
    zone = ZoneInfo("Europe/Berlin")
    days = [datetime(2026, 10, 18 + i, 12, tzinfo=zone) for i in range(12)]  # Oct 18 .. 29
    store.points(project, [{"name": "m", "value": float(i), "timestamp": day.isoformat()}
                           for i, day in enumerate(days)])
    rollups.fold()
    window = {"start": datetime(2026, 10, 23, tzinfo=zone).isoformat(),
              "end": datetime(2026, 10, 30, tzinfo=zone).isoformat(), "step": "1d",
              "use_cache": False}
    plain = execute(project, query="sum:m{}", **window)
    assert _series(plain) == [5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]
    assert _series(execute(project, query="moving_avg(sum:m{}, 3)", **window)) == [
        4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    shifted = execute(project, query="timeshift(sum:m{}, 1w)", **window)
    assert _series(shifted) == [None, None, 0.0, 1.0, 2.0, 3.0, 4.0]
    assert [t for t, _ in shifted["data"][0]["points"]] == [t for t, _ in
                                                             plain["data"][0]["points"]]
    hours = [24, 24, 24, 25, 24, 24, 24]  # Oct 25 is 25 hours long: the rate of Oct 26 is lower
    assert _series(execute(project, query="derivative(sum:m{})", **window)) == pytest.approx(
        [1 / (h * 3600) for h in hours])


@pytest.fixture
def hosts(store, make_project):
    """Per host, three hours of one point a minute: a ~10 with one spike to 100, b 20, c 30 with a
    last hour of 5."""
    project = make_project("Hosts")
    values = {"a": [100.0 if m == 30 else 10.0 for m in range(180)],
              "b": [20.0] * 180,
              "c": [30.0 if m < 120 else 5.0 for m in range(180)]}
    for host, series in values.items():
        _write(store, project, "cpu", series, tags={"host": host})
    rollups.fold()
    frame = pd.DataFrame([{"host": h, "hour": m // 60, "value": v}
                          for h, series in values.items() for m, v in enumerate(series)])
    return project, frame.groupby(["host", "hour"])["value"].mean().unstack()


def test_top_and_bottom_keep_the_series_ranked_by_agg(hosts):
    project, hourly = hosts
    ranks = {"avg": hourly.mean(axis=1), "max": hourly.max(axis=1), "min": hourly.min(axis=1),
             "sum": hourly.sum(axis=1), "last": hourly.iloc[:, -1]}
    assert list(ranks) == list(RANK_AGGS)
    for which in ("top", "bottom"):
        for agg, rank in ranks.items():
            body = execute(project, query=f"{which}(avg:cpu{{}} by {{host}}, 2, {agg})",
                           start=START.isoformat(), end=(START + timedelta(hours=3)).isoformat(),
                           step=3600, use_cache=False)
            ordered = sorted(rank.index, key=lambda h, r=rank, w=which: (
                -r[h] if w == "top" else r[h], h))
            assert [s["tags"] for s in body["data"]] == [{"host": h} for h in ordered[:2]], (
                which, agg)
            for series in body["data"]:
                _same([v for _, v in series["points"]], list(hourly.loc[series["tags"]["host"]]))


def test_functions_take_dashboard_variables_and_mix_with_arithmetic(hosts):
    project, hourly = hosts
    body = execute(project, queries={"a": "avg:cpu{host:$host} by {host}",
                                     "b": "max:cpu{host:$host} by {host}"},
                   formula="clamp_max(a, 15) / b * 100", variables={"host": ["a"]},
                   start=START.isoformat(), end=(START + timedelta(hours=3)).isoformat(),
                   step=3600, use_cache=False)
    assert [s["tags"] for s in body["data"]] == [{"host": "a"}]
    _same(_series(body), [min(hourly.loc["a", h], 15) / m * 100
                          for h, m in enumerate((100.0, 10.0, 10.0))])


def test_windows_too_costly_to_compute_are_refused(hosts, monkeypatch):
    from events.query import QueryTooLarge, engine

    project, _ = hosts
    monkeypatch.setattr(engine, "MAX_WINDOW_CELLS", 3 * 52 * 50 - 1)  # 3 series, 3 + 49 buckets
    with pytest.raises(QueryTooLarge) as error:
        execute(project, query="moving_avg(avg:cpu{} by {host}, 50)", start=START.isoformat(),
                end=(START + timedelta(hours=3)).isoformat(), step=3600, use_cache=False)
    assert error.value.details == {"max_window_cells": 3 * 52 * 50 - 1}
    assert len(execute(project, query="moving_avg(avg:cpu{} by {host}, 49)",
                       start=START.isoformat(), end=(START + timedelta(hours=3)).isoformat(),
                       step=3600, use_cache=False)["data"]) == 3


# -- the language ---------------------------------------------------------------------------------
CPU = Query("avg", "cpu")


@pytest.mark.parametrize(("text", "spec"), [
    ("moving_avg(avg:cpu{}, 5)", Func("moving_avg", (CPU, 5))),
    ("rolling( avg:cpu{} ,3 , median )", Func("rolling", (CPU, 3, "median"))),
    ("timeshift(avg:cpu{}, 7d)", Func("timeshift", (CPU, "1w"))),
    ("clamp_min(avg:cpu{}, -2.5) * 2", BinOp("*", Func("clamp_min", (CPU, -2.5)), Number(2))),
    ("fill(rate(avg:cpu{}), linear)", Func("fill", (Func("rate", (CPU,)), "linear"))),
    ("rate(rate:cpu{})", Func("rate", (Query("rate", "cpu"),))),
    ("top(avg:cpu{} by {host}, 3, last)",
     Func("top", (Query("avg", "cpu", by=("host",)), 3, "last"))),
    ("log((avg:cpu{} + 1))", Func("log", (BinOp("+", CPU, Number(1)),))),
])
def test_function_calls_parse_to_specs_that_write_back_canonically(text, spec):
    assert parse_text(text) == spec
    assert parse_text(spec.to_text()) == spec
    assert parse_json(spec.to_json()) == spec


def test_queries_of_descends_into_functions():
    spec = parse_text("moving_avg(avg:cpu{}, 5) / top(sum:mem{} by {host}, 3, max) + abs(2)")
    assert queries_of(spec) == [CPU, Query("sum", "mem", by=("host",))]


def test_the_json_form_of_a_function():
    spec = parse_text("moving_avg(avg:cpu{}, 5) / 2")
    assert spec.to_json() == {"op": "/", "right": {"number": 2.0}, "left": {
        "function": "moving_avg", "args": [{"aggregation": "avg", "source": "cpu",
                                             "filters": [], "by": []}, 5]}}
    assert parse({"function": "timeshift", "args": ["avg:cpu{}", "24h"]}) == Func(
        "timeshift", (CPU, "1d"))
    names = {"a": CPU, "b": Query("sum", "mem")}
    assert parse_text("moving_avg(a, 5) / b", names=names) == BinOp(
        "/", Func("moving_avg", (CPU, 5)), names["b"])


@pytest.mark.parametrize(("text", "position", "expected"), [
    ("median(avg:cpu{})", 0, list(FUNCTIONS)),
    ("avg:cpu{} / movingavg(avg:cpu{}, 3)", 12, list(FUNCTIONS)),
    ("moving_avg(avg:cpu{})", 20, [",", "+", "-", "*", "/"]),
    ("moving_avg(avg:cpu{}, 5, 3)", 23, [")"]),
    ("abs(avg:cpu{}, 5)", 13, [")", "+", "-", "*", "/"]),
    ("moving_avg(avg:cpu{}, 0)", 22, ["1..1000"]),
    ("moving_avg(avg:cpu{}, 1001)", 22, ["1..1000"]),
    ("moving_avg(avg:cpu{}, avg)", 22, ["1..1000"]),
    ("rolling(avg:cpu{}, 5, p95)", 22, list(ROLLING_AGGS)),
    ("top(avg:cpu{} by {h}, 5, median)", 25, list(RANK_AGGS)),
    ("timeshift(avg:cpu{}, 1y)", 21, ["30m", "1h", "1d", "1w"]),
    ("timeshift(avg:cpu{}, 500d)", 21, ["30m", "1h", "1d", "1w"]),
    ("fill(avg:cpu{}, nothing)", 16, [*FILL_WORDS, "a number"]),
    ("clamp_max(avg:cpu{}, high)", 21, ["a number"]),
    ("moving_avg(avg:cpu{} avg:mem{}, 3)", 21, [",", "+", "-", "*", "/"]),
])
def test_bad_calls_name_the_position_and_what_was_expected(text, position, expected):
    with pytest.raises(QuerySyntax) as error:
        parse_text(text)
    assert error.value.details == {"position": position, "expected": expected}
    assert f"at position {position}" in error.value.message


@pytest.mark.parametrize(("body", "path", "expected"), [
    ({"function": "median", "args": ["avg:cpu{}"]}, "query.function", list(FUNCTIONS)),
    ({"function": "moving_avg", "args": ["avg:cpu{}"]}, "query.args", ["moving_avg(q, N)"]),
    ({"function": "moving_avg", "args": ["avg:cpu{}", True]}, "query.args[1]", ["1..1000"]),
    ({"function": "rolling", "args": ["avg:cpu{}", 3, "p99"]}, "query.args[2]",
     list(ROLLING_AGGS)),
    ({"function": "timeshift", "args": ["avg:cpu{}", "soon"]}, "query.args[1]",
     ["30m", "1h", "1d", "1w"]),
    ({"function": "clamp_min", "args": ["avg:cpu{}", "1"]}, "query.args[1]", ["a number"]),
])
def test_bad_json_calls_name_the_path_and_what_was_expected(body, path, expected):
    with pytest.raises(QueryInvalid) as error:
        parse_json(body)
    assert error.value.details == {"path": path, "expected": expected}
    with pytest.raises(QueryInvalid) as error:
        parse_json({"function": "abs", "args": [{"aggregation": "p95", "source": "events"}]})
    assert error.value.details == {"path": "query.args[0]"}


_queries = st.builds(
    Query, st.sampled_from(("avg", "rate", "sum", "p95", "last")),
    st.from_regex(r"\A[a-z_][a-z0-9_.]{0,8}\Z").filter(lambda s: not s.startswith("events")),
    st.none(), st.lists(st.builds(lambda k, v: Filter(k, "eq", (v,)), st.sampled_from("hkx"),
                                  st.text("ab c,}\"", min_size=1, max_size=4)),
                        max_size=2, unique_by=lambda f: f.key).map(
        lambda fs: tuple(sorted(fs, key=lambda f: f.key))),
    st.sampled_from(((), ("host",))))
_numbers = st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 3))


def _argument(fn, kind):
    return {"count": st.integers(1, 1000),
            "duration": st.sampled_from(("30m", "1h", "90m", "1d", "1w", "2w", "45s")),
            "number": _numbers, "agg": st.sampled_from(fn.choices),
            "fill": st.sampled_from(fn.choices) | _numbers}[kind]


def _calls(inner):
    def call(name):
        fn = FUNCTIONS[name]
        return st.tuples(inner, *(_argument(fn, k) for k in fn.args[1:])).map(
            lambda args: Func(name, args))
    return st.sampled_from(sorted(FUNCTIONS)).flatmap(call)


_exprs = st.recursive(
    _queries | st.builds(Number, st.integers(0, 1000).map(float)),
    lambda inner: _calls(inner) | st.builds(BinOp, st.sampled_from("+-*/"), inner, inner),
    max_leaves=4)


@settings(max_examples=200, deadline=None)
@given(_exprs)
def test_text_and_json_forms_of_functions_round_trip(expr):
    assert parse_text(expr.to_text()) == expr
    assert parse(expr.to_json()) == expr


# -- the API --------------------------------------------------------------------------------------
def test_the_query_api_answers_a_function_query(store, two_projects, token_client):
    project = two_projects["a"]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    first = now - timedelta(minutes=10)
    _write(store, project, "requests_total", [100.0, 160.0, 220.0, 20.0, 80.0], start=first,
           tags={"host": "web-01"})
    rollups.fold()
    client = token_client(two_projects["a_viewer"])
    window = {"project": project.pk, "start": (first + timedelta(minutes=1)).isoformat(),
              "end": (first + timedelta(minutes=5)).isoformat(), "step": "1m"}
    for query in ("rate(last:requests_total{} by {host})",
                  {"function": "rate", "args": [
                      {"aggregation": "last", "source": "requests_total", "by": ["host"]}]}):
        response = client.post("/api/v1/query", {**window, "query": query}, format="json")
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["data"][0]["tags"] == {"host": "web-01"}
        # 60 per minute, then a restart to 20 counts as 20, then 60 again
        assert [v for _, v in body["data"][0]["points"]] == [1.0, 1.0, 20 / 60, 1.0]
        assert body["meta"]["table"] == "rollup_1m"
    bad = client.post("/api/v1/query", {**window, "query": "rate(last:requests_total{}, 5m)"},
                      format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "QUERY_SYNTAX")
    assert bad.json()["details"] == {"position": 26, "expected": [")", "+", "-", "*", "/"]}
    unknown = client.post("/api/v1/query", {**window, "queries": {
        "a": {"function": "irate", "args": ["last:requests_total{}"]}}}, format="json")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "QUERY_INVALID")
    assert unknown.json()["details"] == {"path": "query.function", "expected": list(FUNCTIONS),
                                         "query": "a"}
