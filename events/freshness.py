"""A per-project data version in Redis: the rollup fold bumps it when it takes in new data, and
the query engine keeps answers that reach now with it, and reads one back only under the same
version — so an answer cached a moment before new data was folded is not served after it (the
10 s TTL stays the upper bound). A second counter, bumped when a person is erased, is kept with
every answer of the project, so nothing cached still shows them. A third, bumped when the
metric catalogue changes, is kept with series answers too: they carry their units from it.
A fourth, a token set anew whenever the write path creates a metric series, is read with them
and lets the engine keep each metric's series list per process (``events.query.metric_source``)
until the project gains a series."""

import logging
import secrets
from contextvars import ContextVar

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

TTL_S = 3600


def _key(project_id: int) -> str:
    return f"data-version:{project_id}"


def _bump(key: str, ttl_s: int) -> None:
    cache.add(key, 0, ttl_s)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, ttl_s)


def bump(project_id: int) -> None:
    _bump(_key(project_id), TTL_S)


def _erasures_key(project_id: int) -> str:
    return f"erasures:{project_id}"


def bump_erasures(project_id: int) -> None:
    """A person's data was erased: every cached answer of the project is stale (kept a year,
    longer than any answer lives)."""
    _bump(_erasures_key(project_id), 365 * 86400)


def _catalogue_key(project_id: int) -> str:
    return f"catalogue:{project_id}"


def bump_catalogue(project_id: int) -> None:
    """A metric definition was written: answers cached with the old units are not read again
    (kept a year, like the erasures)."""
    try:
        _bump(_catalogue_key(project_id), 365 * 86400)
    except RedisError as exc:  # the write stands; cached answers keep old units until they expire
        logger.error("catalogue version not bumped: %s", exc, extra={"project_id": project_id})


def _series_key(project_id: int) -> str:
    return f"series:{project_id}"


def bump_series(project_id: int) -> None:
    """New metric series were committed: series lists kept under the old token are not used
    again. A new random token rather than a count, so a Redis that lost the key cannot come back
    to a token a process still holds a list under."""
    try:
        cache.set(_series_key(project_id), secrets.token_hex(8), 365 * 86400)
    except RedisError as exc:  # the lists kept expire on their own (``metric_source.KEPT_S``)
        logger.error("series token not set: %s", exc, extra={"project_id": project_id})


def start_series_token(project_id: int) -> str | None:
    """A token for a project that has none (its series predate the tokens, or Redis lost it):
    set if still none, and returned then; None if another process set one meanwhile."""
    token = secrets.token_hex(8)
    try:
        return token if cache.add(_series_key(project_id), token, 365 * 86400) else None
    except RedisError as exc:  # the answer goes on without keeping its series list
        logger.warning("series token not started: %s", exc, extra={"project_id": project_id})
        return None


# The catalogue version and the series token ``marks`` last read in this context, with their
# project: the units of the answer being computed are kept per process under the one
# (``events.query.units``), its metrics' series lists under the other.
_catalogue_seen: ContextVar[tuple[int, int, str | None] | None] = ContextVar(
    "catalogue_seen", default=None)


def marks(project_id: int) -> tuple[int, int, int]:
    """(erasures, catalogue, data version) in one round trip: what a cached answer is kept
    with, and read back only under. (Read alone, they are not taken as this context's.)"""
    return _read(project_id, None)[0]


def marks_and(project_id: int, key: str | None) -> tuple[tuple[int, int, int], object]:
    """The marks and the cached value of ``key`` (None without one), in one round trip; the
    catalogue version and the series token are this context's until ``forget_seen``."""
    found, kept, seen = _read(project_id, key)
    _catalogue_seen.set(seen)
    return found, kept


def _read(project_id: int, key: str | None):
    keys = (_erasures_key(project_id), _catalogue_key(project_id), _key(project_id))
    series = _series_key(project_id)
    found = cache.get_many((*keys, series) if key is None else (*keys, series, key))
    erased, catalogue, version = (found.get(name) or 0 for name in keys)
    return ((erased, catalogue, version), None if key is None else found.get(key),
            (project_id, catalogue, found.get(series)))


def catalogue_seen(project_id: int) -> int | None:
    """The catalogue version ``marks`` read for ``project_id`` in this context, or None."""
    seen = _catalogue_seen.get()
    return seen[1] if seen is not None and seen[0] == project_id else None


def series_seen(project_id: int) -> tuple[bool, str | None]:
    """Whether ``marks`` was read for ``project_id`` in this context, and the series token it
    read (None: the project has none yet)."""
    seen = _catalogue_seen.get()
    return (True, seen[2]) if seen is not None and seen[0] == project_id else (False, None)


def forget_seen() -> None:
    """The answer that read the marks is done: nothing later in this context (a worker runs
    many tasks in one) takes its catalogue version for a current one."""
    _catalogue_seen.set(None)


def note_erasure_position(project_id: int, lsn: str) -> None:
    """The primary's WAL position once an erasure committed: a read replica answers for the
    project only once it has replayed past it (``events.query.replicas``)."""
    cache.set(f"erased-lsn:{project_id}", lsn, 365 * 86400)


def erasure_position(project_id: int) -> str | None:
    return cache.get(f"erased-lsn:{project_id}")
