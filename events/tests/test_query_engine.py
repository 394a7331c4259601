"""The query engine over data written through the real write path: table routing, equal answers
from raw rows and rollups, filters, groups and "other", formulas, fills, rates, events and
identities, the cache, time zones and limits."""

from datetime import UTC, datetime, timedelta

import orjson
import pandas as pd
import pytest

from events import rollups
from events.query import execute

pytestmark = pytest.mark.slow

HOSTS = {"a": "prod", "b": "prod", "c": "staging"}


def _hour_ago(hours):
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)


@pytest.fixture
def cpu(store, make_project):
    """Three hours of one point a minute per host: value = host number * 10 + minute % 7."""
    project = make_project("Metrics")
    start = _hour_ago(4)
    rows = []
    for n, (host, env) in enumerate(HOSTS.items(), start=1):
        for minute in range(180):
            at = start + timedelta(minutes=minute, seconds=n)
            rows.append({"host": host, "env": env, "at": at, "value": n * 10 + minute % 7})
    items = [{"name": "cpu", "value": r["value"], "tags": {"host": r["host"], "env": r["env"]},
              "timestamp": r["at"].isoformat()} for r in rows]
    for i in range(0, len(items), 500):
        store.points(project, items[i:i + 500])
    rollups.fold()
    return project, start, pd.DataFrame(rows)


def _values(body, **tags):
    for series in body["data"]:
        if all(series["tags"].get(k) == v for k, v in tags.items()):
            return [v for _, v in series["points"]]
    raise AssertionError(f"no series with {tags}: {[s['tags'] for s in body['data']]}")


def test_the_step_picks_the_table_and_every_table_agrees(cpu):
    project, start, frame = cpu
    end = start + timedelta(hours=3)
    hourly = frame.assign(b=frame["at"].dt.floor("h")).groupby(["host", "b"])["value"]
    for step, table in ((3600, "rollup_1h"), (60, "rollup_1m"), (30, "raw")):
        body = execute(project, query="avg:cpu{} by {host}", start=start.isoformat(),
                       end=end.isoformat(), step=step, use_cache=False)
        assert (body["meta"]["table"], body["meta"]["resolution"]) == (table, step)
        assert [s["tags"] for s in body["data"]] == [{"host": "c"}, {"host": "b"}, {"host": "a"}]
    for table in ("raw", "1m", "1h"):
        body = execute(project, query="avg:cpu{} by {host}", start=start.isoformat(),
                       end=end.isoformat(), step=3600, use_cache=False, table=table)
        for host in HOSTS:
            assert _values(body, host=host) == pytest.approx(list(hourly.mean()[host]))


@pytest.mark.parametrize("aggregation", ["count", "sum", "min", "max", "last", "p50", "p95",
                                         "p99"])
@pytest.mark.parametrize("filters", ["env:prod", ""])  # "": the name-level hourly rollup
def test_rollups_equal_raw_for_each_aggregation(cpu, aggregation, filters):
    project, start, _ = cpu
    answers = {table: execute(project, query=f"{aggregation}:cpu{{{filters}}}",
                              start=start.isoformat(), end=(start + timedelta(hours=3)).isoformat(),
                              step=3600, use_cache=False, table=table)
               for table in ("raw", "1m", "1h")}
    raw = _values(answers["raw"])
    assert len(raw) == 3 and None not in raw
    for table in ("1m", "1h"):
        if aggregation.startswith("p"):
            assert _values(answers[table]) == pytest.approx(raw, rel=0.01)
        else:
            assert _values(answers[table]) == raw


def test_filters_not_in_and_prefix(cpu):
    project, start, frame = cpu
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
              "step": 3600, "use_cache": False}
    expected = frame[frame["at"] < start + timedelta(hours=1)].groupby("host")["value"].sum()
    assert _values(execute(project, query="sum:cpu{env:!staging}", **window)) == [
        expected["a"] + expected["b"]]
    assert _values(execute(project, query="sum:cpu{host:a|c}", **window)) == [
        expected["a"] + expected["c"]]
    assert _values(execute(project, query="sum:cpu{env:stag*}", **window)) == [expected["c"]]


