"""A line-protocol body read whole (``influx._parse_plain``) gives what the same body read line by
line gives, point for point, error for error. Hypothesis draws bodies from pieces that are
valid, nearly valid and hostile."""


from hypothesis import example, given, settings
from hypothesis import strategies as st

from events.ingest.receivers import influx
from events.pointbatch import NO_TIME


def _exactly(values) -> list[str]:
    """Floats as text that tells -0.0 from 0.0 and keeps nan."""
    return [float(value).hex() for value in values]


def _snapshot(parsed: influx.Parsed) -> tuple:
    columns = parsed.columns
    return (columns.labels, [int(c) for c in columns.codes], _exactly(columns.values),
            [int(m) for m in columns.micros], [int(i) for i in columns.index], parsed.lines,
            parsed.errors, parsed.skipped_strings)


GOOD_KEYS = ["cpu", "cpu,host=a", "cpu,host=b,region=eu", "mem,host=a", "é,h=ü"]
BAD_KEYS = [",host=a", "cpu,host", "cpu,=a", "#cpu", "m,t=v=w", "\tcpu", "\x0bcpu", "cpu\tx",
            "cpu,host=a\x00", "a,b=c,b=d", "cpu\xa0", "\u2028cpu", ""]
GOOD_FIELDS = ["user=1.5", "user=1", "sys=3e-5", "user=-0.0", "user=.5", "user=-0",
               "user=1,sys=2", "a=1,b=2.5,c=-3", "user=1,user=2"]
BAD_FIELDS = ["user=1i", "user=7u", "user=t", "user=FALSE", "user=1,sys=t", "user=", "=1",
              "user", "user=inf", "user=nan", "user=1_0", "user=1e400", 'user="s"', "a,b=1",
              "user=1\r", "user=+2", "user=1=2", "user=\u0661", "user=1,", ",user=1",
              "user=1,,sys=2", "user=1,=2", "a=1=2,b=3"]
GOOD_STAMPS = ["1764590400000000500", "1764590400000001500", "1764590400000000501",
               "1764590400000003499", "0", "-1500"]
BAD_STAMPS = ["", "-5", "99999999999999999999", "9223372036854775807", "+12", "1_000", "12a",
              "\u0661\u0662", "32503680000000000000", "5\t", "\t5"]
GOOD_ENDS, BAD_ENDS = ["", "\n"], ["\n\n", "\r\n", " \n", "\n# end", "\n\t", "\n\n\n"]


def _line(key: str, sep: str, fields: str, stamp: str) -> str:
    return f"{key}{sep}{fields}" + (f"{sep}{stamp}" if stamp else "")


good_line = st.builds(_line, st.sampled_from(GOOD_KEYS), st.just(" "),
                      st.sampled_from(GOOD_FIELDS), st.sampled_from(GOOD_STAMPS))
# Lines with a time and lines without, each good, in one body: the long way.
mixed_line = st.builds(_line, st.sampled_from(GOOD_KEYS), st.just(" "),
                       st.sampled_from(GOOD_FIELDS), st.sampled_from(["", *GOOD_STAMPS]))
# One hostile piece in a line among plain ones: a body that nearly takes the short way.
bad_line = st.one_of(
    st.builds(_line, st.sampled_from(BAD_KEYS), st.just(" "), st.sampled_from(GOOD_FIELDS),
              st.sampled_from(GOOD_STAMPS)),
    st.builds(_line, st.sampled_from(GOOD_KEYS), st.sampled_from(["  ", "\t", " \t"]),
              st.sampled_from(GOOD_FIELDS), st.sampled_from(GOOD_STAMPS)),
    st.builds(_line, st.sampled_from(GOOD_KEYS), st.just(" "), st.sampled_from(BAD_FIELDS),
              st.sampled_from(GOOD_STAMPS)),
    st.builds(_line, st.sampled_from(GOOD_KEYS), st.just(" "), st.sampled_from(GOOD_FIELDS),
              st.sampled_from(BAD_STAMPS)),
    st.sampled_from(GOOD_FIELDS + GOOD_KEYS + [f"{f} 5" for f in GOOD_FIELDS]))
