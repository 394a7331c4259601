"""Async PostgreSQL connections for the write path.

Ingestion views are async (daphne runs them on its event loop; a sync view would be serialised
on one thread), so they write through a psycopg ``AsyncConnectionPool`` rather than the ORM.
There is one pool per event loop: the server has one loop, tests may run several.
"""

from __future__ import annotations

import asyncio
import weakref

from django.conf import settings
from psycopg_pool import AsyncConnectionPool

_pools: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _conninfo() -> dict:
    db = settings.DATABASES["default"]
    params = {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": str(db["PORT"]) if db.get("PORT") else None,
        "options": db.get("OPTIONS", {}).get("options"),
        "application_name": "analytics-ingest",
    }
    return {k: v for k, v in params.items() if v is not None}


async def _configure(conn) -> None:
    # Autocommit: a statement outside ``async with conn.transaction()`` commits on its own, and
    # every multi-statement write states its transaction explicitly. (Otherwise a stray read
    # would open an implicit transaction, turn the next block into a savepoint, and the pool
    # would roll it all back when the connection is returned.)
    await conn.set_autocommit(True)


async def pool() -> AsyncConnectionPool:
    loop = asyncio.get_running_loop()
    existing = _pools.get(loop)
    if existing is not None:
        return existing
    new = AsyncConnectionPool(
        kwargs=_conninfo(),
        min_size=1,
        max_size=settings.INGEST_DB_POOL_SIZE,
        timeout=settings.INGEST_DB_TIMEOUT_S,
        open=False,
        configure=_configure,
        name="ingest",
    )
    _pools[loop] = new
    await new.open(wait=False)
    return new
