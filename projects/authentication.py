"""DRF authentication with personal API tokens: ``Authorization: Bearer at_...``.

A client that sends too many invalid tokens is refused (429) before its next token is even looked
up; see ``projects.throttle``. That lockout and the access generation (``access_cache``) are read
in one round trip to Redis.
"""

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework import authentication, exceptions

from . import access_cache, selectors, services, throttle


class APITokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        access_cache.forget()
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, raw = header.partition(" ")
        if keyword.lower() not in {"bearer", "token"}:
            return None
        client = throttle.client_of(request)
        lock, generation = _read_together(throttle.token_lock_key(client),
                                          access_cache.GENERATION_KEY)
        throttle.check_token_client(client=client, read=lock)
        access_cache.read_generation(read=generation)
        try:
            token = self._valid_token(raw.strip())
        except exceptions.AuthenticationFailed as exc:
            throttle.token_failed(client=client, reason=str(exc.detail))
            raise
        services.touch_api_token(token=token,
                                 resolution_s=settings.API_TOKEN_LAST_USED_RESOLUTION_S)
        return token.user, token

    @staticmethod
    def _valid_token(raw: str):
        token = selectors.token_by_value(raw) if raw else None
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid API token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API token was revoked.")
        if token.is_expired:
            raise exceptions.AuthenticationFailed("This API token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is inactive.")
        return token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


def _read_together(*keys: str) -> list[tuple | RedisError]:
    """Each key's value as a 1-tuple, from one round trip to Redis; the error for each when it
    failed (each reader then fails open on its own terms, logged, without asking again)."""
    try:
        found = cache.get_many(keys)
    except RedisError as exc:
        return [exc] * len(keys)
    return [(found.get(key),) for key in keys]


def token_of(request):
    """The request's API token (the object scope checks need), or None for a session."""
    from .models import APIToken

    return request.auth if isinstance(request.auth, APIToken) else None