@pytest.mark.parametrize("aggregation", ["sum", "count", "avg", "min", "max", "last", "p90"])
def test_top_groups_and_the_rest_folded_into_other(cpu, aggregation):
    project, start, frame = cpu
    body = execute(project, query=f"{aggregation}:cpu{{}} by {{host}} limit 1",
                   start=start.isoformat(), end=(start + timedelta(hours=3)).isoformat(),
                   step=3600, use_cache=False)
    pooled = {"sum": "sum", "count": "count", "avg": "mean", "min": "min", "max": "max",
              "last": "last", "p90": lambda v: v.quantile(0.9, interpolation="higher")}
    ranked = frame.sort_values("at").groupby("host")["value"].agg(pooled[aggregation])
    top = ranked.sort_values(ascending=False, kind="stable").index[0]
    assert [(s["tags"], s.get("other", False)) for s in body["data"]] == [
        ({"host": top}, False), ({"host": "other"}, True)]
    hourly = frame.sort_values("at").assign(b=frame["at"].dt.floor("h"))
    rest = hourly[hourly["host"] != top].groupby("b")["value"].agg(pooled[aggregation])
    assert _values(body, host="other") == pytest.approx(list(rest), rel=0.01)
    assert any("folded" in note for note in body["meta"]["notes"])


def test_formulas_named_queries_fill_and_rate(cpu):
    project, start, frame = cpu
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
              "step": 3600, "use_cache": False}
    first = frame[frame["at"] < start + timedelta(hours=1)].groupby("host")["value"].sum()
    body = execute(project, queries={"a": "sum:cpu{host:a}", "b": "sum:cpu{host:b}"},
                   formula="a / b * 100", **window)
    assert [s["name"] for s in body["data"]] == ["a / b * 100"]
    assert _values(body) == [pytest.approx(first["a"] / first["b"] * 100)]
    both = execute(project, queries={"a": "sum:cpu{host:a}", "b": "sum:cpu{host:b}"}, **window)
    assert [s["name"] for s in both["data"]] == ["a", "b"]
    by_host = execute(project, query="sum:cpu{} by {host} / 2", **window)
    assert sorted(_values(by_host, host=h)[0] for h in HOSTS) == sorted(first / 2)
    rate = execute(project, query="rate:cpu{host:a}", **window)
    assert _values(rate) == [pytest.approx(first["a"] / 3600)]
    later = {**window, "end": (start + timedelta(hours=5)).isoformat()}  # 2 empty hours
    assert _values(execute(project, query="sum:cpu{host:a}", **later))[-2:] == [None, None]
    assert _values(execute(project, query="sum:cpu{host:a}", fill="zero", **later))[-2:] == [
        0, 0]
    assert _values(execute(project, query="max:cpu{host:a}", fill="previous", **later))[-2:] \
        == [16, 16]


def test_unknown_metric_or_tag_is_an_empty_answer_with_a_note(cpu):
    project, start, _ = cpu
    body = execute(project, query="avg:nope{}", start=start.isoformat(), use_cache=False)
    assert body["data"] == []
    assert body["meta"]["notes"] == ["No metric named 'nope' in this project."]
    body = execute(project, query="avg:cpu{region:eu}", start=start.isoformat(),
                   use_cache=False)
    assert body["data"] == []
    assert body["meta"]["notes"] == ["No series of 'cpu' has the tag 'region'."]


def test_answers_are_cached_for_the_same_spec_and_range(cpu):
    project, _, _ = cpu
    asked = {"query": "avg:cpu{ env:prod }", "start": "now-6h", "end": "now",
             "now": datetime.now(UTC)}
    first = execute(project, **asked)
    second = execute(project, **{**asked, "query": "avg:cpu{env:prod}"})  # same spec
    assert (first["meta"]["cached"], second["meta"]["cached"]) == (False, True)
    assert second["data"] == first["data"]
    # Kept as JSON and read back as the same values, lists and all (not tuples or strings).
    assert [type(p) for s in second["data"] for p in s["points"]] == \
        [list] * sum(len(s["points"]) for s in first["data"])


