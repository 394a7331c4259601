"""A batch of metric points as columns, and what the write path makes of it in one pass each.

The decoders (``events.validation.parse_points`` for JSON items, the line-protocol parser) check
each point's name and tags once per distinct series of the batch, not once per point, and add the
point to ``Columns``: its series (an index into the batch's distinct labels), its value and its
time in epoch microseconds. ``Columns.finish`` applies what depends on the request (the future
clamp, the project's retention, finite values) to whole arrays, and gives a ``PointBatch``. From
it the write path takes, without a Python step per point, the points' binary COPY payload and the
batch's share of the 1-minute rollup (count, sum, min, max, the sketch, the latest value per
series and minute).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from . import sketch

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)
PG_EPOCH_US = 946_684_800 * 1_000_000  # PostgreSQL's binary times count from 2000-01-01
MINUTE_US = 60 * 1_000_000
DAY_US = 86_400 * 1_000_000
NO_TIME = -(2 ** 63)  # a point without a time of its own: the receive time, given at finish
# A time more than this ahead of the receive time is the receive time (clocks drift).
FUTURE_CLAMP = timedelta(minutes=5)
# Times PostgreSQL and the clock-skew arithmetic can take: anything else is a client's bug.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def micros_of(moment: datetime) -> int:
    """Epoch microseconds of an aware datetime, exactly."""
    return (moment - EPOCH) // ONE_US


def moment_of(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(micros))


def micros_of_ns(nanos: int) -> int:
    """Epoch nanoseconds as microseconds, rounded half to even, exactly."""
    micros, rest = divmod(nanos, 1000)
    if rest > 500 or (rest == 500 and micros & 1):
        micros += 1
    return micros


FUTURE_CLAMP_US = FUTURE_CLAMP // ONE_US
# validation.parse_time's rule for epoch times, in µs: a "second" count past the year 5138 is
# taken for milliseconds (a sender one precision step off: ms for s, µs for ms)
MILLISECONDS_AS_SECONDS_US = 10 ** 11 * 1_000_000
EARLIEST_US = micros_of(EARLIEST)
LATEST_US = micros_of(LATEST)


def sent_micros_of_ns(nanos: np.ndarray) -> np.ndarray:
    """``sent_micros(micros_of_ns(n))`` of each of an int64 array of epoch nanoseconds: rounded
    half to even, out of 1970..2999 LATEST_US (an int64 of ns never reaches the year 5138)."""
    micros, rest = np.divmod(nanos, 1000)  # floored, as divmod
    micros += (rest > 500) | ((rest == 500) & ((micros & 1) == 1))
    micros[(micros < EARLIEST_US) | (micros >= LATEST_US)] = LATEST_US
    return micros


def sent_micros(micros: int) -> int:
    """A sender's epoch time in µs as the platform reads every epoch time: past the year 5138 it
    was one precision step finer than said (divided by 1000); out of 1970..2999 it is
    LATEST_US, which ``Columns.finish`` refuses as INVALID_TIMESTAMP."""
    if micros >= MILLISECONDS_AS_SECONDS_US:
        micros = micros_of_ns(micros)
    return micros if EARLIEST_US <= micros < LATEST_US else LATEST_US


@dataclass(slots=True)
class PointItem:
    """One point of a batch, for readers that want rows (tests, tools); ``tags`` may be shared
    with other points of the batch: never changed."""

    index: int
    name: str
    value: float
    tags: dict[str, str]
    tags_key: str
    timestamp: datetime


class Columns:
    """Points as they are decoded: labels (name, tags_key, tags) once each, then per point the
    label's number, the value, the time (epoch µs, or NO_TIME) and the item's index — lists a
    point at a time, or sequences a decoder of whole bodies sets at once."""

    __slots__ = ("codes", "index", "label_codes", "labels", "micros", "values")

    def __init__(self) -> None:
        self.labels: list[tuple[str, str, dict[str, str]]] = []
        self.label_codes: dict[tuple[str, str], int] = {}
        self.codes: list[int] = []
        self.values: list[float] = []
        self.micros: list[int] = []
        self.index: list[int] = []

    def __len__(self) -> int:
        return len(self.codes)

    def label(self, name: str, tags_key: str, tags: dict[str, str]) -> int:
        """The number of this series in the batch (checked names and tags only)."""
        code = self.label_codes.get((name, tags_key))
        if code is None:
            code = self.label_codes[(name, tags_key)] = len(self.labels)
            self.labels.append((name, tags_key, tags))
        return code

    def raw_label(self, name: str, tags: dict) -> int:
        """A label as a decoder read it: name and tags not checked yet (``tags_key`` None until
        ``validation.check_labels``)."""
        self.labels.append((name, None, tags))
        return len(self.labels) - 1

    def add(self, index: int, code: int, value: float, micros: int = NO_TIME) -> None:
        self.index.append(index)
        self.codes.append(code)
        self.values.append(value)
        self.micros.append(micros)

    def append(self, code: int, value: float, micros: int = NO_TIME) -> None:
        """A point numbered in the order points are added (its index: how many came before)."""
        self.add(len(self.codes), code, value, micros)

    def name_at(self, index: int) -> str:
        """The metric name of the point added with ``index`` (indexes added in order)."""
        return self.labels[self.codes[bisect.bisect_left(self.index, index)]][0]

    def as_dicts(self) -> list[dict]:
        """The points as dicts (name, value, tags and, when it had one, the timestamp in epoch
        seconds): to look at, not on the write path."""
        points = []
        for code, value, micros in zip(_listed(self.codes), _listed(self.values),
                                       _listed(self.micros), strict=True):
            name, _, tags = self.labels[code]
            point = {"name": name, "value": value, "tags": tags}
            if micros != NO_TIME:
                point["timestamp"] = micros / 1e6
            points.append(point)
        return points

    def finish(self, *, received_at: datetime, oldest: datetime,
               bad_labels: dict[int, tuple[str, str]] | None = None
               ) -> tuple[PointBatch, list]:
        """The batch, and the rejections (``validation.Rejected``, in index order) of the points
        whose label is in ``bad_labels`` (its number: (code, message)), whose value is not
        finite (INVALID_VALUE), whose time is out of 1970..2999 (INVALID_TIMESTAMP) or older
        than ``oldest`` (TOO_OLD). No time, or one more than 5 minutes ahead of
        ``received_at``: ``received_at``."""
        from .validation import Rejected  # validation builds Columns: imported when used

        received = micros_of(received_at)
        n = len(self.codes)
        micros = _array(self.micros, np.int64, n)
        values = _array(self.values, np.float64, n)
        index = _array(self.index, np.int64, n)
        codes = _array(self.codes, np.int64, n)
        out_of_range = micros >= LATEST_US
        micros[(micros == NO_TIME) | ((micros > received + FUTURE_CLAMP_US) & ~out_of_range)] \
            = received
        bad_labels = bad_labels or {}
        bad_names = [code for code, why in bad_labels.items() if why[0] == "INVALID_NAME"]
        bad_tags = [code for code, why in bad_labels.items() if why[0] != "INVALID_NAME"]
        # In the order a single point is checked: name, value, tags, time.
        checks = [(np.isin(codes, bad_names), None),
                  (~np.isfinite(values), ("INVALID_VALUE", "value: must be a finite number.")),
                  (np.isin(codes, bad_tags), None),
                  (out_of_range, ("INVALID_TIMESTAMP",
                                  "timestamp: out of range (1970 to 2999).")),
                  (micros < micros_of(oldest),
                   ("TOO_OLD", "timestamp: older than the project's raw retention."))]
        bad = np.zeros(n, bool)
        rejected = []
        for failed, why in checks:
            failed &= ~bad  # each point refused for the first reason only
            if failed.any():
                for i, code in zip(index[failed].tolist(), codes[failed].tolist(), strict=True):
                    rejected.append(Rejected(i, *(why or bad_labels[code])))
                bad |= failed
        labels = self.labels
        if rejected:
            rejected.sort(key=lambda r: r.index)
            keep = ~bad
            micros, values, index, codes = micros[keep], values[keep], index[keep], codes[keep]
        # Only the labels of points kept become series (a decoder may have added a label no
        # point kept: a running total that only set its baseline).
        used = np.flatnonzero(np.bincount(codes, minlength=len(labels)))
        if len(used) < len(labels):
            labels = [labels[code] for code in used.tolist()]
            renumbered = np.zeros(len(self.labels), np.int64)
            renumbered[used] = np.arange(len(used))
            codes = renumbered[codes]
        return PointBatch(labels, codes, values, micros, index), rejected


def _listed(column) -> list:
    return column.tolist() if isinstance(column, np.ndarray) else list(column)


def _array(column, dtype, n: int) -> np.ndarray:
    """A column as a new array (a decoder that reads whole bodies gives arrays, or ranges)."""
    if isinstance(column, np.ndarray):
        return column.astype(dtype)  # a copy: finish changes it
    return np.fromiter(column, dtype, n)


def _scatter(out: np.ndarray, at: np.ndarray, rows: np.ndarray) -> None:
    """Write each of ``rows`` (a structured array) as bytes at its offset in ``out``."""
    width = rows.dtype.itemsize
    out[at[:, None] + np.arange(width)] = rows.view(np.uint8).reshape(len(rows), width)


def _array_head(sizes: np.ndarray, oid: int, element: int) -> np.ndarray:
    """Per row, a one-dimensional array field's length and header (binary COPY)."""
    head = np.empty(len(sizes), _ARRAY_HEAD)
    head["len"] = _ARRAY_HEAD.itemsize - 4 + element * sizes
    head["ndim"], head["flags"], head["oid"], head["lbound"] = 1, 0, oid, 1
    head["dim"] = sizes
    return head


