"""Detector states as stored bytes, and a per-process cache of the trained ones.

A trained state holds scikit-learn objects, so it is pickled; the bytes are signed with an HMAC
of the site's secret key and checked before unpickling, so a row changed in the database by
anyone without the key is refused instead of run. The trained part of a series (large, fixed
until the next training) is cached per worker process by its version; the rolling part (small)
is read and written with every scored bucket."""

from __future__ import annotations

import hashlib
import hmac
import pickle
from collections import OrderedDict
from typing import Any

from django.conf import settings

SIGNATURE = 32
CACHE_SIZE = 2000


class TamperedState(ValueError):
    """The stored bytes do not carry this site's signature."""


def _key() -> bytes:
    return hashlib.sha256(b"ml.storage:" + settings.SECRET_KEY.encode()).digest()


def dump(value: Any) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return hmac.new(_key(), body, hashlib.sha256).digest() + body


def load(blob: bytes | memoryview) -> Any:
    data = bytes(blob)
    signature, body = data[:SIGNATURE], data[SIGNATURE:]
    if not hmac.compare_digest(signature, hmac.new(_key(), body, hashlib.sha256).digest()):
        raise TamperedState("The stored model state is not signed by this site.")
    return pickle.loads(body)  # noqa: S301 - signed by us, checked above


_trained: OrderedDict[tuple[int, int], Any] = OrderedDict()


def trained_state(series_id: int, version: int, blob) -> Any:
    """The trained part of a series, unpickled once per process and version."""
    key = (series_id, version)
    if key in _trained:
        _trained.move_to_end(key)
        return _trained[key]
    value = load(blob)
    _trained[key] = value
    while len(_trained) > CACHE_SIZE:
        _trained.popitem(last=False)
    return value
