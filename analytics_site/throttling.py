"""The API's request rate limits, kept in Redis at one round trip a request.

DRF's ``SimpleRateThrottle`` keeps every request time of the window in one cache entry, read and
written whole (pickled) on each request: at ``1200/min`` a busy client's request moved a list of
1,200 floats there and back, and the cost grew with the rate an operator allows. Here the same
sliding log lives in a Redis sorted set (score: the request's time), and one pipeline drops the
times that left the window, adds this one, and reads the count and the oldest time left — the
same answers as DRF's (at most the rate in any window of its duration; ``Retry-After`` when the
oldest request leaves the window), with O(log n) work in Redis and a constant exchange with it.

A refused request is taken back (one more round trip, only then), so a client that keeps retrying
gets in as soon as the window has room. Clients are told apart by the address the connection
came from (``REMOTE_ADDR``, which daphne sets from a trusted proxy's header), never by the
``X-Forwarded-For`` a client may write itself. With Redis out of reach the request is let through
(logged): refusing every API call because the counters are gone would be worse than not
limiting for a while.
"""

from __future__ import annotations

import logging
import uuid

from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework import throttling

logger = logging.getLogger("analytics.throttle")


class SlidingLog:
    """A ``SimpleRateThrottle`` whose request times are a Redis sorted set."""

    def get_ident(self, request) -> str:
        return request.META.get("REMOTE_ADDR") or ""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        name = cache.make_and_validate_key(self.key)
        member = f"{self.now:.6f}:{uuid.uuid4().hex[:8]}"
        try:
            client = cache._cache.get_client(name, write=True)
            pipe = client.pipeline(transaction=True)
            pipe.zremrangebyscore(name, "-inf", self.now - self.duration)
            pipe.zadd(name, {member: self.now})
            pipe.zcard(name)
            pipe.zrange(name, 0, 0, withscores=True)
            pipe.expire(name, int(self.duration) + 1)
            _, _, count, oldest, _ = pipe.execute()
            if count <= self.num_requests:
                return True
            client.zrem(name, member)
        except RedisError as exc:
            logger.error("API rate counters unreachable; not throttling",
                         extra={"error": f"{type(exc).__name__}: {exc}"})
            return True
        # The next place frees when the oldest request in the window leaves it.
        first = oldest[0][1] if oldest else self.now
        self._wait = max(first + self.duration - self.now, 0.0)
        return False

    def wait(self) -> float:
        return self._wait


class UserRateThrottle(SlidingLog, throttling.UserRateThrottle):
    pass


class AnonRateThrottle(SlidingLog, throttling.AnonRateThrottle):
    pass
