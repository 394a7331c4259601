"""DRF's JSON, written by orjson.

The API's answers are mostly numbers — a query's series are thousands of ``[epoch_ms, value]``
pairs — and the standard library's encoder, which DRF's ``JSONRenderer`` uses, took longer to
write them than the engine took to find them. The JSON is DRF's, value for value: compact, UTF-8,
U+2028/2029 escaped, and what orjson does not write itself (datetimes, dates, times, lazy strings,
decimals, querysets, …) handed to DRF's own encoder, so a datetime still ends in ``Z``; a float
may be spelled otherwise (``1e-7`` for ``1e-07``). A NaN or infinity is ``null`` (DRF's strict
JSON refused it with a 500; the engine makes none). Pretty-printing (``Accept:
application/json; indent=4``) and anything orjson refuses (an integer wider than 64 bits) go to
DRF's renderer unchanged. A part of an answer that is already JSON (``JSONText``: a cached
query answer's series) is written as it is.
"""

from __future__ import annotations

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


class JSONText:
    """A value that is JSON already (UTF-8 bytes): written into the answer as it is."""

    __slots__ = ("text",)

    def __init__(self, text: bytes):
        self.text = text


class _Encoder(JSONEncoder):
    def default(self, obj):
        if isinstance(obj, JSONText):
            return orjson.loads(obj.text)  # DRF's own renderer (indent): the values
        return super().default(obj)


_drf_default = _Encoder().default


def _default(obj):
    if isinstance(obj, JSONText):
        return orjson.Fragment(obj.text)
    return _drf_default(obj)


class JSONRenderer(renderers.JSONRenderer):
    encoder_class = _Encoder

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data, default=_default, option=_OPTIONS)
        except (orjson.JSONEncodeError, TypeError):
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF does: valid JSON may hold them raw, JavaScript source may not.
        return body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
