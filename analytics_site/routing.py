"""WebSocket routes, gathered from the apps that own them.

``key_authenticated_urlpatterns`` take any Origin and check credentials themselves (ingest keys,
which carry their own origin allow-list); ``websocket_urlpatterns`` are for pages of this site:
session-authenticated and same-origin only."""

from dashboards.routing import websocket_urlpatterns as dashboard_urlpatterns
from events.routing import key_authenticated_urlpatterns

websocket_urlpatterns: list = [*dashboard_urlpatterns]

__all__ = ["key_authenticated_urlpatterns", "websocket_urlpatterns"]
