"""WebSocket routes of the events app. The ingest socket authenticates with an ingest key, not a
session, so it is routed outside the session and allowed-hosts stack (see analytics_site.asgi)."""

from django.urls import path

from .ingest.websocket import IngestConsumer

key_authenticated_urlpatterns = [path("ws/ingest/", IngestConsumer.as_asgi())]
