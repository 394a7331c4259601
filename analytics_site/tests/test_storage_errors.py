"""PostgreSQL or Redis out of reach is a 503 with Retry-After that a client waits out, and a
statement cancelled by its timeout a 504 — neither is a 500."""

import socket

import pytest
import redis
from django.db import connection, connections, transaction
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def _dead_port() -> int:
    with socket.socket() as s:  # bound, never listening
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@api_view(["GET"])
@permission_classes([AllowAny])
def slow_statement(request):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = '20ms'")
        cursor.execute("SELECT pg_sleep(2)")


@api_view(["GET"])
@permission_classes([AllowAny])
def postgres_gone(request):
    default = connections["default"]
    gone = default.__class__({**default.settings_dict, "PORT": _dead_port()}, alias="gone")
    gone.ensure_connection()


@api_view(["GET"])
@permission_classes([AllowAny])
def redis_gone(request):
    redis.Redis(port=_dead_port(), socket_connect_timeout=1).ping()


urlpatterns = [
    path("api/v1/test/slow", slow_statement),
    path("api/v1/test/postgres-gone", postgres_gone),
    path("api/v1/test/redis-gone", redis_gone),
]


def test_a_statement_over_its_timeout_is_504():
    response = APIClient().get("/api/v1/test/slow")
    assert response.status_code == 504
    assert response.json()["code"] == "QUERY_TIMEOUT"


@pytest.mark.parametrize("store", ["postgres", "redis"])
def test_unreachable_storage_is_503_with_retry_after(store):
    response = APIClient().get(f"/api/v1/test/{store}-gone")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"error": "Storage is unavailable; retry later.",
                               "code": "UNAVAILABLE", "details": {"retry_after": 5}}
