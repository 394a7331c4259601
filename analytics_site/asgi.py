"""The ASGI router: HTTP goes to Django, WebSockets to the apps' Channels consumers."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
django_asgi_app = get_asgi_application()  # before importing consumers: it sets Django up

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import re_path  # noqa: E402

from analytics_site.routing import (  # noqa: E402
    key_authenticated_urlpatterns,
    websocket_urlpatterns,
)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([
            *key_authenticated_urlpatterns,
            re_path(r"", AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
        ]),
    }
)
