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

Django then crosses into that thread three times a request — for the ``request_started``
receivers, for the chain, for the response's ``close`` (``request_finished``) — and watches for
a disconnect with two more tasks. Here a response that is not streamed is made and closed in one
crossing (``request_started``, the chain, ``close``: the same order in the same thread, the body
already in memory) and then sent; a streamed response is sent and closed as Django does it, with
the disconnect watched. (So a client that leaves before a response that is not streamed is ready
no longer cancels the view: a sync view ran on anyway, and an async one now does too; its
answer goes nowhere.)

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

import asyncio
import contextlib
import itertools
import logging
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

logger = logging.getLogger("django.request")

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

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        try:
            response = await sync_to_async(self._respond, thread_sensitive=True)(
                scope, body_file)
            if response.streaming:
                await self._stream(response, receive, send)
            else:
                await self.send_response(response, send)
        finally:
            body_file.close()

    def _respond(self, scope, body_file):
        """In the request's thread: what Django's handler does over three crossings."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            _close(response)  # request_finished: the connection goes back before sending
        return response

    async def _stream(self, response, receive, send):
        """A streamed response, as Django's handler sends one: stopped if the client leaves;
        closed (``request_finished``: the connection back to the pool) however it ended."""
        tasks = [asyncio.create_task(self.listen_for_disconnect(receive)),
                 asyncio.create_task(self.send_response(response, send))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                elif not task.cancelled():
                    with contextlib.suppress(RequestAborted):
                        task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await sync_to_async(_close, thread_sensitive=True)(response)


def _close(response) -> None:
    """``response.close()``; a receiver of ``request_finished`` that fails costs a log line, not
    the answer (Django sent it before closing)."""
    try:
        response.close()
    except Exception:
        logger.exception("closing the response failed")
