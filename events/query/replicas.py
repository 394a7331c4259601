"""Read replicas for the read path: answers computed on a streaming replica, the primary kept for
everything that writes or reads its own writes.

``DATABASE_REPLICA_URLS`` (comma-separated) lists the replicas. Only what ``executor.answer()``
computes goes to one — the data behind dashboards, reports, models, product reports and the query
API — round robin; every other read and every write stays on the primary. A replica is skipped:

- while it is down: a connection that fails marks it down for ``DOWN_FOR_S``, and the read runs
  on the primary;
- for a range that reaches now, while it lags more than ``REPLICA_MAX_LAG_S``: its lag is
  measured at most every ``LAG_TTL_S`` per process — nothing to replay (its replay position is
  the primary's write position) is 0, else the age of the last transaction it replayed.

Each replica has a small connection pool per process; ``status()`` (shown by ``/readyz``) gives
each one's state and lag.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import psycopg
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

LAG_TTL_S = 2.0
DOWN_FOR_S = 5.0
POOL_MAX = 4

# Set by executor.answer() around a computation: whether its range reaches now (None: not an
# answer's computation, so the primary), and the databases it read from.
reading: ContextVar[tuple[bool, set] | None] = ContextVar("replica_reading", default=None)


@dataclass
class Replica:
    url: str
    name: str
    lag_s: float | None = None
    measured_at: float = 0.0
    down_until: float = 0.0
    error: str = ""
    pool: object = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def up(self) -> bool:
        return time.monotonic() >= self.down_until


_replicas: dict[str, Replica] = {}
_turn = itertools.count()
_lock = threading.Lock()


def _name(url: str) -> str:
    """host:port/db, without credentials (for /readyz and answers' meta)."""
    parts = urlsplit(url)
    where = unquote(parts.netloc.rpartition("@")[2]) or "local"  # a socket folder, unquoted
    return f"{where}{'' if parts.port else ':5432'}{parts.path or ''}"


def configured() -> list[Replica]:
    urls = settings.DATABASE_REPLICA_URLS
    if not urls:
        return []
    with _lock:
        for url in urls:
            if url not in _replicas:
                _replicas[url] = Replica(url.replace("postgres://", "postgresql://", 1),
                                         _name(url))
        return [_replicas[url] for url in urls]


def _mark_down(replica: Replica, exc: Exception) -> None:
    replica.down_until = time.monotonic() + DOWN_FOR_S
    replica.error = f"{type(exc).__name__}: {exc}"[:300]
    replica.lag_s = None
    if replica.pool is not None:  # its other idle connections died with it: drop them now
        with suppress(psycopg.Error, OSError):  # best effort: the next use finds out anyway
            replica.pool.check()
    logger.warning("read replica %s is down; reads go to the primary for %s s", replica.name,
                   DOWN_FOR_S, extra={"error": replica.error})


def _pool(replica: Replica):
    from psycopg_pool import ConnectionPool

    with replica.lock:
        if replica.pool is None:
            replica.pool = ConnectionPool(
                replica.url, min_size=0, max_size=POOL_MAX, timeout=2, open=True,
                kwargs={"autocommit": True, "application_name": "analytics-replica-read",
                        "connect_timeout": 2,
                        # parameters bound client-side, as Django binds them on the primary
                        # (SET LOCAL takes no server-side parameter)
                        "cursor_factory": psycopg.ClientCursor})
        return replica.pool


@contextmanager
def _connection(replica: Replica) -> Iterator[psycopg.Connection]:
    with _pool(replica).connection() as conn:
        yield conn


def _primary_lsn() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        return cursor.fetchone()[0]


def lag(replica: Replica) -> float | None:
    """Seconds the replica is behind (cached ``LAG_TTL_S``); None when it cannot be told."""
    now = time.monotonic()
    if now - replica.measured_at < LAG_TTL_S:
        return replica.lag_s
    primary = _primary_lsn()
    with _connection(replica) as conn:
        behind, age = conn.execute(
            "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()), "
            "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8",
            [primary]).fetchone()
    if behind is None:  # not a standby (or nothing replayed yet)
        replica.lag_s = None
    else:
        replica.lag_s = 0.0 if behind <= 0 else max(float(age or 0.0), 0.0)
    replica.measured_at = now
    replica.error = ""
    return replica.lag_s


def pick(reaches_now: bool) -> Replica | None:
    """The replica for an answer's reads, or None for the primary."""
    found = [r for r in configured() if r.up]
    if not found:
        return None
    start = next(_turn)
    for offset in range(len(found)):
        replica = found[(start + offset) % len(found)]
        if not reaches_now:
            return replica
        try:
            behind = lag(replica)
        except (psycopg.Error, OSError) as exc:
            _mark_down(replica, exc)
            continue
        if behind is not None and behind <= settings.REPLICA_MAX_LAG_S:
            return replica
    return None


@contextmanager
def cursor(replica: Replica) -> Iterator[psycopg.Cursor | None]:
    """A cursor in a transaction on ``replica``; None (read on the primary) when that cannot be
    had — the replica down, or a pooled connection that died with it. An error once the reads
    have begun propagates (and the next read picks again)."""
    with ExitStack() as stack:
        try:
            conn = stack.enter_context(_connection(replica))
            stack.enter_context(conn.transaction())
            found = stack.enter_context(conn.cursor())
        except (psycopg.Error, OSError) as exc:
            stack.close()  # the connection back to the pool, which drops it if broken
            _mark_down(replica, exc)
            found = None
        if found is None:
            yield None
            return
        try:
            yield found
        except psycopg.OperationalError as exc:
            if not isinstance(exc, psycopg.errors.QueryCanceled):
                _mark_down(replica, exc)
            raise


def status() -> list[dict]:
    """Each replica's state for /readyz (measuring the lag anew when it is due)."""
    out = []
    for replica in configured():
        entry = {"name": replica.name, "up": replica.up}
        if replica.up:
            try:
                entry["lag_s"] = lag(replica)
            except (psycopg.Error, OSError) as exc:
                _mark_down(replica, exc)
                entry["up"] = False
        if not entry["up"]:
            entry["error"] = replica.error
        out.append(entry)
    return out
