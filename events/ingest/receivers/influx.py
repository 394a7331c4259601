"""InfluxDB line protocol: ``measurement[,tag=v…] field=v[,field=v…] [timestamp]``, one point
per line (https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/).

Each numeric field becomes a metric point named ``measurement.field`` with the line's tags;
integers (``12i``), unsigned (``12u``), floats and booleans (as 1 / 0) are values, string
fields carry no number and are skipped. Escapes: ``\\,`` ``\\ `` in measurements, ``\\,`` ``\\=``
``\\ `` in tag keys, tag values and field keys, ``\\"`` ``\\\\`` inside string field values.
A line that does not parse is reported by its number and the rest are kept.

A body of plain lines (``measurement[,tag=v…] field=value[,field=value…] timestamp`` each, no
escapes, quotes, strings or comments: what agents and clients send) is read whole: split by C string
methods, values and times converted in one pass each, and the series numbered by a dict, with no
Python step of its own per line — the same result as reading line by line, which every other
body takes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from ...pointbatch import NO_TIME, Columns, micros_of_ns, sent_micros, sent_micros_of_ns

# Microseconds per step of each precision; 0: nanoseconds (divided, rounded half to even).
UNITS = {"ns": 0, "n": 0, "us": 1, "u": 1, "ms": 1000, "s": 1_000_000, "m": 60_000_000,
         "h": 3_600_000_000}
PRECISIONS = tuple(UNITS)
TRUE = {"t", "T", "true", "True", "TRUE"}
FALSE = {"f", "F", "false", "False", "FALSE"}


class LineError(ValueError):
    pass


@dataclass
class Parsed:
    columns: Columns = field(default_factory=Columns)
    lines: list[int] = field(default_factory=list)  # per point: its line number (1-based)
    errors: list[tuple[int, str]] = field(default_factory=list)
    skipped_strings: int = 0

    @property
    def points(self) -> list[dict]:
        """The points as dicts: to look at, not on the write path."""
        return self.columns.as_dicts()


def _split(text: str, separators: str, *, quotes: bool = False) -> tuple[str, str, str]:
    """Split at the first unescaped separator (outside double quotes when ``quotes``):
    (head, separator found or "", rest)."""
    i, quoted = 0, False
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            i += 2
            continue
        if quotes and char == '"':
            quoted = not quoted
        elif not quoted and char in separators:
            return text[:i], char, text[i + 1:]
        i += 1
    if quoted:
        raise LineError("unterminated string field value")
    return text, "", ""


def _unescape(text: str, chars: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in chars:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _value(raw: str) -> float | None:
    """A field value as a number, or None for a string."""
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"'):
            raise LineError("unterminated string field value")
        return None
    if raw in TRUE:
        return 1.0
    if raw in FALSE:
        return 0.0
    number = raw[:-1] if raw[-1:] in ("i", "u") else raw
    try:
        value = int(number) if raw[-1:] in ("i", "u") else float(number)
    except ValueError:
        raise LineError(f"invalid field value {raw[:40]!r}") from None
    if raw.endswith("u") and value < 0:
        raise LineError(f"unsigned field value {raw[:40]!r} is negative")
    try:
        return float(value)
    except OverflowError:  # an integer beyond a double: refused as INVALID_VALUE, like JSON's
        return math.inf


def _micros(timestamp: str, unit: int) -> int | None:
    """Epoch microseconds of the line's timestamp (``unit``: microseconds per step, or 0 for
    nanoseconds, rounded half to even), None when absent; out of 1970..2999: LATEST_US, which
    ``Columns.finish`` refuses as INVALID_TIMESTAMP."""
    if not timestamp:
        return None
    try:
        steps = int(timestamp)
    except ValueError:
        raise LineError(f"invalid timestamp {timestamp[:40]!r}") from None
    return sent_micros(steps * unit if unit else micros_of_ns(steps))


def _fast_series(key: str) -> tuple[str, dict[str, str]]:
    """Measurement and tags of a line's first part without escapes."""
    measurement, *tag_pairs = key.split(",")
    if not measurement:
        raise LineError("missing measurement")
    tags = {}
    for pair in tag_pairs:
        name, eq, value = pair.partition("=")
        if not eq or not name or not value:
            raise LineError(f"invalid tag {pair[:40]!r}")
        tags[name] = value
    return measurement, tags


def _fast_line(line: str, series: dict, unit: int) -> tuple[str, str, dict, list, int | None]:
    """A line without escapes or quotes (nearly every line): plain splits, with the same results
    and errors as the scanner below. (series text, measurement, tags, [(field, value)], epoch
    µs or None); ``series`` keeps the batch's measurements and tags by their text."""
    key, sep, rest = line.partition(" ")
    if not sep or not rest:
        raise LineError("expected fields after the measurement and tags")
    fields_text, _, timestamp = rest.partition(" ")
    known = series.get(key)
    if known is None:
        known = series[key] = _fast_series(key)
    micros = _micros(timestamp.strip(), unit)
    fields = []
    for pair in fields_text.split(","):
        name, eq, raw = pair.partition("=")
        if not eq or not name or not raw:
            raise LineError(f"invalid field {pair[:40]!r}")
        fields.append((name, _value(raw)))
    return key, known[0], known[1], fields, micros


