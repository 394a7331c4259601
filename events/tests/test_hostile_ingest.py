"""Ingest keys are public: anyone may send anything. Property-based (Hypothesis) attacks on every
ingestion endpoint of the real server, and on the ingest WebSocket: never a 5xx, every error in
the one format, never a socket closed without an answer, and the good item beside a bad one is
always stored.

``HOSTILE_EXAMPLES`` (default 60) sets the examples per endpoint; the figures line printed at the
end (``-s``) is the README's "hostile ingest cases".
"""

import gzip
import json
import os
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from events.models import Event, MetricSeries

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "60"))
RUN = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
               suppress_health_check=[HealthCheck.function_scoped_fixture,
                                      HealthCheck.too_slow, HealthCheck.data_too_large])
COUNTS = {"requests": 0, "server_errors": 0}

# -- what attackers send ----------------------------------------------------------------------
TRICKY_TEXT = ["\x00", "a\x00b", "\x00\x00", "pk_\x00", "$identify", "$pageview", "", " ",
               "é" * 300, "\U0001f600", "\u202e", "<script>alert(1)</script>", "' OR 1=1 --",
               "%00", "\\u0000", "x" * 5000]
TRICKY_TIMES = ["2026-11-29T10:00:00+21:02", "2026-11-29T10:00:00-23:59", "9999-12-31T23:59:59Z",
                "0001-01-01T00:00:00+15:00", "0001-01-01T00:00:00-15:00", "1969-12-31T23:59:59Z",
                "3000-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "now", "1e400", "",
                "2026-11-29T10:00:00.123456789Z"]
text = st.text(max_size=40) | st.sampled_from(TRICKY_TEXT)
numbers = (st.integers(min_value=-2**80, max_value=2**80)
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.sampled_from([0, -1, 2**63, 2**64, -2**63 - 1, 1e308, -1e308, 5e-324]))
scalars = st.none() | st.booleans() | numbers | text
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=16)


def _nested(depth: int, leaf="x", as_dict: bool = False):
    value = leaf
    for _ in range(depth):
        value = {"k": value} if as_dict else [value]
    return value


deep = st.builds(_nested, st.integers(min_value=200, max_value=900),
                 st.sampled_from(["x", "\x00", 1]), st.booleans())
hostile = json_values | deep
times = st.sampled_from(TRICKY_TIMES) | numbers | json_values


def _event_item(fields: dict) -> dict:
    return {"event": "hostile", "distinct_id": "attacker", **fields}


event_items = st.one_of(
    hostile,
    st.fixed_dictionaries({}, optional={
        "event": hostile, "distinct_id": hostile, "session_id": hostile, "uuid": hostile,
        "timestamp": times, "properties": hostile | st.dictionaries(text, hostile, max_size=3),
        "page_url": hostile, "referrer": hostile}).map(_event_item),
)
point_items = st.one_of(
    hostile,
    st.fixed_dictionaries({}, optional={
        "name": hostile | st.sampled_from(["cpu", "a" * 201, "cpu\x00", "9x"]),
        "value": hostile | numbers, "timestamp": times,
        "tags": hostile | st.dictionaries(text, hostile, max_size=3)}).map(
            lambda fields: {"name": "hostile.metric", "value": 1, **fields}),
)
envelope_extras = st.fixed_dictionaries({}, optional={"sent_at": times, "api_key": hostile,
                                                      "id": hostile, "type": hostile})


# -- how it is sent ---------------------------------------------------------------------------
def _dumps(value) -> bytes:
    return json.dumps(value).encode()  # ASCII escapes: NUL travels as \u0000


def _check(response, what) -> None:
    COUNTS["requests"] += 1
    if response.status_code >= 500:
        COUNTS["server_errors"] += 1
    assert response.status_code < 500, (what, response.status_code, response.text[:500])
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            body = None
        assert isinstance(body, dict) and {"error", "code", "details"} <= set(body), (
            what, response.status_code, response.headers, response.text[:300])


