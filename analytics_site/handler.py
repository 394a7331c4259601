"""Django's ASGI handler with the middleware chain and the view run in one worker thread.

Under ASGI, Django runs each middleware that can be async (all of Django's own: sessions, CSRF,
authentication, messages, …) in async mode, and a sync ``MiddlewareMixin`` does so by crossing
into a worker thread and back for its ``process_request`` and again for ``process_response``;
the sync views cross once more. Some twenty crossings a request, about a quarter of a
millisecond each here, were most of what a small API answer cost (17 ms against 6 ms for the
same request served synchronously). Here the chain is built in sync mode and the whole of it
runs in the request's one thread-sensitive worker thread: one crossing. The ingestion
endpoints, which are async views, do not come here (``analytics_site.lean``); an async view
that does still runs (adapted, as Django adapts one under WSGI).
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class OneThreadASGIHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
