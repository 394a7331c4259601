"""Values kept per process under a version read from Redis: an ingest key under the access
generation (``selectors``), a query's units under the catalogue's version (``query.units``), a
metric's series list under the project's series token (``query.metric_source``).

A value is used again while the version it was read under is the current one, and for at most
``max_age_s`` whatever happens (a Redis that lost its counter, a bump that failed); the whole
store is emptied when it would hold more than ``max_size`` (counted by ``size`` of each value).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class Kept(dict):
    """key -> (version, kept at, value)."""

    def __init__(self, *, max_age_s: float, max_size: int,
                 size: Callable[[Any], int] | None = None):
        super().__init__()
        self.max_age_s, self.max_size, self.size = max_age_s, max_size, size
        self.held = 0  # (threads may race on it: it only decides when to empty)

    def find(self, key, version) -> Any | None:
        """The value kept for ``key`` under ``version`` and young enough, else None."""
        kept = self.get(key)
        if (version is not None and kept is not None and kept[0] == version
                and time.monotonic() - kept[1] < self.max_age_s):
            return kept[2]
        return None

    def keep(self, key, version, value) -> None:
        """``value`` kept under ``version`` (None: not kept)."""
        count = self.size(value) if self.size else 1
        if version is None or count > self.max_size:
            return
        if self.held + count > self.max_size:
            self.clear()
        if (old := self.pop(key, None)) is not None:
            self.held -= self.size(old[2]) if self.size else 1
        self[key] = (version, time.monotonic(), value)
        self.held += count

    def clear(self) -> None:
        super().clear()
        self.held = 0
