"""Per-key ingestion rate limits in Redis: items per second, a fixed one-second window."""

from __future__ import annotations

import asyncio
import time
import weakref

import redis.asyncio as aioredis
from django.conf import settings

_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def client() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    existing = _clients.get(loop)
    if existing is None:
        existing = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=2,
                                           socket_connect_timeout=2)
        _clients[loop] = existing
    return existing


async def take(*, key_id: int, items: int, limit_per_s: int) -> float | None:
    """Count ``items`` against the key's current second. Returns None when within the limit,
    else the seconds to wait. If Redis is unreachable the request is let through: losing the
    limit for a moment is better than refusing data that could be stored."""
    if limit_per_s <= 0:
        return None
    now = time.time()
    window = int(now)
    name = f"ingest:rate:{key_id}:{window}"
    try:
        pipe = client().pipeline(transaction=False)
        pipe.incrby(name, items)
        pipe.expire(name, 2)
        used, _ = await pipe.execute()
    except (aioredis.RedisError, OSError):
        return None
    if used > limit_per_s:
        return max(0.001, window + 1 - now)
    return None
