"""The API's rate limits: DRF's sliding log, kept in a Redis sorted set at one round trip a
request, whatever the rate."""

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from rest_framework.test import APIRequestFactory

from analytics_site.throttling import AnonRateThrottle


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


def _request(address="10.1.2.3", forwarded=None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = APIRequestFactory().get("/api/v1/anything", REMOTE_ADDR=address, **extra)
    request.user = AnonymousUser()
    return request


def _stored(throttle) -> int:
    name = cache.make_and_validate_key(throttle.key)
    return cache._cache.get_client(name, write=True).zcard(name)


def test_the_rate_in_any_window_of_its_length_and_the_wait_until_a_place_frees():
    clock = Clock(1_000_000.0)
    throttle = _throttle("3/min", clock)
    request = _request()
    assert throttle.allow_request(request, None) is True
    clock.now += 20
    assert [throttle.allow_request(request, None) for _ in range(2)] == [True, True]
    clock.now += 10  # 30 s after the first
    assert throttle.allow_request(request, None) is False
    assert throttle.wait() == pytest.approx(30)  # when the first leaves the window
    assert _stored(throttle) == 3  # refused requests are not counted
    clock.now += 29.9
    assert throttle.allow_request(request, None) is False
    clock.now += 0.2  # the first is out: one place, then full again
    assert [throttle.allow_request(request, None) for _ in range(2)] == [True, False]
    assert throttle.wait() == pytest.approx(20 - 0.1)  # the two at 20 s leave at 80 s


def test_a_lowered_rate_waits_for_as_many_to_leave_as_it_takes():
    clock = Clock(1_500_000.0)
    throttle = _throttle("5/min", clock)
    request = _request()
    for _ in range(3):
        assert throttle.allow_request(request, None) is True
        clock.now += 10  # at 0, 10 and 20 s
    type(throttle).rate = "2/min"
    lowered = type(throttle)()
    assert lowered.allow_request(request, None) is False
    assert lowered.wait() == pytest.approx(10 + 60 - 30)  # two must leave: the 10 s one too


def test_a_zero_rate_refuses_everything_for_the_window():
    clock = Clock(2_000_000.0)
    throttle = _throttle("0/min", clock)
    assert throttle.allow_request(_request(), None) is False
    assert throttle.wait() == pytest.approx(60)


def test_clients_are_told_apart_by_their_connection_not_a_header_they_write():
    clock = Clock(3_000_000.0)
    throttle = _throttle("2/min", clock)
    answers = [throttle.allow_request(_request(forwarded=f"192.0.2.{n}"), None)
               for n in range(4)]
    assert answers == [True, True, False, False]
    assert throttle.allow_request(_request(address="10.9.9.9"), None) is True


def test_a_high_rate_costs_redis_entries_not_a_list_moved_each_request():
    clock = Clock(4_000_000.0)
    throttle = _throttle("100000/min", clock)
    request = _request()
    for n in range(2000):
        clock.now += 0.001
        assert throttle.allow_request(request, None) is True, n
    assert _stored(throttle) == 2000
    name = cache.make_and_validate_key(throttle.key)
    assert cache._cache.get_client(name, write=True).type(name) == b"zset"
