"""The API's request rate limits at a constant cost: one Redis round trip a request.

DRF's ``SimpleRateThrottle`` keeps every request time of the window in one cache entry, read and
written whole (pickled) on each request: at ``1200/min`` a busy client's request moved a list of
1,200 floats there and back, and the cost grows with the rate an operator allows. Here a client's
count lives in fixed windows of the rate's duration, and a request is admitted while the current
window's count plus the previous window's, weighted by the part of it still inside the sliding
window, stays within the rate — a sliding window of the rate's length, estimated (exact when
requests spread evenly over the previous window), as Cloudflare and others count.

``INCR`` the current window, ``EXPIRE`` it, ``GET`` the previous one: one pipeline. A refused
request is taken back (one more round trip, only then), so a client that keeps retrying gets in
once the window has moved on. With Redis out of reach the request is let through (logged):
refusing every API call because the counters are gone would be worse than not limiting a while.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework import throttling

logger = logging.getLogger("analytics.throttle")


def wait_s(*, limit: int, used: int, before: int, elapsed: float, duration: float) -> float:
    """Seconds until one more request fits: ``used`` admitted in the current window (``elapsed``
    seconds into it), ``before`` in the previous one."""
    room = limit - 1 - used  # what the next request needs the previous window's share to fall to
    if room >= 0 and before > 0:
        later = duration * (1 - room / before) - elapsed
        if later <= duration - elapsed:
            return max(later, 0.0)
    # Only once this window has ended: then it is the previous one and its share fades.
    after = duration * (1 - (limit - 1) / used) if used > limit - 1 else 0.0
    # The estimate assumes the previous window's requests were spread evenly; all of this one's
    # are at most a duration old by then, so no client is told to wait longer than that.
    return min(duration - elapsed + max(after, 0.0), duration)


class SlidingWindow:
    """A ``SimpleRateThrottle`` whose count is kept as described above."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        elapsed = self.now - window * self.duration
        current = cache.make_and_validate_key(f"{self.key}:{window}")
        previous = cache.make_and_validate_key(f"{self.key}:{window - 1}")
        try:
            client = cache._cache.get_client(current, write=True)
            pipe = client.pipeline(transaction=False)
            pipe.incr(current)
            pipe.expire(current, 2 * self.duration + 1)
            pipe.get(previous)
            used, _, before = pipe.execute()
            before = int(before or 0)
            if before * (1 - elapsed / self.duration) + used <= self.num_requests:
                return True
            client.decr(current)
        except RedisError as exc:
            logger.error("API rate counters unreachable; not throttling",
                         extra={"error": f"{type(exc).__name__}: {exc}"})
            return True
        self._wait = wait_s(limit=self.num_requests, used=used - 1, before=before,
                            elapsed=elapsed, duration=self.duration)
        return False

    def wait(self) -> float:
        return self._wait


class UserRateThrottle(SlidingWindow, throttling.UserRateThrottle):
    pass


class AnonRateThrottle(SlidingWindow, throttling.AnonRateThrottle):
    pass
