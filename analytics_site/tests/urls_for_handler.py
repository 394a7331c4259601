"""URLs used only by test_handler: a view that says which thread served it (by name: numbered,
never reused) and whether that thread still held a database connection when the request began."""

import threading

from django.db import connection
from django.http import JsonResponse
from django.urls import path

arrived = threading.Barrier(2, timeout=10)


def where(request):
    inherited = connection.connection is not None  # left open by an earlier request?
    if request.GET.get("meet"):
        arrived.wait()  # two requests in at once: each must have a thread of its own
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"thread": threading.current_thread().name, "inherited": inherited})


urlpatterns = [path("where", where)]
