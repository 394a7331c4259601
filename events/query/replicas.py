"""Read replicas for the read path: answers computed on a streaming replica, the primary kept for
everything that writes or reads its own writes.

``DATABASE_REPLICA_URLS`` (comma-separated) lists the replicas. Only what ``executor.answer()``
computes goes to one — the data behind dashboards, reports, models, product reports and the query
API — round robin; every other read and every write stays on the primary. A replica answers only
while it is known to be at most ``REPLICA_MAX_LAG_S`` behind (so no answer is staler than that,
whatever its range) and, for a project with an erasure, once it has replayed past the primary's
position at that erasure (an answer computed there cannot bring the erased person back). Else the
primary answers:

- a replica whose connection fails is marked down for ``DOWN_FOR_S`` (its pool closed, a fresh
  one made afterwards); a pool that is only busy sends that one read to the primary;
- a replica that fails once the reads have begun (a conflict with recovery, a connection cut)
  raises ``ReplicaFailed``, and ``executor.answer()`` computes the answer again on the primary;
- its lag is measured at most every ``LAG_TTL_S`` per process: 0 when its replay position is the
  primary's write position, else the age of the last transaction it replayed (unknown — so not
  used — when it has replayed none since it started).

``status()`` (shown by ``/readyz``) gives each replica's state and lag.
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

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import PoolTimeout

from .. import freshness

logger = logging.getLogger(__name__)

LAG_TTL_S = 2.0
DOWN_FOR_S = 5.0

# Set by executor.answer() around a computation: the project, the databases it read from and
# whether a replica may serve it (None: not an answer's computation, so the primary).
reading: ContextVar[tuple[int, set, bool] | None] = ContextVar("replica_reading", default=None)


class ReplicaFailed(Exception):
    """A replica failed after the reads began; the answer is computed again on the primary."""


@dataclass
class Replica:
    url: str
    name: str
    lag_s: float | None = None
    replayed: int = 0  # its replay position when last measured (a lower bound of it now)
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
    """host:port/db, without credentials (for /readyz, the status page and answers' meta), of
    a URL or of a keyword connection string (``host=… dbname=… password=…``)."""
    try:
        given = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(not a connection string)"
    host, port = given.get("host") or "local", given.get("port") or 5432
    return f"{host}:{port}/{given.get('dbname') or ''}"


def lsn(text: str | None) -> int:
    """A WAL position ``16/B374D848`` as a number (0 for none)."""
    if not text:
        return 0
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


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
    with replica.lock:  # its connections died with it; a fresh pool once the down time is over
        pool, replica.pool = replica.pool, None
    if pool is not None:
        with suppress(psycopg.Error, OSError, RuntimeError):
            pool.close(timeout=0)
    logger.warning("read replica %s is down; reads go to the primary for %s s", replica.name,
                   DOWN_FOR_S, extra={"error": replica.error})


def _pool(replica: Replica):
    from psycopg_pool import ConnectionPool

    with replica.lock:
        if replica.pool is None:
            replica.pool = ConnectionPool(
                replica.url, min_size=0, max_size=settings.DATABASE_POOL_MAX, timeout=2,
                open=True, kwargs={
                    "autocommit": True, "application_name": "analytics-replica-read",
                    "connect_timeout": 2, "options": "-c TimeZone=UTC",  # as Django's are
                    # parameters bound client-side, as Django binds them on the primary
                    # (SET LOCAL takes no server-side parameter)
                    "cursor_factory": psycopg.ClientCursor})
        return replica.pool


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
    with _pool(replica).connection() as conn:
        behind, age, replayed = conn.execute(
            "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()), "
            "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, "
            "pg_last_wal_replay_lsn()::text", [primary]).fetchone()
    if behind is None:  # not a standby
        replica.lag_s = None
    elif behind <= 0:
        replica.lag_s = 0.0
    else:  # behind: by the age of what it replayed last (unknown if it has replayed nothing)
        replica.lag_s = None if age is None else max(float(age), 0.0)
    replica.replayed = lsn(replayed)
    replica.measured_at = now
    replica.error = ""
    return replica.lag_s


def pick(project_id: int) -> Replica | None:
    """The replica for an answer's reads, or None for the primary."""
    found = [r for r in configured() if r.up]
    if not found:
        return None
    erased = lsn(freshness.erasure_position(project_id))
    start = next(_turn)
    for offset in range(len(found)):
        replica = found[(start + offset) % len(found)]
        try:
            behind = lag(replica)
        except DatabaseError:  # the primary itself: the read there will say so
            return None
        except (psycopg.Error, OSError) as exc:
            _mark_down(replica, exc)
            continue
        if behind is not None and behind <= settings.REPLICA_MAX_LAG_S \
                and replica.replayed >= erased:
            return replica
    return None


@contextmanager
def cursor(replica: Replica) -> Iterator[psycopg.Cursor | None]:
    """A cursor in a transaction on ``replica``; None (read on the primary) when that cannot be
    had — the replica down, or its pool busy. A failure once the reads have begun is
    ``ReplicaFailed`` (a timeout stays ``QueryCanceled``)."""
    with ExitStack() as stack:
        try:
            conn = stack.enter_context(_pool(replica).connection())
            stack.enter_context(conn.transaction())
            found = stack.enter_context(conn.cursor())
        except PoolTimeout:  # busy, not down: this read on the primary
            stack.close()
            found = None
        except (psycopg.Error, OSError) as exc:
            stack.close()  # the connection back to the pool (closed with it)
            _mark_down(replica, exc)
            found = None
        if found is None:
            yield None
            return
        try:
            yield found
        except psycopg.errors.QueryCanceled:
            raise
        except psycopg.OperationalError as exc:
            if conn.broken or conn.closed:
                _mark_down(replica, exc)
            raise ReplicaFailed(f"{replica.name}: {type(exc).__name__}: {exc}") from exc


def status() -> list[dict]:
    """Each replica's state for /readyz (measuring the lag anew when it is due)."""
    out = []
    for replica in configured():
        entry = {"name": replica.name, "up": replica.up}
        if replica.up:
            try:
                entry["lag_s"] = lag(replica)
            except DatabaseError:  # the primary is down (its own check says so)
                entry["lag_s"] = None
            except (psycopg.Error, OSError) as exc:
                _mark_down(replica, exc)
                entry["up"] = False
        if not entry["up"]:
            entry["error"] = replica.error
        out.append(entry)
    return out