body = st.one_of(
    st.builds(lambda lines, end: "\n".join(lines) + end, st.lists(good_line, max_size=6),
              st.sampled_from(GOOD_ENDS + BAD_ENDS)),
    st.builds(lambda lines, bad, at, end: "\n".join([*lines[:at], bad, *lines[at:]]) + end,
              st.lists(good_line, max_size=4), bad_line, st.integers(0, 4),
              st.sampled_from(GOOD_ENDS)),
    st.builds(lambda lines, end: "\n".join(lines) + end, st.lists(mixed_line, max_size=6),
              st.sampled_from(GOOD_ENDS)),
    st.builds("\n".join, st.lists(st.sampled_from(GOOD_FIELDS + GOOD_KEYS), max_size=4)),
    st.text(alphabet=st.sampled_from(list("cpu,=hosta 1.5e-i\n\t#\\\"0_9")), max_size=80),
    st.text(max_size=60),
)


@settings(max_examples=2000, deadline=None)
@given(body, st.sampled_from(influx.PRECISIONS))
@example("\tcpu user=1.5 5", "ns")  # a line to strip
@example("cpu =1 5", "ns")  # a field without a name
@example("cpu a,b=1 5", "ns")  # a field key with a comma: two fields, one without a value
@example("cpu user=1 5\n#cpu user=2 6", "ns")  # a comment
@example("user=1.5\nsys=2", "ns")  # no measurement
@example("a b=1 5 c\nd=2 6", "ns")  # three spaces and one: four tokens split as if two lines
@example("cpu user=1 1500\ncpu user=1 2500\ncpu user=1 -1500", "ns")  # half to even
@example("cpu user=1i 5", "s")  # an integer field
def test_a_line_protocol_body_read_whole_is_the_body_read_line_by_line(text, precision):
    assert _snapshot(influx.parse(text, precision)) \
        == _snapshot(influx._parse_each(text, influx.UNITS[precision]))


def test_plain_bodies_are_read_whole():
    """What agents send takes the short way (so the test above compares two ways), with the
    times exact: nanoseconds rounded half to even, seconds multiplied."""
    lines = "cpu,host=a user=1.5 1764590400000000500\ncpu,host=b user=2 1764590400000001500\n" \
            "mem,host=a used=3e2 1764590400000002501\ncpu,host=a user=-4 1764590400000003499\n"
    parsed = influx._parse_plain(lines, influx.UNITS["ns"])
    assert parsed is not None
    assert parsed.columns.labels == [("cpu.user", None, {"host": "a"}),
                                     ("cpu.user", None, {"host": "b"}),
                                     ("mem.used", None, {"host": "a"})]
    assert list(parsed.columns.codes) == [0, 1, 2, 0]
    assert parsed.columns.values.tolist() == [1.5, 2.0, 300.0, -4.0]
    assert parsed.columns.micros.tolist() == [1764590400000000, 1764590400000002,
                                              1764590400000003, 1764590400000003]
    assert parsed.lines == [1, 2, 3, 4]
    seconds = influx._parse_plain("m v=1 5\nm v=2 6", influx.UNITS["s"])
    assert seconds.columns.micros.tolist() == [5_000_000, 6_000_000]
    untimed = influx._parse_plain("m v=1\nm v=2", influx.UNITS["ns"])
    assert untimed.columns.micros.tolist() == [NO_TIME, NO_TIME]
    # Lines of several fields (Telegraf's): a point each, with the line's time and number.
    fields = influx._parse_plain(
        "cpu,host=a user=1,sys=2 5\nmem used=3 6\ncpu,host=a user=4,sys=5 7", influx.UNITS["s"])
    assert fields.columns.labels == [("cpu.user", None, {"host": "a"}),
                                     ("cpu.sys", None, {"host": "a"}), ("mem.used", None, {})]
    assert list(fields.columns.codes) == [0, 1, 2, 0, 1]
    assert fields.columns.values.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert fields.columns.micros.tolist() == [5_000_000, 5_000_000, 6_000_000, 7_000_000,
                                              7_000_000]
    assert fields.lines == [1, 1, 2, 3, 3]
    integers = influx._parse_plain("m a=1i,b=t,c=2.5 5\nm a=-3i,b=F,c=4u 6", influx.UNITS["s"])
    assert integers.columns.values.tolist() == [1.0, 1.0, 2.5, -3.0, 0.0, 4.0]
    # Anything else is read line by line: escapes, a string, a comment, a bad line.
    for other in ("m\\ x v=1 5", "m a=1,b=x 5", "# c\nm v=1 5", "m v=1 5\nm v=1u2 6"):
        assert influx._parse_plain(other, 0) is None
