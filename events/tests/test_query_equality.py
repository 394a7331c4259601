"""Rollups answer like raw rows (Hypothesis): for generated points and events written through
the real write path and folded, every aggregation per group and bucket from each table equals
pandas over the same data — counts and sums exactly (up to float summation order), percentiles
within the sketch's 1 % (pandas has no inverted-CDF quantile; numpy's is percentile_disc's)."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import rollups
from events.models import DATA_TABLES
from events.query import execute
from events.query.spec import PERCENTILES

pytestmark = pytest.mark.slow

START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
HOSTS = ("a", "b", "c")

_points = st.lists(
    st.tuples(st.sampled_from(HOSTS), st.integers(0, 179), st.integers(0, 59),
              st.floats(-1000, 1000, allow_nan=False, allow_subnormal=False)),
    min_size=1, max_size=150, unique_by=lambda p: (p[0], p[1], p[2]))


def _truncate():
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(DATA_TABLES))


def _answer(project, query, step, table):
    body = execute(project, query=query, start=START.isoformat(),
                   end=(START + timedelta(hours=3)).isoformat(), step=step, use_cache=False,
                   table=table)
    return {(s["tags"].get("host"), t): v for s in body["data"] for t, v in s["points"]
            if v is not None}


def _expected(frame: pd.DataFrame, aggregation: str, step: int, by_host: bool = True) -> dict:
    frame = frame.assign(b=frame["at"].dt.floor(f"{step}s"))
    if not by_host:
        frame = frame.assign(host="")
    out = {}
    for (host, bucket), group in frame.sort_values("at").groupby(["host", "b"]):
        values = group["value"]
        key = (host or None, int(bucket.timestamp() * 1000))
        if aggregation in PERCENTILES:
            out[key] = float(np.percentile(values, PERCENTILES[aggregation] * 100,
                                           method="inverted_cdf"))
        else:
            out[key] = {"count": values.count(), "sum": values.sum(), "avg": values.mean(),
                        "min": values.min(), "max": values.max(), "last": values.iloc[-1],
                        "rate": values.sum() / step}[aggregation]
    return out


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=_points)
def test_metric_rollups_and_raw_rows_answer_like_pandas(store, make_project, points):
    _truncate()
    project = make_project()
    rows = [{"host": h, "at": START + timedelta(minutes=m, seconds=s), "value": v}
            for h, m, s, v in points]
    store.points(project, [{"name": "m", "value": r["value"], "tags": {"host": r["host"]},
                            "timestamp": r["at"].isoformat()} for r in rows])
    rollups.fold()
    frame = pd.DataFrame(rows)
    cases = [(3600, ("raw", "1m", "1h"), True), (60, ("raw", "1m"), True),
             (3600, ("raw", "1h"), False)]  # ungrouped hourly: the name-level rollup
    for aggregation in ("count", "sum", "avg", "min", "max", "last", "rate", *PERCENTILES):
        for step, tables, by_host in cases:
            expected = _expected(frame, aggregation, step, by_host)
            for table in tables:
                query = f"{aggregation}:m{{}}" + (" by {host}" if by_host else "")
                got = _answer(project, query, step, table)
                assert set(got) == set(expected), (aggregation, step, table)
                for key, value in expected.items():
                    if aggregation in PERCENTILES and table != "raw":
                        assert abs(got[key] - value) <= 0.01 * abs(value) + 1e-12, (
                            aggregation, table, key)
                    else:
                        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), (
                            aggregation, step, table, key)


_events = st.lists(
    st.tuples(st.sampled_from(("view", "click", "buy")), st.integers(0, 179),
              st.sampled_from(("s1", "s2", "s3", "s4")), st.sampled_from(("d1", "d2", "d3"))),
    min_size=1, max_size=60)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=_events, link=st.booleans())
def test_event_rollups_and_raw_rows_count_like_pandas(store, make_project, events, link):
    _truncate()
    project = make_project()
    rows = [{"event": e, "at": START + timedelta(minutes=m), "session": s, "distinct": d}
            for e, m, s, d in events]
    store.events(project, [{"event": r["event"], "distinct_id": r["distinct"],
                            "session_id": r["session"], "timestamp": r["at"].isoformat()}
                           for r in rows])
    if link:  # d1 identifies as d2: one person from then on, in every bucket
        store.events(project, [{"event": "$identify", "distinct_id": "d2",
                                "timestamp": (START + timedelta(hours=4)).isoformat(),
                                "properties": {"$anon_distinct_id": "d1"}}])
    rollups.fold()
    frame = pd.DataFrame(rows).assign(b=lambda f: f["at"].dt.floor("3600s"))
    frame["person"] = frame["distinct"].replace({"d1": "d2"} if link else {})
    grouped = frame.groupby(["event", "b"])
    expected = {
        "count": grouped.size(),
        "uniq_sessions": grouped["session"].nunique(),
        "uniq_users": grouped["person"].nunique(),
    }
    for aggregation, series in expected.items():
        want = {(event, int(b.timestamp() * 1000)): float(v) for (event, b), v in series.items()}
        for table in ("raw", "1h"):
            body = execute(project, query=f"{aggregation}:events{{event:view|click|buy}} "
                                          "by {event}",
                           start=START.isoformat(), end=(START + timedelta(hours=3)).isoformat(),
                           step=3600, use_cache=False, table=table)
            got = {(s["tags"]["event"], t): v for s in body["data"] for t, v in s["points"]
                   if v is not None}
            assert got == want, (aggregation, table)
