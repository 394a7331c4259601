"""Django's Redis cache with one connection pool per process.

Django's ``RedisCache`` builds its client, and with it a redis-py connection pool, per cache
object, and ``django.core.cache.caches`` holds one cache object per thread. Under ASGI every
request runs in a thread of its own, so every request opened new Redis connections — and
redis-py reads its own package metadata (a walk of ``sys.path``) for each — which was a good
part of what a small API answer cost. Here the pools are kept per process, keyed by server and
options, and so is the client over each (Django built a ``redis.Redis`` per cache call, whose
construction costs more than the command); redis-py's pools and clients are thread-safe and
start afresh in a forked child.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_shared: dict[tuple[str, str], tuple[object, object]] = {}  # key -> (pool, client)
_lock = threading.Lock()


class _SharedPoolClient(RedisCacheClient):
    def __init__(self, servers, **options):
        super().__init__(servers, **options)
        # Fixed for the client's life: computed once, not on every cache call.
        self._options_key = repr(sorted(self._pool_options.items(), key=lambda item: item[0]))

    def _shared(self, write) -> tuple[object, object]:
        key = (self._servers[self._get_connection_pool_index(write)], self._options_key)
        found = _shared.get(key)
        if found is None:
            with _lock:
                found = _shared.get(key)
                if found is None:
                    pool = self._pool_class.from_url(key[0], **self._pool_options)
                    found = _shared[key] = (pool, self._client(connection_pool=pool))
        return found

    def _get_connection_pool(self, write):
        return self._shared(write)[0]

    def get_client(self, key=None, *, write=False):
        return self._shared(write)[1]


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _SharedPoolClient
