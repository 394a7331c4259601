"""Django's ASGI handler with the middleware chain and the view run in one worker thread, and
that thread kept for the next request.

Under ASGI, Django runs each middleware that can be async (all of Django's own: sessions, CSRF,
authentication, messages, …) in async mode, and a sync ``MiddlewareMixin`` does so by crossing
into a worker thread and back for its ``process_request`` and again for ``process_response``;
the sync views cross once more. Some twenty crossings a request, about a quarter of a
millisecond each here, were most of what a small API answer cost (17 ms against 6 ms for the
same request served synchronously). Here the chain is built in sync mode and the whole of it
runs in the request's one thread-sensitive worker thread: one crossing. The ingestion
endpoints, which are async views, do not come here (``analytics_site.lean``); an async view
that does still runs (adapted, as Django adapts one under WSGI).

Django gives each request a thread of its own (``ThreadSensitiveContext``: a new one-thread
executor, started for the request and joined by yet another thread after it) — two thread
starts a request, most of what the event loop spent on a small API answer besides HTTP. Here a
request still has a thread to itself for all its sync work (``request_started``, the chain, the
response's ``close``), but the thread comes from the ones earlier requests finished with, as a
WSGI server's worker threads do: its database connection, like theirs, is opened and closed by
``close_old_connections`` on the request signals. At most ``KEEP_IDLE`` wait; a request that
ends in an exception does not give its thread back (it may still be busy).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler

KEEP_IDLE = 32
_numbers = itertools.count(1)


class OneThreadASGIHandler(ASGIHandler):
    def __init__(self):
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []  # touched on the event loop only

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        thread = (self._idle.pop() if self._idle
                  else ThreadPoolExecutor(max_workers=1,
                                     thread_name_prefix=f"request-{next(_numbers)}"))
        try:
            async with ThreadSensitiveContext(executor=thread):
                await self.handle(scope, receive, send)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        if len(self._idle) < KEEP_IDLE:
            self._idle.append(thread)
        else:
            thread.shutdown(wait=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
