"""The API's rate limits: a sliding window over two fixed windows in Redis, one round trip a
request, whatever the rate."""

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from rest_framework.test import APIRequestFactory

from analytics_site.throttling import AnonRateThrottle, wait_s


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _throttle(rate: str, clock: Clock):
    class Limited(AnonRateThrottle):
        scope = f"test-{uuid.uuid4().hex}"
        timer = clock

    Limited.rate = rate
    return Limited()


def _request():
    request = APIRequestFactory().get("/api/v1/anything", REMOTE_ADDR="10.1.2.3")
    request.user = AnonymousUser()
    return request


def test_wait_within_the_window_when_the_previous_one_fades_in_time():
    # 10 a minute; 10 in the previous window, 6 in this one, 30 s in: the next fits once the
    # previous window's share (10 x what is left of it) has fallen to 3, at 42 s.
    assert wait_s(limit=10, used=6, before=10, elapsed=30, duration=60) == pytest.approx(12)
    # Nothing before, the window full: its end, then its share must fade to 1 of 2 (30 s
    # more) — but never more than the rate's duration, by when every request has left it.
    assert wait_s(limit=2, used=2, before=0, elapsed=10, duration=60) == pytest.approx(60)
    # The window full on its own: its end, then its share must fade to 9 of 10 (6 s more).
    assert wait_s(limit=10, used=10, before=0, elapsed=20, duration=60) == pytest.approx(46)


def test_admits_the_rate_refuses_the_next_and_does_not_count_it():
    clock = Clock(600.0 * 1000 + 5)  # 5 s into a one-minute window
    throttle = _throttle("3/min", clock)
    request = _request()
    assert [throttle.allow_request(request, None) for _ in range(3)] == [True, True, True]
    assert throttle.allow_request(request, None) is False
    assert throttle.wait() == pytest.approx(60)  # 55 s to the window's end, +20: capped
    assert throttle.allow_request(request, None) is False
    key = cache.make_and_validate_key(f"{throttle.key}:{int(clock.now // 60)}")
    client = cache._cache.get_client(key, write=True)
    assert int(client.get(key)) == 3  # refused requests are taken back
    assert 0 < client.ttl(key) <= 121


def test_the_previous_window_counts_as_much_as_it_overlaps():
    clock = Clock(60.0 * 20_000 + 50)
    throttle = _throttle("4/min", clock)
    request = _request()
    assert all(throttle.allow_request(request, None) for _ in range(4))
    clock.now += 25  # 15 s into the next window: 3/4 of the last one still inside
    assert throttle.allow_request(request, None) is True  # 4 x 0.75 + 1 = 4
    assert throttle.allow_request(request, None) is False  # 3 + 2 = 5
    clock.now += 15  # 30 s in: 4 x 0.5 + 2 = 4
    assert throttle.allow_request(request, None) is True


def test_the_state_is_one_number_whatever_the_rate():
    clock = Clock(60.0 * 30_000 + 1)
    throttle = _throttle("100000/min", clock)
    request = _request()
    assert all(throttle.allow_request(request, None) for _ in range(2000))
    key = cache.make_and_validate_key(f"{throttle.key}:{int(clock.now // 60)}")
    assert cache._cache.get_client(key, write=True).get(key) == b"2000"