def _good_event() -> tuple[dict, str]:
    event_id = str(uuid.uuid4())
    return {"event": "good", "distinct_id": "good-user", "uuid": event_id}, event_id


def _stored(event_id: str) -> bool:
    return Event.objects.filter(uuid=event_id).exists()


def _good_point() -> tuple[dict, str]:
    name = f"good.m{uuid.uuid4().hex[:12]}"
    return {"name": name, "value": 1.5, "tags": {"host": "a"}}, name


@pytest.fixture
def key(ingest, ingest_key):
    return ingest_key.key


@RUN
@given(bad=event_items, extras=envelope_extras, good_first=st.booleans())
def test_events_batch(ingest, key, bad, extras, good_first):
    good, event_id = _good_event()
    extras.pop("api_key", None)
    items = [good, bad] if good_first else [bad, good]
    response = ingest.post("/api/v1/events/batch", content=_dumps({"events": items, **extras}),
                           headers={"X-API-Key": key})
    _check(response, items)
    if response.status_code == 202:
        assert _stored(event_id), response.json()
        good_index = 0 if good_first else 1
        assert good_index not in [r["index"] for r in response.json()["rejected"]]


@RUN
@given(bad=point_items)
def test_metrics(ingest, key, bad):
    good, name = _good_point()
    response = ingest.post("/api/v1/metrics", content=_dumps({"points": [bad, good]}),
                           headers={"X-API-Key": key})
    _check(response, bad)
    assert response.status_code == 202, response.text
    assert MetricSeries.objects.filter(name=name).exists()


@RUN
@given(bad=event_items, gzipped=st.booleans())
def test_posthog_batch(ingest, key, bad, gzipped):
    good, event_id = _good_event()
    body = _dumps({"api_key": key, "batch": [bad, good]})
    path = "/batch/"
    if gzipped:
        body, path = gzip.compress(body), "/batch/?compression=gzip-js"
    response = ingest.post(path, content=body)
    _check(response, bad)
    if response.status_code == 200:
        assert _stored(event_id), response.json()


@RUN
@given(bad=event_items | st.fixed_dictionaries({"type": hostile, "event": hostile,
                                                "userId": hostile, "messageId": hostile}))
def test_segment_batch(ingest, key, bad):
    event_id = str(uuid.uuid4())
    good = {"type": "track", "event": "good", "userId": "u", "messageId": event_id}
    response = ingest.post("/v1/batch", content=_dumps({"writeKey": key, "batch": [bad, good]}))
    _check(response, bad)
    assert response.status_code == 200, response.text
    assert _stored(event_id)


@RUN
@given(payload=st.dictionaries(st.sampled_from(["name", "n", "url", "u", "domain", "d",
                                                "referrer", "props", "p", "revenue"]),
                               hostile, max_size=6))
def test_plausible_event(ingest, key, payload):
    response = ingest.post("/api/event", content=_dumps(payload), headers={"X-API-Key": key})
    _check(response, payload)


lines = st.text(max_size=80) | st.sampled_from([
    "cpu,host=a value=1", "cpu value=1i", "cpu value=18446744073709551616u",
    "cpu value=99999999999999999999999999999999i", "cpu value=1e400",
    "cpu value=1 99999999999999999999",
    "cpu,host=a\x00 value=1", "cpu\x00 value=1", "cpu value=\"x\x00\"", "cpu,=a value=1",
    "cpu value=1 -9223372036854775809"])


@RUN
@given(bad=st.lists(lines, max_size=4), precision=st.sampled_from(["ns", "s", "ms", "h", "x"]))
def test_influx_write(ingest, key, bad, precision):
    good, name = _good_point()
    good_line = f"{good['name']},host=a value=1.5"
    body = "\n".join([*bad, good_line]).encode()
    response = ingest.post(f"/api/v2/write?precision={precision}", content=body,
                           headers={"Authorization": f"Token {key}"})
    _check(response, bad)
    # The good line is kept whenever the request as a whole is taken (204, or a partial write).
    if precision == "ns" and (response.status_code == 204 or (
            response.status_code == 400 and response.json()["code"] == "PARTIAL_WRITE")):
        assert MetricSeries.objects.filter(name=f"{name}.value").exists(), response.text


