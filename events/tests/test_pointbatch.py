"""A batch of points as columns: the binary COPY payloads PostgreSQL reads back as the points and
the per-minute deltas a point-by-point computation gives; the checks applied to whole arrays;
line-protocol times in exact microseconds."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import sketch
from events.ingest.receivers import influx
from events.pointbatch import Columns, micros_of, moment_of
from events.validation import check_labels, parse_points

NOW = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC)
OLDEST = NOW - timedelta(days=30)


def _reference_deltas(points):
    """Per (series, minute): count, sum (in time order), min, max, the sketch, and the last value
    (of equal times, the one that came last) — one point at a time."""
    groups = {}
    for series_id, micros, value in sorted(points, key=lambda p: (p[0], p[1] // 60_000_000,
                                                                  p[1])):
        at = (series_id, moment_of(micros // 60_000_000 * 60_000_000))
        group = groups.setdefault(at, {"count": 0, "sum": 0.0, "min": value, "max": value,
                                       "sketch": {}, "last": (micros, value)})
        group["count"] += 1
        group["sum"] += value
        group["min"], group["max"] = min(group["min"], value), max(group["max"], value)
        sketch.add(group["sketch"], [value])
        if micros >= group["last"][0]:
            group["last"] = (micros, value)
    return {at: (g["count"], g["sum"], g["min"], g["max"], sorted(g["sketch"]),
                 [g["sketch"][k] for k in sorted(g["sketch"])], moment_of(g["last"][0]),
                 g["last"][1]) for at, g in groups.items()}


def _batch(points, received_at=NOW, oldest=OLDEST):
    """A PointBatch of (series number, epoch µs, value) triples; series numbers are labels."""
    columns = Columns()
    for n, (series, micros, value) in enumerate(points):
        code = columns.label(f"m{series}", "{}", {})
        columns.add(n, code, value, micros)
    batch, rejected = columns.finish(received_at=received_at, oldest=oldest)
    assert rejected == []
    series_ids = np.array([int(name[1:]) for name, _, _ in batch.labels], np.int64)
    return batch, series_ids


def _copied(table: str, columns: str, payload: bytes, select: str = "") -> list[tuple]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE copied (LIKE {table}) ON COMMIT DROP")
        raw = connection.connection.cursor()
        with raw.copy(f"COPY copied ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(payload)
        cursor.execute(f"SELECT {select or columns} FROM copied")  # noqa: S608 (the test's own column lists)
        return cursor.fetchall()


DELTA_COLUMNS = "series_id, minute, count, sum, min, max, sketch_keys, sketch_counts, last_at, last"
point = st.tuples(st.integers(1, 4), st.integers(micros_of(NOW) - 300_000_000, micros_of(NOW)),
                  st.one_of(st.floats(-1e6, 1e6, allow_nan=False),
                            st.sampled_from([0.0, -0.0, 1e-310, 5.0, 1e300, -1e300])))


@pytest.mark.django_db(transaction=True)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(point, min_size=1, max_size=60))
def test_deltas_read_back_as_the_point_by_point_computation(points):
    batch, series_ids = _batch(points)
    rows = _copied("events_metricdelta", DELTA_COLUMNS, batch.deltas_copy(series_ids))
    expected = _reference_deltas(points)
    assert len(rows) == len(expected)
    for series_id, minute, count, total, low, high, keys, counts, last_at, last in rows:
        want = expected[(series_id, minute)]
        assert (count, low, high, keys, counts, last_at, last) == \
            (want[0], *want[2:]), (series_id, minute)
        assert total == pytest.approx(want[1], rel=1e-12, abs=1e-9)


@pytest.mark.django_db(transaction=True)
def test_points_read_back_exactly():
    points = [(7, micros_of(NOW), 1.5), (7, micros_of(NOW) - 1, -0.1),
              (9, micros_of(datetime(1970, 1, 1, tzinfo=UTC)) + 1, 1e-300),
              (9, micros_of(datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)), 2.0 ** 60)]
    batch, series_ids = _batch(points, received_at=datetime(2999, 12, 31, 23, 59, tzinfo=UTC),
                               oldest=datetime(1970, 1, 1, tzinfo=UTC))
    rows = _copied("events_metricpoint", 'series_id, "timestamp", value',
                   batch.points_copy(series_ids))
    assert sorted(rows) == sorted((s, moment_of(m), v) for s, m, v in points)


@pytest.mark.django_db(transaction=True)
def test_of_equal_times_the_one_sent_later_is_the_last_value():
    at = micros_of(NOW)
    points = [(1, at, 1.0), (1, at, 2.0), (1, at - 5, 3.0), (2, at, 4.0), (2, at, 3.0)]
    batch, series_ids = _batch(points)
    rows = _copied("events_metricdelta", DELTA_COLUMNS, batch.deltas_copy(series_ids),
                   "series_id, last_at, last")
    assert sorted(rows) == [(1, moment_of(at), 2.0), (2, moment_of(at), 3.0)]


def test_checks_on_whole_arrays_reject_by_index_and_keep_the_rest():
    items = [{"name": "a", "value": 1, "timestamp": (NOW + timedelta(minutes=10)).isoformat()},
             {"name": "a", "value": 2, "timestamp": (NOW - timedelta(days=31)).isoformat()},
             {"name": "bad name", "value": 3},
             {"name": "b", "value": 4, "tags": {"h": "x"}}]
    parsed = parse_points(items, received_at=NOW, oldest=OLDEST)
    assert [(r.index, r.code) for r in parsed.rejected] == [(1, "TOO_OLD"), (2, "INVALID_NAME")]
    kept = [(p.index, p.name, p.value, p.tags, p.timestamp) for p in parsed.items]
    assert kept == [(0, "a", 1.0, {}, NOW), (3, "b", 4.0, {"h": "x"}, NOW)]
    assert parsed.items.latest(20) == ({"a": 1.0, "b": 4.0}, False)
    assert parsed.items.latest(1) == ({"a": 1.0}, True)


def test_line_protocol_times_are_exact_microseconds_rounded_half_to_even():
    body = "\n".join(["m v=1 1764590400000001500", "m v=2 1764590400000002500",
                      "m v=3 1764590400000002501", "m v=4 1764590400000002499",
                      "m v=5 -5000000", "m v=6 99999999999999999999999", "m,h=a v=nan 1",
                      "m,h=x\\,y bad\\ name=1"])
    parsed = influx.parse(body, "ns")
    assert parsed.errors == []
    columns = parsed.columns
    bad = check_labels(columns)
    batch, rejected = columns.finish(received_at=datetime(2025, 12, 1, 12, tzinfo=UTC),
                                     oldest=datetime(1970, 1, 1, tzinfo=UTC), bad_labels=bad)
    base = 1764590400000000
    assert batch.micros.tolist() == [base + 2, base + 2, base + 3, base + 2]
    assert batch.values.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert [(parsed.lines[r.index], r.code) for r in rejected] == [
        (5, "INVALID_TIMESTAMP"), (6, "INVALID_TIMESTAMP"), (7, "INVALID_VALUE"),
        (8, "INVALID_NAME")]
    assert [label[0] for label in batch.labels] == ["m.v"]


def _finished(body: str, precision: str = "ns"):
    parsed = influx.parse(body, precision)
    columns = parsed.columns
    batch, rejected = columns.finish(received_at=datetime(2025, 12, 1, 12, tzinfo=UTC),
                                     oldest=datetime(1970, 1, 1, tzinfo=UTC),
                                     bad_labels=check_labels(columns))
    return parsed, batch, [(parsed.lines[r.index], r.code) for r in rejected]


def test_line_protocol_refusals_come_in_the_order_a_point_is_checked():
    """Name, then value, then tags, then time — as when each point was checked on its own; an
    integer beyond a double is an INVALID_VALUE, not a server error."""
    _, batch, rejected = _finished("\n".join([
        "m,1x=y v=nan 1", "m,1x=y v=1 1", "bad\\ name,1x=y v=inf 1",
        f"m v={'9' * 400}i 1", f"m v={'9' * 400}u 1", "m v=7 1"]))
    assert rejected == [(1, "INVALID_VALUE"), (2, "INVALID_TAGS"), (3, "INVALID_NAME"),
                        (4, "INVALID_VALUE"), (5, "INVALID_VALUE")]
    assert batch.values.tolist() == [7.0]


def test_a_line_with_a_bad_timestamp_says_so_before_its_fields():
    parsed = influx.parse("m v=abc soon")
    assert parsed.errors == [(1, "invalid timestamp 'soon'")]


def test_seconds_that_are_milliseconds_are_read_as_every_epoch_time_is():
    """A count of seconds past the year 5138 is taken for milliseconds (parse_time's rule), so a
    sender whose precision is one step off still lands at the right time."""
    _, batch, rejected = _finished("m v=1 1764590400000\nm v=2 1764590400", "s")
    assert rejected == []
    assert batch.micros.tolist() == [1764590400000000, 1764590400000000]
    _, batch, _ = _finished("m v=1 1764590400000000000", "us")
    assert batch.micros.tolist() == [1764590400000000]


def test_escaped_lines_of_one_series_share_one_label():
    parsed, batch, rejected = _finished("\n".join(
        f'cpu,host=a\\,b v={n},s="x" {n}' for n in range(50)))
    assert rejected == [] and len(batch) == 50
    assert batch.labels == [("cpu.v", '{"host":"a,b"}', {"host": "a,b"})]
    assert parsed.skipped_strings == 50


def test_the_live_sample_names_metrics_in_the_order_their_kept_points_came():
    _, batch, rejected = _finished("a v=nan 1\nb v=1 1\na v=2 1\nb v=3 1")
    assert rejected == [(1, "INVALID_VALUE")]
    assert batch.latest(20) == ({"b.v": 3.0, "a.v": 2.0}, False)
    assert batch.latest(1) == ({"b.v": 3.0}, True)


@settings(max_examples=80, deadline=None)
@given(points=st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from(["x", "y", "z"]),
                                 st.floats(-10, 10)), min_size=1, max_size=30),
       limit=st.integers(1, 5))
def test_the_live_sample_is_each_names_last_value_in_the_order_names_came(points, limit):
    columns = Columns()
    for index, (name, host, value) in enumerate(points):
        code = columns.label(name, f'{{"host":"{host}"}}', {"host": host})
        columns.add(index, code, value, micros_of(NOW))
    batch, rejected = columns.finish(received_at=NOW, oldest=OLDEST)
    expected: dict[str, float] = {}
    for name, _, value in points:  # the last value of each name, names in order of first sight
        expected[name] = value
    order = list(expected)
    assert rejected == []
    assert batch.latest(limit) == ({name: expected[name] for name in order[:limit]},
                                   len(order) > limit)
