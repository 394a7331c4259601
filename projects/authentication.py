"""DRF authentication with personal API tokens: ``Authorization: Bearer at_...``.

A client that sends too many invalid tokens is refused (429) before its next token is even looked
up; see ``projects.throttle``.
"""

from django.conf import settings
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
        throttle.check_token_client(client=client)
        access_cache.read_generation()
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


def token_of(request):
    """The request's API token (the object scope checks need), or None for a session."""
    from .models import APIToken

    return request.auth if isinstance(request.auth, APIToken) else None
