"""The web process's Django handler (``analytics_site.handler``): each request's sync work runs
in a thread of its own, taken from the threads earlier requests finished with instead of a new
one per request — and a thread taken again holds nothing of its last request."""

import asyncio
import threading

import orjson
import pytest

from analytics_site.handler import KEEP_IDLE, OneThreadASGIHandler

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.urls("analytics_site.tests.urls_for_handler")]


async def _get(app, query: str = "", path: str = "/where") -> dict:
    body_sent = False
    forever = asyncio.Event()
    sent = []

    async def receive():
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await forever.wait()  # the client stays connected

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000),
             "server": ("testserver", 80)}
    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return orjson.loads(body) if path == "/where" else {"body": body}


def test_requests_one_after_another_are_served_by_one_kept_thread():
    app = OneThreadASGIHandler()

    async def three():
        return [await _get(app) for _ in range(3)], threading.current_thread().name

    answers, loop_thread = asyncio.run(three())
    threads = {answer["thread"] for answer in answers}
    assert len(threads) == 1 and loop_thread not in threads
    # Its database connection went back at the end of each request (request_finished), so the
    # next request on the same thread starts without one.
    assert [answer["inherited"] for answer in answers] == [False, False, False]
    assert len(app._idle) == 1


def test_requests_at_once_each_get_a_thread_and_both_are_kept_for_later():
    app = OneThreadASGIHandler()

    async def together():
        both = await asyncio.gather(_get(app, "meet=1"), _get(app, "meet=1"))
        later = await _get(app)
        return both, later

    both, later = asyncio.run(together())
    assert both[0]["thread"] != both[1]["thread"]  # they met: neither waited for the other
    assert later["thread"] in {both[0]["thread"], both[1]["thread"]}
    assert len(app._idle) == 2


def test_no_more_than_keep_idle_threads_wait():
    app = OneThreadASGIHandler()

    async def many():
        # KEEP_IDLE + 2 requests at once: each takes a thread, at most KEEP_IDLE are kept.
        return await asyncio.gather(*[_get(app, "nodb=1") for _ in range(KEEP_IDLE + 2)])

    answers = asyncio.run(many())
    assert len(answers) == KEEP_IDLE + 2
    assert len({answer["thread"] for answer in answers}) == KEEP_IDLE + 2
    assert len(app._idle) == KEEP_IDLE


def test_a_streamed_response_is_sent_whole_and_closed_after_its_last_part():
    from django.core import signals

    from analytics_site.tests import urls_for_handler

    app = OneThreadASGIHandler()
    urls_for_handler.finished.clear()
    signals.request_finished.connect(urls_for_handler.note_finished)
    try:
        answer = asyncio.run(_get(app, path="/stream"))
    finally:
        signals.request_finished.disconnect(urls_for_handler.note_finished)
    assert answer["body"] == b"part 0;part 1;part 2;"
    # request_finished (the connection back to the pool) after the stream, not before it.
    assert urls_for_handler.finished == ["chunk 0", "chunk 1", "chunk 2", "finished"]
    assert len(app._idle) == 1


def test_a_stream_that_fails_half_way_is_closed_all_the_same():
    from django.core import signals

    from analytics_site.tests import urls_for_handler

    app = OneThreadASGIHandler()
    urls_for_handler.finished.clear()
    signals.request_finished.connect(urls_for_handler.note_finished)
    try:
        with pytest.raises(RuntimeError, match="half-way"):
            asyncio.run(_get(app, path="/broken"))
    finally:
        signals.request_finished.disconnect(urls_for_handler.note_finished)
    # request_finished ran (its thread's connection went back), and that thread is not kept.
    assert urls_for_handler.finished == ["finished"]
    assert app._idle == []
