"""Django's Redis cache with one connection pool per process.

Django's ``RedisCache`` builds its client, and with it a redis-py connection pool, per cache
object, and ``django.core.cache.caches`` holds one cache object per thread. Under ASGI every
request runs in a thread of its own, so every request opened new Redis connections — and
redis-py reads its own package metadata (a walk of ``sys.path``) for each — which was a good
part of what a small API answer cost. Here the pools are kept per process, keyed by server and
options; redis-py's pools are thread-safe and start afresh in a forked child.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_pools: dict[tuple[str, str], object] = {}
_lock = threading.Lock()


class _SharedPoolClient(RedisCacheClient):
    def _get_connection_pool(self, write):
        server = self._servers[self._get_connection_pool_index(write)]
        key = (server, repr(sorted(self._pool_options.items(), key=lambda item: item[0])))
        pool = _pools.get(key)
        if pool is None:
            with _lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = _pools[key] = self._pool_class.from_url(server, **self._pool_options)
        return pool


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _SharedPoolClient
