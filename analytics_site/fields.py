"""Serializer fields and validators for values that come from outside and reach PostgreSQL.

Python accepts what PostgreSQL refuses, and the refusal surfaced as a 500: a NUL character in
text or JSON (PostgreSQL's text cannot hold it; a lone surrogate does not even encode), a UTC
offset beyond ±15:59 (``+21:02`` parses in Python; ``time zone displacement out of range`` in
PostgreSQL), a moment at the very ends of Python's calendar (a time zone conversion overflows).
These refuse or normalise such values at the edge, with a 400 that names the field. DRF's
``CharField`` already refuses both characters; JSON values and dictionary keys need
``refuse_unstorable``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.http import QueryDict
from rest_framework import serializers

NUL_MESSAGE = "Null characters are not allowed."
SURROGATE_MESSAGE = "Surrogate characters are not allowed."
_SURROGATE = re.compile("[\ud800-\udfff]")
# A day inside Python's calendar at either end, so converting to any time zone cannot overflow.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def refuse_unstorable(value: Any) -> None:
    """No NUL character and no lone surrogate in a string, or in any key or string inside a JSON
    value."""
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError(NUL_MESSAGE)
        if _SURROGATE.search(value):
            raise serializers.ValidationError(SURROGATE_MESSAGE)
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_unstorable(key)
            refuse_unstorable(item)
    elif isinstance(value, list | tuple):
        for item in value:
            refuse_unstorable(item)


class JSONValueField(serializers.JSONField):
    """Any JSON value PostgreSQL can store (jsonb refuses ``\\u0000``)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(refuse_unstorable)


class UTCDateTimeField(serializers.DateTimeField):
    """A moment, converted to UTC before anything stores or compares it.

    ``parse`` reads the other forms a field allows besides ISO 8601 (``now-1h``, epoch
    seconds): it takes the value and returns an aware datetime, or raises. Its ``ApiError``
    goes out as it is (the query engine's ``INVALID_RANGE``, say); anything else it raises
    means a time that cannot be, like an epoch beyond the calendar.
    """

    default_error_messages = {
        "range": f"Must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC).",
        "form": "A time: {forms}.",
    }

    def __init__(self, *, parse: Callable[[Any], datetime] | None = None,
                 forms: str = "ISO 8601", **kwargs):
        super().__init__(default_timezone=UTC, **kwargs)
        self.parse = parse
        self.forms = forms

    def to_internal_value(self, value) -> datetime:
        if self.parse is not None and not isinstance(value, datetime):
            refuse_unstorable(value)
            try:
                value = self.parse(value)
            except (ValueError, TypeError, OverflowError, OSError):
                self.fail("form", forms=self.forms)
        moment = super().to_internal_value(value)
        if not EARLIEST <= moment <= LATEST:
            self.fail("range")
        return moment


def valid(serializer_class: type[serializers.Serializer], data, **kwargs) -> dict:
    """``data`` checked by ``serializer_class`` (a 400 naming each bad field otherwise)."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def valid_query(serializer_class: type[serializers.Serializer], request) -> dict:
    """The request's query parameters checked by ``serializer_class``; an empty one
    (``?start=``) counts as not given."""
    params = QueryDict(mutable=True)
    for name, values in request.query_params.lists():
        given = [value for value in values if value != ""]
        if given:
            params.setlist(name, given)
    return valid(serializer_class, params)