# -- OTLP and remote write: well-formed messages with hostile contents --------------------------
pb_text = st.text(max_size=40) | st.sampled_from(TRICKY_TEXT)
pb_times = st.integers(min_value=0, max_value=2**64 - 1) | st.sampled_from(
    [0, 1, 10**18, 2**63, 2**64 - 1, 32503680000 * 10**6])
pb_values = st.floats() | st.sampled_from([0.0, -0.0, float("nan"), float("inf"), 1e308])
otlp_attributes = st.lists(st.tuples(pb_text, st.one_of(
    st.builds(lambda v: ("string_value", v), pb_text),
    st.builds(lambda v: ("int_value", v), st.integers(min_value=-2**63, max_value=2**63 - 1)),
    st.builds(lambda v: ("double_value", v), pb_values),
    st.builds(lambda v: ("bool_value", v), st.booleans()))), max_size=4)
otlp_metrics = st.lists(st.fixed_dictionaries({
    "name": pb_text | st.sampled_from(["cpu", "a" * 201, "9x", "ok.metric"]),
    "kind": st.sampled_from(["gauge", "sum", "counter", "histogram", "exp_histogram",
                             "summary"]),
    "delta": st.booleans(),
    "points": st.lists(st.fixed_dictionaries({
        "value": pb_values, "int": st.none() | st.integers(min_value=-2**63,
                                                             max_value=2**63 - 1),
        "time": pb_times, "start": pb_times, "attributes": otlp_attributes,
        "counts": st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=4),
        "bounds": st.lists(pb_values, max_size=3), "scale": st.integers(-10, 20),
        "offset": st.integers(-2**31, 2**31 - 1)}), max_size=3)}), max_size=3)


def _otlp_request(resource: list, metrics: list[dict], good_name: str) -> bytes:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    def attributes(target, pairs):
        for key, (kind, value) in pairs:
            attribute = target.add(key=key)
            setattr(attribute.value, kind, value)

    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    attributes(resource_metrics.resource.attributes, resource)
    scope = resource_metrics.scope_metrics.add()
    for spec in metrics:
        metric = scope.metrics.add(name=spec["name"])
        temporality = 1 if spec["delta"] else 2
        for p in spec["points"]:
            if spec["kind"] in ("gauge", "sum", "counter"):
                data = metric.gauge if spec["kind"] == "gauge" else metric.sum
                if spec["kind"] != "gauge":
                    data.is_monotonic = spec["kind"] == "counter"
                    data.aggregation_temporality = temporality
                dp = data.data_points.add(time_unix_nano=p["time"],
                                          start_time_unix_nano=p["start"])
                if p["int"] is None:
                    dp.as_double = p["value"]
                else:
                    dp.as_int = p["int"]
            elif spec["kind"] == "histogram":
                metric.histogram.aggregation_temporality = temporality
                dp = metric.histogram.data_points.add(
                    time_unix_nano=p["time"], start_time_unix_nano=p["start"],
                    count=sum(p["counts"]) % 2**64, sum=p["value"],
                    bucket_counts=p["counts"], explicit_bounds=p["bounds"])
            elif spec["kind"] == "exp_histogram":
                metric.exponential_histogram.aggregation_temporality = temporality
                dp = metric.exponential_histogram.data_points.add(
                    time_unix_nano=p["time"], start_time_unix_nano=p["start"], scale=p["scale"],
                    zero_count=p["counts"][0] if p["counts"] else 0)
                dp.positive.offset = p["offset"]
                dp.positive.bucket_counts.extend(p["counts"])
            else:
                dp = metric.summary.data_points.add(
                    time_unix_nano=p["time"], start_time_unix_nano=p["start"],
                    count=p["counts"][0] if p["counts"] else 0, sum=p["value"])
                for bound in p["bounds"]:
                    dp.quantile_values.add(quantile=bound, value=p["value"])
            attributes(dp.attributes, p["attributes"])
    # the good point in a resource of its own (the hostile resource's tags would be its too)
    good = request.resource_metrics.add().scope_metrics.add().metrics.add(name=good_name)
    good.gauge.data_points.add(as_double=1.5)
    return request.SerializeToString()