_INT4_OID, _INT8_OID = 23, 20
_DELTA_HEAD = np.dtype([("fields", ">i2"), ("series_len", ">i4"), ("series", ">i8"),
                        ("minute_len", ">i4"), ("minute", ">i8"), ("count_len", ">i4"),
                        ("count", ">i8"), ("sum_len", ">i4"), ("sum", ">f8"),
                        ("min_len", ">i4"), ("min", ">f8"), ("max_len", ">i4"),
                        ("max", ">f8")])
_ARRAY_HEAD = np.dtype([("len", ">i4"), ("ndim", ">i4"), ("flags", ">i4"), ("oid", ">i4"),
                        ("dim", ">i4"), ("lbound", ">i4")])
_KEY = np.dtype([("len", ">i4"), ("key", ">i4")])
_COUNT = np.dtype([("len", ">i4"), ("count", ">i8")])
_DELTA_TAIL = np.dtype([("last_at_len", ">i4"), ("last_at", ">i8"), ("last_len", ">i4"),
                        ("last", ">f8")])
_POINT_ROW = np.dtype([("fields", ">i2"), ("series_len", ">i4"), ("series", ">i8"),
                       ("time_len", ">i4"), ("time", ">i8"), ("value_len", ">i4"),
                       ("value", ">f8")])
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
_COPY_TRAILER = b"\xff\xff"


