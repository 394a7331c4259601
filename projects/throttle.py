"""Login and API-token throttling: failures are counted per account and per client address, and
past the limit every attempt is refused — even a right one — with 429 and ``Retry-After``, and a
line on the ``analytics.security`` log (account and client, never a password).

The counters live in Redis through Django's cache, so every web process shares them. If Redis
cannot be reached the checks fail open and log it: an outage of the cache must not lock every
operator out of the one page that would let them look.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import time
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.shortcuts import render
from django.utils.deprecation import MiddlewareMixin
from redis.exceptions import RedisError

from analytics_site.errors import RateLimited

logger = logging.getLogger("analytics.security")


def _fail_open(default):
    def decorate(method):
        @functools.wraps(method)
        def guarded(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except RedisError as exc:
                logger.error("throttle counters unreachable; not throttling",
                             extra={"error": f"{type(exc).__name__}: {exc}"})
                return default

        return guarded

    return decorate


@dataclass(frozen=True)
class Limit:
    """At most ``max_failures`` for one key within ``window_s``; the one that reaches it locks
    the key out for ``window_s``. ``max_failures`` 0 turns the limit off."""

    scope: str
    max_failures: int
    window_s: int

    def _key(self, kind: str, who: str) -> str:
        # Hashed: accounts and addresses are free text of any length; cache keys are not.
        return f"throttle:{self.scope}:{kind}:{hashlib.sha256(who.encode()).hexdigest()[:32]}"

    def lock_key(self, who: str) -> str:
        return self._key("lock", who)

    @_fail_open(default=0)
    def retry_after(self, who: str, *,
                    read: tuple[float | None] | RedisError | None = None) -> int:
        """Seconds until ``who`` may try again; 0 when not locked out. ``read``: the value of
        ``lock_key(who)`` the caller fetched with others in one round trip, as a 1-tuple (or
        the error that read met)."""
        if self.max_failures <= 0:
            return 0
        if isinstance(read, RedisError):  # the caller's read failed: fail open, logged
            raise read
        until = cache.get(self.lock_key(who)) if read is None else read[0]
        left = (until or 0) - time.time()
        return math.ceil(left) if left > 0 else 0

    @_fail_open(default=False)
    def fail(self, who: str) -> bool:
        """Count a failure; True when this one starts a lockout."""
        if self.max_failures <= 0:
            return False
        key = self._key("count", who)
        cache.add(key, 0, timeout=self.window_s)
        try:
            failures = cache.incr(key)
        except ValueError:  # the window ended between add and incr
            cache.add(key, 1, timeout=self.window_s)
            failures = 1
        if failures < self.max_failures:
            return False
        return cache.add(self._key("lock", who), time.time() + self.window_s,
                         timeout=self.window_s)

    @_fail_open(default=None)
    def reset(self, who: str) -> None:
        cache.delete(self._key("count", who))


def _login_limits() -> dict[str, Limit]:
    return {
        "account": Limit("login-account", settings.LOGIN_MAX_FAILURES_PER_ACCOUNT,
                         settings.LOGIN_LOCKOUT_S),
        "client": Limit("login-client", settings.LOGIN_MAX_FAILURES_PER_CLIENT,
                        settings.LOGIN_LOCKOUT_S),
    }


def _token_limit() -> Limit:
    return Limit("token-client", settings.API_TOKEN_MAX_FAILURES_PER_CLIENT,
                 settings.API_TOKEN_LOCKOUT_S)


def client_of(request) -> str:
    """The client's address (daphne sets it from X-Forwarded-For only behind a proxy)."""
    return request.META.get("REMOTE_ADDR") or "unknown"


# -- logins ---------------------------------------------------------------------------------------
class LoginThrottled(Exception):
    """Too many failed logins for the account or from the client; raised before the password
    is checked, answered by ``LoginThrottleMiddleware``."""

    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed logins; retry in {retry_after} s.")
        self.retry_after = retry_after


def _normalise_account(account: str) -> str:
    # Usernames differ by case only in theory; one counter for all spellings of a name.
    return account.strip().lower()


def check_login(*, account: str, client: str, path: str = "") -> None:
    limits = _login_limits()
    waits = {"account": limits["account"].retry_after(_normalise_account(account)),
             "client": limits["client"].retry_after(client)}
    limited_by = max(waits, key=waits.get)
    if waits[limited_by]:
        logger.warning("login refused: too many failed logins",
                       extra={"account": account, "client": client, "path": path,
                              "limited_by": limited_by, "retry_after": waits[limited_by]})
        raise LoginThrottled(waits[limited_by])


def login_failed(*, account: str, client: str, path: str = "") -> None:
    limits = _login_limits()
    logger.info("login failed", extra={"account": account, "client": client, "path": path})
    for limited_by, who in (("account", _normalise_account(account)), ("client", client)):
        if limits[limited_by].fail(who):
            logger.warning("login locked out", extra={
                "account": account, "client": client, "path": path, "limited_by": limited_by,
                "lockout_s": limits[limited_by].window_s})


def login_succeeded(*, account: str) -> None:
    """The account's own counter starts over; the client's does not, or a guesser holding one
    valid login could clear their address between guesses."""
    _login_limits()["account"].reset(_normalise_account(account))


class ThrottledModelBackend(ModelBackend):
    """Django's ModelBackend behind the login throttle. Every form that calls ``authenticate``
    (the login page, the admin's) is covered, and a locked-out attempt never reaches the
    password check. Calls without a request (``Client.login``, scripts) are not throttled."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is None or username is None or password is None:
            return super().authenticate(request, username, password, **kwargs)
        account, client = str(username), client_of(request)
        check_login(account=account, client=client, path=request.path)
        user = super().authenticate(request, username, password, **kwargs)
        if user is None:
            login_failed(account=account, client=client, path=request.path)
        else:
            login_succeeded(account=account)
        return user

    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        return await sync_to_async(self.authenticate)(request, username, password, **kwargs)


class LoginThrottleMiddleware(MiddlewareMixin):
    """Answers a refused login (raised deep inside a login form's ``authenticate``) with 429,
    ``Retry-After`` and a page saying how long to wait."""

    def process_exception(self, request, exception):
        if not isinstance(exception, LoginThrottled):
            return None
        wait = exception.retry_after
        response = render(request, "429.html",
                          {"retry_after": wait, "retry_minutes": math.ceil(wait / 60)},
                          status=429)
        response["Retry-After"] = str(wait)
        return response


# -- API tokens -----------------------------------------------------------------------------------
def token_lock_key(client: str) -> str:
    return _token_limit().lock_key(client)


def check_token_client(*, client: str,
                       read: tuple[float | None] | RedisError | None = None) -> None:
    """Refuse a client that sent too many invalid tokens, before its token is looked up.
    ``read``: ``token_lock_key(client)``'s value, fetched by the caller (see ``retry_after``)."""
    wait = _token_limit().retry_after(client, read=read)
    if wait:
        logger.warning("API token refused: too many invalid tokens",
                       extra={"client": client, "retry_after": wait})
        raise RateLimited(f"Too many invalid API tokens from this client; retry in {wait} s.",
                          retry_after=wait)


def token_failed(*, client: str, reason: str) -> None:
    limit = _token_limit()
    if limit.fail(client):
        logger.warning("API token client locked out",
                       extra={"client": client, "reason": reason, "lockout_s": limit.window_s})