@RUN
@given(resource=otlp_attributes, metrics=otlp_metrics)
def test_otlp_messages(ingest, key, resource, metrics):
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceResponse,
    )

    _, name = _good_point()
    response = ingest.post("/v1/metrics", content=_otlp_request(resource, metrics, name),
                           headers={"X-API-Key": key, "Content-Type": "application/x-protobuf"})
    _check(response, (resource, metrics))
    assert response.status_code == 200, response.text
    answer = ExportMetricsServiceResponse.FromString(response.content)
    assert name not in answer.partial_success.error_message
    assert MetricSeries.objects.filter(name=name).exists(), answer


remote_series = st.lists(st.tuples(
    st.lists(st.tuples(pb_text | st.sampled_from(["__name__", "le", "quantile"]),
                       pb_text | st.sampled_from(["+Inf", "0.5", "x_total", "h_bucket"])),
             max_size=4),
    st.lists(st.tuples(pb_values, st.integers(min_value=-2**63, max_value=2**63 - 1)
                       | st.sampled_from([0, 1, 2**62])), max_size=3)), max_size=4)


@RUN
@given(series=remote_series)
def test_remote_write_messages(ingest, key, series):
    import cramjam

    from events.ingest.receivers import prometheus

    _, name = _good_point()
    name = name.replace(".", "_")
    request = prometheus.WriteRequest()
    for labels, samples in [*series, ([("__name__", name)], [(1.5, 0)])]:
        ts = request.timeseries.add()
        for label, value in labels:
            ts.labels.add(name=label, value=value)
        for value, at in samples:
            ts.samples.add(value=value, timestamp=at)
    body = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
    response = ingest.post("/api/v1/prom/write", content=body,
                           headers={"Authorization": f"Bearer {key}"})
    _check(response, series)
    assert response.status_code in (204, 400), response.text
    if response.status_code == 400:
        assert response.json()["code"] == "PARTIAL_WRITE", response.text
    assert MetricSeries.objects.filter(name=name).exists(), response.text


raw_paths = ["/api/v1/events/batch", "/api/v1/metrics", "/batch/", "/capture/", "/e/",
             "/i/v0/e/", "/v1/batch", "/v1/track", "/v1/identify", "/api/event", "/write",
             "/api/v2/write", "/v1/metrics", "/api/v1/prom/write"]


@RUN
@given(path=st.sampled_from(raw_paths), body=st.binary(max_size=300),
       content_type=st.sampled_from(["application/json", "application/x-protobuf",
                                     "multipart/form-data; boundary=x", "text/plain",
                                     "application/x-www-form-urlencoded", ""]),
       encoding=st.sampled_from(["", "gzip", "snappy", "deflate"]),
       query=st.sampled_from(["", "?compression=gzip-js", "?compression=base64",
                              "?precision=q", "?api_key=pk_x"]))
def test_arbitrary_bytes_on_every_endpoint(ingest, key, path, body, content_type, encoding,
                                           query):
    headers = {"X-API-Key": key, "Authorization": f"Bearer {key}"}
    if content_type:
        headers["Content-Type"] = content_type
    if encoding:
        headers["Content-Encoding"] = encoding
    response = ingest.post(path + query, content=body, headers=headers)
    _check(response, (path, body))


def test_gzip_members_are_all_read(ingest, key):
    first, second = _good_event(), _good_event()
    body = gzip.compress(_dumps({"events": [first[0]]}))[:-0 or None]
    # One JSON document split across two gzip members (what `cat a.gz b.gz` makes).
    document = _dumps({"events": [first[0], second[0]]})
    body = gzip.compress(document[:20]) + gzip.compress(document[20:])
    response = ingest.post("/api/v1/events/batch", content=body,
                           headers={"X-API-Key": key, "Content-Encoding": "gzip"})
    assert (response.status_code, response.json()["accepted"]) == (202, 2), response.text
    assert _stored(first[1]) and _stored(second[1])


