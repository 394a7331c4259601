"""URLs used only by test_handler: a view that says which thread served it (by name: numbered,
never reused) and whether that thread still held a database connection when the request began."""

import threading

from django.db import connection
from django.http import JsonResponse, StreamingHttpResponse
from django.urls import path

arrived = threading.Barrier(2, timeout=10)


def where(request):
    inherited = connection.connection is not None  # left open by an earlier request?
    if request.GET.get("meet"):
        arrived.wait()  # two requests in at once: each must have a thread of its own
    if not request.GET.get("nodb"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    return JsonResponse({"thread": threading.current_thread().name, "inherited": inherited})


finished: list[str] = []  # the stream's parts and request_finished, in order (test_handler)


def note_finished(**kwargs):
    finished.append("finished")


def stream(request):
    async def chunks():
        for n in range(3):
            finished.append(f"chunk {n}")
            yield f"part {n};".encode()

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def broken_stream(request):
    async def chunks():
        yield b"part 0;"
        raise RuntimeError("the export failed half-way")

    return StreamingHttpResponse(chunks(), content_type="text/plain")


urlpatterns = [path("where", where), path("stream", stream), path("broken", broken_stream)]
