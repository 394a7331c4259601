"""WebSocket routes, gathered from the apps that own them (events, dashboards) as they come."""

websocket_urlpatterns: list = []