def test_multipart_is_refused_with_a_clear_error(ingest, key):
    response = ingest.post("/api/v1/events/batch", headers={"X-API-Key": key},
                           files={"events": ("e.json", b'{"events": []}')})
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_JSON"


def test_named_hostile_items_are_rejected_alone(ingest, key):
    good, event_id = _good_event()
    bad = [
        {"event": "bad\u0000name", "distinct_id": "u1"},
        {"event": "ok", "distinct_id": "u1", "properties": {"k\u0000": 1}},
        {"event": "ok", "distinct_id": "u1", "properties": {"k": "v\u0000"}},
        {"event": "ok", "distinct_id": "u1", "properties": _nested(300, as_dict=True)},
        {"event": "ok", "distinct_id": "u1", "timestamp": "2026-11-29T10:00:00+21:02"},
        {"event": "ok", "distinct_id": "u1", "uuid": _nested(300)},
    ]
    response = ingest.post("/api/v1/events/batch", content=_dumps({"events": [*bad, good]}),
                           headers={"X-API-Key": key})
    assert response.status_code == 202, response.text
    answer = response.json()
    assert [(r["index"], r["code"]) for r in answer["rejected"]] == [
        (0, "INVALID_FIELD"), (1, "INVALID_FIELD"), (2, "INVALID_FIELD"), (3, "INVALID_FIELD"),
        (5, "INVALID_UUID")]
    assert answer["accepted"] == 2  # the +21:02 offset is a valid instant: stored in UTC
    assert _stored(event_id)
    stored = Event.objects.get(distinct_id="u1")
    assert stored.client_timestamp.isoformat() == "2026-11-28T12:58:00+00:00"
    points = ingest.post("/api/v1/metrics", headers={"X-API-Key": key}, content=_dumps(
        {"points": [{"name": "cpu", "value": 1, "tags": {"host": "a\u0000"}},
                    {"name": "cpu", "value": 1, "tags": {"host": "a"}}]}))
    assert [(r["index"], r["code"]) for r in points.json()["rejected"]] == [(0, "INVALID_TAGS")]
    late = ingest.post("/api/v1/events/batch", headers={"X-API-Key": key}, content=_dumps(
        {"events": [good], "sent_at": "9999-12-31T23:59:59Z"}))
    assert (late.status_code, late.json()["code"]) == (400, "VALIDATION_ERROR")
    assert list(late.json()["details"]) == ["sent_at"]


# -- the WebSocket ----------------------------------------------------------------------------
ws_messages = st.one_of(
    st.builds(lambda v: ("text", json.dumps(v)), hostile),
    st.builds(lambda v, extras: ("text", json.dumps({"type": "events", "events": [v], **extras})),
              event_items, envelope_extras),
    st.builds(lambda v: ("text", v), st.text(max_size=60)),
    st.builds(lambda v: ("bytes", v), st.binary(max_size=100)),
    st.builds(lambda v: ("bytes", gzip.compress(json.dumps(v).encode())), hostile),
)


@RUN
@given(messages=st.lists(ws_messages, min_size=1, max_size=4))
def test_the_ingest_socket_answers_every_message_and_stays_open(ingest, ingest_server, key,
                                                               messages):
    good, event_id = _good_event()
    url = ingest_server.replace("http://", "ws://") + "/ws/ingest/"
    with connect(url, additional_headers={"X-API-Key": key}, open_timeout=10) as ws:
        for kind, message in messages:  # pipelined: every message first, then the answers
            ws.send(message if kind == "text" else bytes(message))
        ws.send(json.dumps({"id": "good", "type": "events", "events": [good]}))
        answers = [json.loads(ws.recv(timeout=10)) for _ in range(len(messages) + 1)]
    COUNTS["requests"] += len(messages) + 1
    assert all(a["status"] < 500 for a in answers), answers
    assert answers[-1]["id"] == "good" and answers[-1]["status"] == 202, answers
    assert _stored(event_id)