def test_the_api_form_of_an_answer_is_the_json_kept_for_it_fresh_or_cached(cpu):
    from analytics_site.renderers import JSONText

    project, _, _ = cpu
    asked = {"query": "avg:cpu{} by {host}", "start": "now-6h", "end": "now",
             "now": datetime.now(UTC)}  # one now for all three: one cache key, one window
    plain = execute(project, **asked, use_cache=False)
    fresh = execute(project, **asked, as_json=True)
    cached = execute(project, **asked, as_json=True)
    assert (fresh["meta"]["cached"], cached["meta"]["cached"]) == (False, True)
    for body in (fresh, cached):  # encoded once, in the engine: the renderer sends it as it is
        assert isinstance(body["data"], JSONText)
        assert orjson.loads(body["data"].text) == plain["data"]
    assert fresh["data"].text == cached["data"].text


def test_a_metrics_series_are_read_again_only_once_the_project_gains_a_series(cpu, store):
    """The series list of a metric is kept per process under the project's series token, which
    the write path sets anew when it commits new series: a query asked again over another
    window sends its data statement alone, until then."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    project, start, _ = cpu

    def ask():  # not from the answer cache: every call computes its answer
        with CaptureQueriesContext(connection) as ran:
            body = execute(project, query="avg:cpu{env:prod} by {host}", step=30,
                           start=start.isoformat(),
                           end=(start + timedelta(hours=3)).isoformat(), use_cache=False)
        lookups = [q for q in ran.captured_queries if "FROM events_metricseries" in q["sql"]]
        hosts = {s["tags"]["host"]: [v for _, v in s["points"] if v is not None]
                 for s in body["data"]}
        return len(lookups), hosts

    assert ask()[0] == 1
    lookups, hosts = ask()
    assert (lookups, sorted(hosts)) == (0, ["a", "b"])
    late = (start + timedelta(hours=1, seconds=45)).isoformat()  # a bucket of its own
    store.points(project, [{"name": "cpu", "value": 1000, "tags": {"host": "a", "env": "prod"},
                            "timestamp": late}])  # a series it has: the token stays
    lookups, hosts = ask()
    assert lookups == 0 and 1000 in hosts["a"]
    store.points(project, [{"name": "cpu", "value": 7, "tags": {"host": "d", "env": "prod"},
                            "timestamp": late}])  # a new series: read again, and found
    lookups, hosts = ask()
    assert (lookups, sorted(hosts), hosts["d"]) == (1, ["a", "b", "d"], [7])
    assert ask()[0] == 0
    cache.delete(f"series:{project.pk}")  # a Redis that lost the token: read, and a new one
    assert [ask()[0], ask()[0]] == [1, 0]
    # A filter that matches nothing reads every series to say why, and keeps none of them.
    from events.query import metric_source

    for _ in range(2):
        body = execute(project, query="avg:cpu{env:nope}", start=start.isoformat(),
                       use_cache=False)
        assert body["meta"]["notes"] == [] and body["data"] == []
    assert not [k for k in metric_source._kept if k[:2] == (project.pk, "cpu")
                and b"nope" in k[2]]


def test_an_answer_is_packed_as_json_only_when_json_gives_back_what_it_holds():
    from datetime import datetime as dt

    from events.query.executor import Packed

    packed = Packed.of({"data": [{"tags": {"host": "a"}, "points": [[1, 0.5], [2, None]]}],
                        "meta": {"start": dt(2026, 1, 1, tzinfo=UTC)}})
    assert packed.parts == {"data": b'[{"tags":{"host":"a"},"points":[[1,0.5],[2,null]]}]'}
    assert packed.meta == {"start": dt(2026, 1, 1, tzinfo=UTC)}  # meta is pickled: any type
    assert packed.body(as_json=False) == {
        "data": [{"tags": {"host": "a"}, "points": [[1, 0.5], [2, None]]}],
        "meta": {"start": dt(2026, 1, 1, tzinfo=UTC)}}
    for unlike_json in ({"when": dt(2026, 1, 1)}, {1: "a"}, {"n": 2 ** 70}):
        body = {"data": [unlike_json], "meta": {}}
        assert Packed.of(body) is body  # kept as it is (pickled)


def test_day_buckets_start_at_local_midnight(store, make_project):
    project = make_project("Paris")
    project.timezone = "Europe/Paris"
    project.save()
    now = datetime.now(UTC)
    store.points(project, [{"name": "sales", "value": 1, "timestamp": now.isoformat()}])
    rollups.fold()
    body = execute(project, query="sum:sales{}", start="now-2d", end="now", step="1d",
                   use_cache=False)
    starts = [datetime.fromtimestamp(t / 1000, UTC) for t, _ in body["data"][0]["points"]]
    local = [s.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")) for s in starts]
    assert all((t.hour, t.minute) == (0, 0) for t in local)
    assert body["data"][0]["points"][-1][1] == 1


# -- events ---------------------------------------------------------------------------------------
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/130.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"


@pytest.fixture
def shop(store, make_project):
    project = make_project("Shop")
    hour = _hour_ago(3)
    hour -= timedelta(hours=hour.hour % 2)  # two-hour buckets start here

    def at(minutes):
        return (hour + timedelta(minutes=minutes)).isoformat()

    store.events(project, [
        {"event": "page_view", "distinct_id": "anon-1", "session_id": "s1", "timestamp": at(1),
         "page_url": "https://shop.example/pricing"},
        {"event": "page_view", "distinct_id": "anon-1", "session_id": "s1", "timestamp": at(2),
         "page_url": "https://shop.example/"},
        {"event": "purchase", "distinct_id": "anon-1", "session_id": "s1", "timestamp": at(3),
         "properties": {"amount": 30}},
    ], user_agent=CHROME)
    store.events(project, [
        {"event": "page_view", "distinct_id": "u-9", "session_id": "s2", "timestamp": at(61),
         "page_url": "https://shop.example/pricing"},
        {"event": "purchase", "distinct_id": "u-9", "session_id": "s2", "timestamp": at(62),
         "properties": {"amount": 12.5}},
        {"event": "purchase", "distinct_id": "u-9", "session_id": "s2", "timestamp": at(63),
         "properties": {"amount": "n/a"}},  # not a number: left out of sums
    ], user_agent=FIREFOX)
    rollups.fold()
    return project, hour


def _events(project, hour, query, **extra):
    return execute(project, query=query, start=hour.isoformat(),
                   end=(hour + timedelta(hours=2)).isoformat(), step=3600, use_cache=False,
                   **extra)


def test_event_counts_filters_groups_and_properties(shop):
    project, hour = shop
    counts = _events(project, hour, "count:events{event:page_view} by {browser}")
    assert counts["meta"]["table"] == "raw"  # grouped by browser: only raw rows know it
    assert _values(counts, browser="Chrome") == [2, None]
    assert _values(counts, browser="Firefox") == [None, 1]
    pricing = _events(project, hour, "count:events{path:/pricing}")
    assert _values(pricing) == [1, 1]
    by_name = _events(project, hour, "count:events{event:purchase|page_view} by {event}")
    assert by_name["meta"]["table"] == "rollup_1h"
    assert _values(by_name, event="purchase") == [1, 2]
    assert _values(_events(project, hour, "sum:events.amount{event:purchase}")) == [30, 12.5]
    assert _values(_events(project, hour, "count:events.amount{}")) == [1, 1]


def test_unique_users_follow_identify_on_raw_rows_and_rollups(shop, store):
    project, hour = shop
    for table in ("raw", "1h"):
        assert _values(_events(project, hour, "uniq_users:events{}", table=table)) == [1, 1]
    store.events(project, [{"event": "$identify", "distinct_id": "u-9", "session_id": "s3",
                            "timestamp": (hour + timedelta(minutes=64)).isoformat(),
                            "properties": {"$anon_distinct_id": "anon-1"}}])
    rollups.fold()
    for table in ("raw", "1h"):
        two_hours = execute(project, query="uniq_users:events{}", start=hour.isoformat(),
                            end=(hour + timedelta(hours=2)).isoformat(), step=7200,
                            use_cache=False, table=table)
        assert _values(two_hours) == [1]  # anon-1 is u-9 now, in the older hour too
        sessions = _events(project, hour, "uniq_sessions:events{}", table=table)
        assert _values(sessions) == [1, 2]


# -- limits ---------------------------------------------------------------------------------------
def test_limits_are_clear_errors(cpu, settings):
    from analytics_site.errors import ApiError

    project, start, _ = cpu
    with pytest.raises(ApiError) as too_fine:
        execute(project, query="avg:cpu{}", start="now-30d", step=10)
    assert too_fine.value.code == "INVALID_RANGE"
    assert too_fine.value.details["max_points"] == 5000
    settings.QUERY_TIMEOUT_S = 0.001
    with pytest.raises(ApiError) as slow:
        execute(project, query="p99:cpu{} by {host}", start=start.isoformat(), step=30,
                use_cache=False, table="raw")
    assert (slow.value.status, slow.value.code) == (504, "QUERY_TIMEOUT")


def test_dashboard_variables_fill_filter_values(cpu):
    from analytics_site.errors import ApiError

    project, start, _ = cpu
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
              "step": 3600, "use_cache": False}
    query = "sum:cpu{host:$host, env:$env} by {host}"
    two = execute(project, query=query, variables={"host": ["a", "b"], "env": None}, **window)
    assert sorted(s["tags"]["host"] for s in two["data"]) == ["a", "b"]
    one = execute(project, query=query, variables={"host": "c", "env": ["staging"]}, **window)
    assert [s["tags"]["host"] for s in one["data"]] == ["c"]
    every = execute(project, query=query, variables={"host": [], "env": ["*"]}, **window)
    assert len(every["data"]) == 3
    with pytest.raises(ApiError) as negated:
        execute(project, query="sum:cpu{host:!$host}", variables={"host": ["a"]}, **window)
    assert negated.value.code == "QUERY_INVALID"


def test_new_data_folded_is_not_hidden_by_the_cache(store, make_project):
    project = make_project("Fresh")
    store.points(project, [{"name": "gauge", "value": 1}])
    rollups.fold()
    first = execute(project, query="sum:gauge{}", start="now-6h")
    store.points(project, [{"name": "gauge", "value": 2}])
    again = execute(project, query="sum:gauge{}", start="now-6h")
    assert again["meta"]["cached"] is True  # nothing folded yet: the cached answer stands
    rollups.fold()
    after = execute(project, query="sum:gauge{}", start="now-6h")
    assert after["meta"]["cached"] is False
    total = [v for _, v in after["data"][0]["points"] if v is not None]
    assert sum(total) == sum(v for _, v in first["data"][0]["points"] if v is not None) + 2


def test_no_data_means_no_series_not_an_empty_other(cpu):
    project, start, _ = cpu
    body = execute(project, query="sum:cpu{} by {host} limit 1",
                   start=(start - timedelta(days=2)).isoformat(),
                   end=(start - timedelta(days=1)).isoformat(), step=3600, use_cache=False)
    assert body["data"] == []


def test_a_tag_key_that_ingest_takes_can_be_queried(store, make_project):
    """One rule for names: "k8s/pod" is a tag key on ingest, so the language filters and
    groups on it too."""
    project = make_project("Kubernetes")
    now = datetime.now(UTC)
    store.points(project, [
        {"name": "pod.restarts", "value": value, "tags": {"k8s/pod": pod},
         "timestamp": (now - timedelta(minutes=1)).isoformat()}
        for pod, value in (("web-1", 2.0), ("web-2", 5.0))])
    rollups.fold()
    body = execute(project, query="sum:pod.restarts{k8s/pod:web-2} by {k8s/pod}",
                   start="now-10m", step="10m", use_cache=False)
    assert [(s["tags"], [v for _, v in s["points"] if v is not None])
            for s in body["data"]] == [({"k8s/pod": "web-2"}, [5.0])]


def test_a_formula_past_a_doubles_range_is_no_value_like_a_division_by_zero():
    from events.query.engine import _apply

    assert _apply("*", 1e300, 1e300) is None
    assert _apply("/", 1e300, 1e-300) is None
    assert _apply("-", -1.7e308, 1.7e308) is None
    assert _apply("/", 1.0, 0.0) is None
    assert [_apply(op, 6.0, 3.0) for op in "+-*/"] == [9.0, 3.0, 18.0, 2.0]
