"""The API's request rate limits, kept in Redis at one round trip a request.

DRF's ``SimpleRateThrottle`` keeps every request time of the window in one cache entry, read and
written whole (pickled) on each request: at ``1200/min`` a busy client's request moved a list of
1,200 floats there and back, and the cost grew with the rate an operator allows. Here the same
sliding log lives in a Redis sorted set (score: the request's time), and one script, atomic in
Redis, drops the times that left the window and adds this one if there is room — the same
answers as DRF's (at most the rate in any window of its duration; a refused request is not
counted; ``Retry-After`` when enough requests have left the window for one more), with O(log n)
work in Redis and a constant exchange with it. Clients are told apart by the address the connection
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

# KEYS[1]: the client's log. ARGV: now, the window, the rate, this request's member, the TTL.
# Returns {1} when admitted, else {0, the time the place it needs frees}.
ADMIT = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('EXPIRE', key, tonumber(ARGV[5]))
  return {1}
end
local leaving = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
return {0, leaving[2] or tostring(now)}
"""


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
            admit = client.register_script(ADMIT)  # EVALSHA, the script sent once
            answer = admit(keys=[name], args=[repr(self.now), self.duration,
                                              self.num_requests, member,
                                              int(self.duration) + 1])
        except RedisError as exc:
            logger.error("API rate counters unreachable; not throttling",
                         extra={"error": f"{type(exc).__name__}: {exc}"})
            return True
        if answer[0] == 1:
            return True
        self._wait = max(float(answer[1]) + self.duration - self.now, 0.0)
        return False

    def wait(self) -> float:
        return self._wait


class UserRateThrottle(SlidingLog, throttling.UserRateThrottle):
    pass


class AnonRateThrottle(SlidingLog, throttling.AnonRateThrottle):
    pass
