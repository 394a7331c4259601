"""The API's JSON renderer writes what DRF's would, faster."""

import datetime as dt
import decimal
import json
import uuid
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import renderers
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from analytics_site.renderers import JSONRenderer

DRF = renderers.JSONRenderer()
OURS = JSONRenderer()


def test_the_same_bytes_as_drf_for_an_answer_of_the_api():
    data = ReturnDict({
        "data": ReturnList([{"name": "avg:cpu{} by {host}", "tags": {"host": "web-01"},
                             "points": [[1763856000000, 182.4], [1763856300000, None]],
                             "unit": "ms"}], serializer=None),
        "meta": {"start": dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC),
                 "end": dt.datetime(2026, 11, 30, 13, 0, 0, 250000,
                                    tzinfo=ZoneInfo("Asia/Kolkata")),
                 "day": dt.date(2026, 11, 30), "id": uuid.UUID(int=7),
                 "label": gettext_lazy("Events"), "price": decimal.Decimal("1.50"),
                 "ratio": 0.1, "text": "caf\u00e9 \u2028 <b>", "cached": False},
    }, serializer=None)
    assert OURS.render(data) == DRF.render(data)
    assert b'"start":"2026-11-30T12:00:00Z"' in OURS.render(data)


def test_pretty_printing_and_what_orjson_refuses_are_drfs():
    data = {"big": 2**70, "n": 1}
    assert OURS.render(data) == DRF.render(data)
    media = "application/json; indent=4"
    assert OURS.render({"a": [1]}, media, {}) == DRF.render({"a": [1]}, media, {})
    assert OURS.render(None) == b""


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text()
    | st.datetimes(timezones=st.just(dt.UTC)) | st.dates(),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_value_reads_back_as_drfs_does(value):
    if value is None:  # no body at all, both
        return
    assert json.loads(OURS.render(value)) == json.loads(DRF.render(value))