@dataclass(slots=True)
class PointBatch:
    """Checked points, ready to store: per point the label's number, value, epoch µs, index."""

    labels: list[tuple[str, str, dict[str, str]]]
    codes: np.ndarray
    values: np.ndarray
    micros: np.ndarray
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    def __iter__(self) -> Iterator[PointItem]:
        labels = self.labels
        for index, code, value, micros in zip(self.index.tolist(), self.codes.tolist(),
                                              self.values.tolist(), self.micros.tolist(),
                                              strict=True):
            name, key, tags = labels[code]
            yield PointItem(index, name, value, tags, key, moment_of(micros))

    def days(self) -> set[date]:
        """The UTC days the points fall on (their partitions)."""
        return {(EPOCH + timedelta(days=day)).date()
                for day in np.unique(self.micros // DAY_US).tolist()}

    def points_copy(self, series: np.ndarray) -> bytes:
        """``COPY events_metricpoint (series_id, "timestamp", value) FROM STDIN (FORMAT
        BINARY)``'s payload; ``series``: each label's series id."""
        rows = np.empty(len(self.codes), _POINT_ROW)
        rows["fields"] = 3
        rows["series_len"] = rows["time_len"] = rows["value_len"] = 8
        rows["series"] = series[self.codes]
        rows["time"] = self.micros - PG_EPOCH_US
        rows["value"] = self.values
        return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER

    def deltas_copy(self, series: np.ndarray) -> bytes:
        """This batch's share of the 1-minute rollup, per series and minute (events.rollups
        folds it in), as ``COPY events_metricdelta (series_id, minute, count, sum, min, max,
        sketch_keys, sketch_counts, last_at, last) FROM STDIN (FORMAT BINARY)``'s payload:
        count, sum, min, max, the sketch's keys and counts, and the latest value (of equal
        times, the one sent last)."""
        n = len(self.codes)
        if not n:
            return _COPY_HEADER + _COPY_TRAILER
        ids = series[self.codes]
        minutes = self.micros // MINUTE_US
        # Sorted by series, minute, time; stable, so equal times keep the order they came in.
        order = np.lexsort((self.micros, minutes, ids))
        ids, minutes = ids[order], minutes[order]
        micros, values = self.micros[order], self.values[order]
        starts = np.flatnonzero(np.concatenate((
            [True], (ids[1:] != ids[:-1]) | (minutes[1:] != minutes[:-1]))))
        ends = np.append(starts[1:], n)
        head = np.empty(len(starts), _DELTA_HEAD)
        head["fields"] = 10
        for name in ("series", "minute", "count", "sum", "min", "max"):
            head[f"{name}_len"] = 8
        head["series"] = ids[starts]
        head["minute"] = minutes[starts] * MINUTE_US - PG_EPOCH_US
        head["count"] = ends - starts
        head["sum"] = np.add.reduceat(values, starts)
        head["min"] = np.minimum.reduceat(values, starts)
        head["max"] = np.maximum.reduceat(values, starts)
        tail = np.empty(len(starts), _DELTA_TAIL)
        tail["last_at_len"] = tail["last_len"] = 8
        tail["last_at"] = micros[ends - 1] - PG_EPOCH_US
        tail["last"] = values[ends - 1]
        # The sketch: distinct (row, bucket) pairs, in bucket order, and the points of each.
        row_of = np.repeat(np.arange(len(starts)), ends - starts)
        buckets = sketch.keys_of(values)
        by_bucket = np.lexsort((buckets, row_of))
        row_of, buckets = row_of[by_bucket], buckets[by_bucket]
        firsts = np.flatnonzero(np.concatenate((
            [True], (row_of[1:] != row_of[:-1]) | (buckets[1:] != buckets[:-1]))))
        pair_row = row_of[firsts]
        sizes = np.bincount(pair_row, minlength=len(starts))  # buckets per row
        rank = np.arange(len(firsts)) - np.searchsorted(pair_row, pair_row)  # within its row
        keys = np.empty(len(firsts), _KEY)
        keys["len"], keys["key"] = 4, buckets[firsts]
        counts = np.empty(len(firsts), _COUNT)
        counts["len"], counts["count"] = 8, np.diff(np.append(firsts, n))
        keys_head = _array_head(sizes, _INT4_OID, _KEY.itemsize)
        counts_head = _array_head(sizes, _INT8_OID, _COUNT.itemsize)
        # A row: head, the keys' array (header, elements), the counts' array, tail; each part
        # written at its offsets in one buffer.
        size = (_DELTA_HEAD.itemsize + _ARRAY_HEAD.itemsize * 2 + _DELTA_TAIL.itemsize
                + (_KEY.itemsize + _COUNT.itemsize) * sizes)
        at = len(_COPY_HEADER) + np.concatenate(([0], np.cumsum(size)[:-1]))
        out = np.empty(len(_COPY_HEADER) + int(size.sum()) + len(_COPY_TRAILER), np.uint8)
        out[:len(_COPY_HEADER)] = np.frombuffer(_COPY_HEADER, np.uint8)
        out[-len(_COPY_TRAILER):] = np.frombuffer(_COPY_TRAILER, np.uint8)
        _scatter(out, at, head)
        at = at + _DELTA_HEAD.itemsize
        _scatter(out, at, keys_head)
        at = at + _ARRAY_HEAD.itemsize
        _scatter(out, at[pair_row] + _KEY.itemsize * rank, keys)
        at = at + _KEY.itemsize * sizes
        _scatter(out, at, counts_head)
        at = at + _ARRAY_HEAD.itemsize
        _scatter(out, at[pair_row] + _COUNT.itemsize * rank, counts)
        _scatter(out, at + _COUNT.itemsize * sizes, tail)
        return out.tobytes()

    def latest(self, limit: int) -> tuple[dict[str, float], bool]:
        """The last value of each metric name (names in the order they first came), at most
        ``limit`` of them, and whether there were more."""
        n = len(self.codes)
        numbers: dict[str, int] = {}  # each name's number, per label
        of_label = np.fromiter((numbers.setdefault(label[0], len(numbers))
                                for label in self.labels), np.int64, len(self.labels))
        of_point = of_label[self.codes]
        first = np.full(len(numbers), n, np.int64)
        last = np.full(len(numbers), -1, np.int64)
        np.minimum.at(first, of_point, np.arange(n))
        np.maximum.at(last, of_point, np.arange(n))
        order = np.argsort(first, kind="stable")
        present = order[first[order] < n]  # names with a point, in the order they first came
        chosen = present[:limit].tolist()
        names = list(numbers)
        latest = dict(zip([names[i] for i in chosen], self.values[last[chosen]].tolist(),
                          strict=True))
        return latest, len(present) > limit