def _escaped_line(line: str, unit: int) -> tuple[str, str, dict, list, int | None]:
    key, sep, rest = _split(line, " ")
    if not sep or not rest:
        raise LineError("expected fields after the measurement and tags")
    fields_text, _, timestamp = _split(rest, " ", quotes=True)
    measurement, sep, tag_text = _split(key, ",")
    measurement = _unescape(measurement, ", ")
    if not measurement:
        raise LineError("missing measurement")
    tags = {}
    while sep:
        pair, sep, tag_text = _split(tag_text, ",")
        name, eq, value = _split(pair, "=")
        if not eq or not name or not value:
            raise LineError(f"invalid tag {pair[:40]!r}")
        tags[_unescape(name, ",= ")] = _unescape(value, ",= ")
    micros = _micros(timestamp.strip(), unit)
    fields = []
    more = True
    while more:
        pair, more_sep, fields_text = _split(fields_text, ",", quotes=True)
        more = bool(more_sep)
        name, eq, raw = _split(pair, "=")
        if not eq or not name or not raw:
            raise LineError(f"invalid field {pair[:40]!r}")
        fields.append((_unescape(name, ",= "), _value(raw)))
    return key, measurement, tags, fields, micros


def parse(body: str, precision: str = "ns") -> Parsed:
    """The points of a body, in columns (names and tags not checked yet: the write path checks
    each distinct one once), the line of each, and the lines that did not parse."""
    if precision not in PRECISIONS:
        raise LineError(f"precision must be one of {', '.join(PRECISIONS)}")
    unit = UNITS[precision]
    if "\\" not in body and '"' not in body:
        parsed = _parse_plain(body, unit)
        if parsed is not None:
            return parsed
    return _parse_each(body, unit)


def _parse_plain(body: str, unit: int) -> Parsed | None:
    """A body whose every line is ``key field=value[,field=value…][ timestamp]`` — numbers or
    booleans, single spaces, all lines with a timestamp or none, no blank or comment line
    before the last — read whole; None for any other body, or one with an error, for
    ``_parse_each`` to read (and report). Few objects the garbage collector tracks (lists of
    strings and numbers, not one per line): a web process's collections then stay cheap."""
    text = body.rstrip("\n")
    # No whitespace but single spaces and newlines (no line to strip), no comment line.
    if not text or text.startswith("#") or "\n#" in text \
            or not text.replace("\n", " ").isprintable():
        return None
    spaces = set(map(str.count, text.split("\n"), repeat(" ")))
    if len(spaces) != 1 or not 2 <= (width := spaces.pop() + 1) <= 3:
        return None
    tokens = text.replace("\n", " ").split(" ")
    keys, fields = tokens[0::width], tokens[1::width]
    stamps = tokens[2::width] if width == 3 else None
    pairs = ",".join(fields).split(",")
    if set(map(str.count, pairs, repeat("="))) != {1}:
        return None  # every field "name=value"
    names_values = "=".join(pairs).split("=")
    names, raws = names_values[0::2], names_values[1::2]
    if "" in names:
        return None
    try:
        try:
            # float() as _value calls it: a value it reads is not one _value reads otherwise (no
            # boolean, integer or string field reads as a float); "" does not.
            values = np.fromiter(map(float, raws), np.float64, len(raws))
        except ValueError:  # integers (12i), booleans: _value's way
            values = np.fromiter(map(_value, raws), np.float64, len(raws))
        micros = _plain_micros(stamps, unit, len(keys))
    except (ValueError, OverflowError):  # LineError is a ValueError
        return None
    series: dict[str, tuple[str, dict]] = {}
    try:
        for key in dict.fromkeys(keys):
            series[key] = _fast_series(key)
    except LineError:
        return None
    numbers = np.arange(1, len(keys) + 1)
    if len(pairs) > len(keys):  # lines of several fields: each line's key, time and number
        per_line = np.fromiter(map(str.count, fields, repeat(",")), np.int64, len(fields)) + 1
        keys = np.repeat(np.array(keys, dtype=object), per_line).tolist()
        micros, numbers = np.repeat(micros, per_line), np.repeat(numbers, per_line)
    parsed = Parsed()
    columns = parsed.columns
    labels: dict[tuple[str, str], int] = {}
    columns.codes = [labels.setdefault(pair, len(labels))
                     for pair in zip(keys, names, strict=True)]
    for key, name in labels:
        measurement, tags = series[key]
        columns.raw_label(f"{measurement}.{name}", tags)
    columns.values = values
    columns.micros = micros
    columns.index = range(len(names))
    parsed.lines = numbers.tolist()
    return parsed


def _plain_micros(stamps: tuple[str, ...] | None, unit: int, n: int) -> np.ndarray:
    """Epoch µs of each line's timestamp text (``_micros`` on whole arrays); ValueError or
    OverflowError where ``_micros`` would raise or leave int64."""
    if stamps is None:
        return np.full(n, NO_TIME, np.int64)
    if unit:
        return np.fromiter((sent_micros(steps * unit) for steps in map(int, stamps)),
                           np.int64, n)
    return sent_micros_of_ns(np.fromiter(map(int, stamps), np.int64, n))


def _parse_each(body: str, unit: int) -> Parsed:
    """The body line by line."""
    parsed = Parsed()
    columns, lines = parsed.columns, parsed.lines
    series: dict[str, tuple[str, dict]] = {}
    codes: dict[tuple, int] = {}  # (series text as sent, field): the label's number
    for number, line in enumerate(body.split("\n"), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            plain = "\\" not in line and '"' not in line
            key, measurement, tags, fields, micros = \
                _fast_line(line, series, unit) if plain else _escaped_line(line, unit)
        except LineError as exc:
            parsed.errors.append((number, str(exc)))
            continue
        for field_name, value in fields:
            if value is None:
                parsed.skipped_strings += 1
                continue
            code = codes.get((key, field_name))
            if code is None:
                code = codes[(key, field_name)] = columns.raw_label(
                    f"{measurement}.{field_name}", tags)
            columns.add(len(lines), code, value, NO_TIME if micros is None else micros)
            lines.append(number)
    return parsed