def test_zz_figures():
    """Printed for the README (run last in this module)."""
    print(f"\nhostile ingest cases: {COUNTS['requests']} requests and socket messages, "
          f"5xx: {COUNTS['server_errors']}")


# -- bodies over the limit: refused before they are read ----------------------------------------
def _raw_request(server: str, head: bytes, body_parts=(), pause: float = 0.0) -> tuple[bytes, int]:
    """Send a request over a plain socket; return (the answer, bytes of body the server took
    before it closed the connection)."""
    import socket
    import time

    host, port = server.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        try:
            for part in body_parts:
                sock.sendall(part)
                sent += len(part)
                if pause:
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    return b"".join(chunks), sent


def test_a_declared_length_over_the_limit_is_refused_before_any_body_is_read(ingest,
                                                                             ingest_server, key):
    import time

    started = time.monotonic()
    head = (b"POST /api/v1/events/batch HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: 67108864\r\n\r\n")
    answer, _ = _raw_request(ingest_server, head)
    took = time.monotonic() - started
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413 "), answer[:300]
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert (body["code"], body["details"]) == ("PAYLOAD_TOO_LARGE", {"max_bytes": 1048576})
    assert took < 2, took  # answered at once, not after reading 64 MiB


def test_a_chunked_body_stops_being_read_at_the_limit(ingest, ingest_server, key):
    head = (b"POST /api/v1/events/batch HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key.encode()
            + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 64  # 4 MiB offered
    answer, sent = _raw_request(ingest_server, head, parts, pause=0.01)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert sent < 4 * 1024 * 1024  # the server closed before taking it all


def test_an_unknown_header_key_is_refused_before_a_large_body_is_read(ingest, ingest_server):
    head = (b"POST /api/v2/write HTTP/1.1\r\nHost: x\r\nAuthorization: Token pk_unknownkey\r\n"
            b"Content-Length: 900000\r\n\r\n")
    parts = [b"cpu value=1\n" * 5000] * 15  # 900,000 bytes, sent slowly
    answer, sent = _raw_request(ingest_server, head, parts, pause=0.05)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:300]
    assert b'"code": "UNAUTHORIZED"' in answer
    assert sent < 900000


@pytest.mark.parametrize("chunked", [False, True])
def test_a_large_body_within_the_limit_arrives_whole(ingest, ingest_server, key, chunked):
    """Over Twisted's in-memory size (100 kB; it wrote bigger bodies, and those without a
    length, to a temporary file) and over daphne's 8 kB message size: every line is kept."""
    import time

    start = int(time.time()) - 86_400  # a second a line, over the last day
    lines = b"\n".join(b"big,host=h-%d value=%d %d" % (n % 7, n, start + n)
                       for n in range(20_000))
    assert 400_000 < len(lines) < 1024 * 1024
    head = (b"POST /api/v2/write?precision=s HTTP/1.1\r\nHost: x\r\nAuthorization: Token "
            + key.encode() + b"\r\nConnection: close\r\n")
    if chunked:
        parts = [b"%x\r\n%s\r\n" % (len(part), part)
                 for part in (lines[i:i + 30_000] for i in range(0, len(lines), 30_000))]
        answer, _ = _raw_request(ingest_server, head + b"Transfer-Encoding: chunked\r\n\r\n",
                                 [*parts, b"0\r\n\r\n"])
    else:
        answer, _ = _raw_request(ingest_server,
                                 head + b"Content-Length: %d\r\n\r\n" % len(lines), [lines])
    assert answer.startswith(b"HTTP/1.1 204 "), answer[:300]
    stored = sorted(MetricSeries.objects.filter(name="big.value").values_list("tags__host",
                                                                              flat=True))
    assert stored == [f"h-{n}" for n in range(7)]
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""SELECT count(*), sum(p.value) FROM events_metricpoint p
                          JOIN events_metricseries s ON s.id = p.series_id
                          WHERE s.name = 'big.value'""")
        assert cursor.fetchone() == (20_000, sum(range(20_000)))
