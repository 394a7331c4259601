"""Liveness and readiness probes.

``/healthz`` answers without touching anything: the process is up. ``/readyz`` checks each
dependency the platform needs to do its work and answers 503 when one fails, naming it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from analytics_site.celery import app as celery_app

BEAT_STALE_AFTER_S = 60


def _postgres() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {}


def _redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def _redis() -> dict:
    _redis_client().ping()
    return {}


def _worker() -> dict:
    replies = celery_app.control.ping(timeout=1.0, limit=1)
    if not replies:
        raise RuntimeError("no Celery worker answered within 1 s")
    return {"workers": sorted(name for reply in replies for name in reply)}


def _beat() -> dict:
    value = _redis_client().get(settings.BEAT_HEARTBEAT_KEY)
    if value is None:
        raise RuntimeError("beat has not been seen")
    age = time.time() - float(value)
    if age > BEAT_STALE_AFTER_S:
        raise RuntimeError(f"beat last seen {age:.0f} s ago")
    return {"last_seen_s": round(age, 1)}


CHECKS: dict[str, Callable[[], dict]] = {
    "postgres": _postgres,
    "redis": _redis,
    "worker": _worker,
    "beat": _beat,
}


def replicas_state() -> list[dict]:
    """The read replicas' state and lag: shown, never a reason to be unready (reads fall back
    to the primary)."""
    from events.query import replicas

    return replicas.status()


def run_checks() -> tuple[bool, dict[str, dict]]:
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            result = {"ok": True, **check()}
        except Exception as exc:
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = result
    return all(r["ok"] for r in results.values()), results


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    ready, checks = run_checks()
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    if settings.DATABASE_REPLICA_URLS:
        body["replicas"] = replicas_state()
    return JsonResponse(body, status=200 if ready else 503)
