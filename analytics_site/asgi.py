"""The ASGI router: HTTP goes to Django (the ingestion endpoints past its middleware:
``analytics_site.lean``), WebSockets to the apps' Channels consumers."""

import os
from urllib.parse import urlsplit

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
django.setup(set_prefix=False)  # before importing consumers (as get_asgi_application does)

from analytics_site.handler import OneThreadASGIHandler  # noqa: E402

django_asgi_app = OneThreadASGIHandler()  # the chain in one thread per request: see handler

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import WebsocketDenier  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402

from analytics_site.lean import LeanRouter  # noqa: E402
from analytics_site.routing import (  # noqa: E402
    key_authenticated_urlpatterns,
    websocket_urlpatterns,
)


class SameOriginValidator:
    """The pages' sockets are for this site's pages: a browser's ``Origin`` must be the origin
    the socket was asked of (its ``Host``), or one of ``CSRF_TRUSTED_ORIGINS``. Channels'
    ``AllowedHostsOriginValidator`` checks the Origin against ALLOWED_HOSTS instead, which is
    ``*`` in development — every site's pages could open them there. A request without an
    Origin is not a browser's and still needs a session or a ticket."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1")
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if origin and not self.allowed(origin, host):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)

    @staticmethod
    def allowed(origin: str, host: str) -> bool:
        origin = origin.lower().rstrip("/")
        if origin in {o.lower().rstrip("/") for o in settings.CSRF_TRUSTED_ORIGINS}:
            return True
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        return parts.scheme in {"http", "https"} and bool(host) and parts.netloc == host


application = ProtocolTypeRouter(
    {
        "http": LeanRouter(django_asgi_app),
        "websocket": URLRouter([
            *key_authenticated_urlpatterns,
            re_path(r"", SameOriginValidator(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
        ]),
    }
)
