"""The system status page, for superusers: what ``/readyz`` checks, the read replicas with their
lag, and which worker nodes consume each Celery queue. Thin: the probes are ``health``'s."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu.exceptions import OperationalError as BrokerError

from analytics_site import health
from analytics_site.celery import app as celery_app
from analytics_site.queues import QUEUES


@dataclass(frozen=True)
class CheckRow:
    name: str
    ok: bool
    ms: float
    detail: str  # the error when it failed, else what it found


@dataclass(frozen=True)
class ReplicaRow:
    name: str
    up: bool
    lag: str
    error: str


@dataclass(frozen=True)
class QueueRow:
    name: str
    workers: list[str]


def seconds(value: float | None) -> str:
    """A duration for people: ``0.2 s``, ``1 min 5 s``, ``2 h 3 min``; ``unknown`` for None."""
    if value is None:
        return "unknown"
    if value < 60:
        return f"{value:.1f} s"
    whole = round(value)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def check_rows(checks: dict[str, dict]) -> list[CheckRow]:
    rows = []
    for name, result in checks.items():
        if not result["ok"]:
            detail = result["error"]
        elif "workers" in result:
            detail = ", ".join(result["workers"])
        elif "last_seen_s" in result:
            detail = f"last seen {seconds(result['last_seen_s'])} ago"
        else:
            detail = ""
        rows.append(CheckRow(name, result["ok"], result["ms"], detail))
    return rows


def replica_rows(states: list[dict]) -> list[ReplicaRow]:
    """Rows of ``health.replicas_state()`` (whose names and errors carry no password)."""
    return [ReplicaRow(s["name"], s["up"], seconds(s.get("lag_s")) if s["up"] else "—",
                       s.get("error", "")) for s in states]


def queue_rows(*, ask_workers: bool = True) -> tuple[list[QueueRow], bool]:
    """Each queue with the worker nodes consuming it, and whether any worker answered within
    1 s (a queue nobody answered for may still have consumers that are busy or gone). Not
    asked when Redis, the broker, is known to be down: the question would wait for retries."""
    replies = {}
    if ask_workers:  # down meanwhile: no answer (its check says so)
        with suppress(BrokerError, redis.RedisError, OSError):
            replies = celery_app.control.inspect(timeout=1).active_queues() or {}
    consumers: dict[str, list[str]] = {name: [] for name in QUEUES}
    for node, queues in sorted(replies.items()):
        for queue in queues or []:
            consumers.setdefault(queue["name"], []).append(node)
    return [QueueRow(name, nodes) for name, nodes in consumers.items()], bool(replies)


@never_cache
@login_required
@require_GET
def status_page(request):
    if not request.user.is_superuser:
        raise Http404("Not found")
    ready, checks = health.run_checks()
    queues, answered = queue_rows(ask_workers=checks["redis"]["ok"])
    return render(request, "status.html", {
        "ready": ready,
        "checks": check_rows(checks),
        "replicas": replica_rows(health.replicas_state()) if settings.DATABASE_REPLICA_URLS
        else None,
        "max_lag": seconds(settings.REPLICA_MAX_LAG_S),
        "queues": queues,
        "workers_answered": answered,
    })
