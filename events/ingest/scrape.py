"""Scraping Prometheus targets (beat: ``events.scrape_targets`` every 5 s): the due targets of
every project at once, concurrently, each bounded by its timeout; samples, ``up`` and
``scrape_duration_seconds`` written through the normal write path with the project's ingest
key; the target's health (up, duration, samples, last error) saved on it for the admin and the
Sources page. A target URL passes the site's outbound guard (``analytics_site.outbound``) when it
is saved and before each scrape: public addresses only, unless the operator lists the network in
``SCRAPE_ALLOWED_NETWORKS``; the scrape connects to the vetted address and follows no redirect."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.db.models import Q
from django.utils import timezone

from analytics_site import outbound
from analytics_site.errors import ApiError

from .. import catalog, db, selectors
from ..models import ScrapeTarget
from . import cumulative, intake
from .ratelimit import client as redis_client
from .receivers import prometheus

MAX_BODY = 10 * 1024 * 1024
# What every scrape records besides the target's samples, described as Prometheus does.
SCRAPE_DEFINITIONS = {
    "up": ("1 if the target answered the last scrape, 0 if not", "", "gauge"),
    "scrape_duration_seconds": ("How long the last scrape took", "s", "gauge"),
    "scrape_samples_scraped": ("How many samples the last scrape returned", "count", "gauge"),
}


class ScrapeURLRefused(outbound.URLRefused):
    code = "SCRAPE_URL_REFUSED"


SCRAPES = outbound.Policy(setting="SCRAPE_ALLOWED_NETWORKS", refused=ScrapeURLRefused,
                          purpose="scrape targets")


def check_url(url: str) -> None:
    """Raise ScrapeURLRefused unless the worker may scrape ``url``."""
    outbound.vet(url, policy=SCRAPES)


def _due(now: datetime) -> list[dict]:
    from projects.selectors import active_ingest_key

    found = []
    targets = ScrapeTarget.objects.filter(enabled=True).filter(
        Q(next_scrape_at__isnull=True) | Q(next_scrape_at__lte=now)).select_related("project")
    for target in targets:
        key = active_ingest_key(target.project)
        found.append({"pk": target.pk, "project": target.project_id, "name": target.name,
                      "url": target.url, "timeout": target.timeout_s,
                      "interval": target.interval_s, "labels": target.labels or {},
                      "key": key.key if key else None})
    ScrapeTarget.objects.filter(pk__in=[t["pk"] for t in found]).update(
        next_scrape_at=now + timedelta(seconds=1))  # claimed; set properly after the scrape
    return found


async def _scrape(target: dict) -> dict:
    instance = urlsplit(target["url"]).netloc
    tags = {**{str(k): str(v) for k, v in target["labels"].items()}, "job": target["name"],
            "instance": instance}
    started = time.perf_counter()
    report = {"pk": target["pk"], "up": False, "samples": 0, "error": ""}
    points: list[dict] = []
    definitions = dict(SCRAPE_DEFINITIONS)
    try:
        answer = await outbound.request_async(
            "GET", target["url"], policy=SCRAPES, timeout=target["timeout"], max_bytes=MAX_BODY,
            headers={"Accept": "text/plain;version=0.0.4"})
        if answer.status != 200:
            raise prometheus.PrometheusError(f"HTTP {answer.status}")
        if answer.truncated:
            raise prometheus.PrometheusError(f"body over {MAX_BODY} bytes")
        collected = prometheus.collect_exposition(answer.text, tags)
        points = await cumulative.settle(collected, target["project"])
        definitions.update(collected.definitions)
        report.update(up=True, samples=collected.samples)
    except prometheus.PrometheusError as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"[:1000]
    except (outbound.RequestFailed, outbound.URLRefused) as exc:
        report["error"] = exc.message[:1000]
    duration = time.perf_counter() - started
    report["duration_ms"] = round(duration * 1000, 1)
    now = time.time()
    points += [{"name": "up", "value": 1.0 if report["up"] else 0.0, "tags": tags,
                "timestamp": now},
               {"name": "scrape_duration_seconds", "value": duration, "tags": tags,
                "timestamp": now},
               {"name": "scrape_samples_scraped", "value": float(report["samples"]),
                "tags": tags, "timestamp": now}]
    key = await selectors.ingest_key(target["key"]) if target["key"] else None
    if key is None:
        report["error"] = report["error"] or "the project has no active ingest key"
        return report
    from . import sources
    try:
        result = await intake.store_points(key=key, items=points)
        if result.rejected and not report["error"]:
            bad = result.rejected[0]
            report["error"] = f"{len(result.rejected)} samples rejected, e.g. " \
                              f"{points[bad.index]['name']}: {bad.message}"
    except ApiError as exc:
        report["error"] = exc.message
    else:
        await catalog.describe(project_id=target["project"], source="prometheus",
                               definitions=definitions)
    await sources.note(redis_client(), target["project"], "prom_scrape",
                       accepted=report["samples"], rejected=0, error=report["error"])
    return report


def _save(reports: list[dict], now: datetime, intervals: dict[int, int]) -> None:
    for report in reports:
        ScrapeTarget.objects.filter(pk=report["pk"]).update(
            up=report["up"], last_scrape_at=now, last_duration_ms=report["duration_ms"],
            last_samples=report["samples"], last_error=report["error"],
            next_scrape_at=now + timedelta(seconds=intervals[report["pk"]]))


def _closing(call):
    """Run ``call`` in sync_to_async's thread and close that thread's database connection
    after: the thread outlives this scrape, its connection must not."""
    from django.db import connection

    def run(*args):
        try:
            return call(*args)
        finally:
            connection.close()

    return sync_to_async(run)


async def _run(now: datetime) -> list[dict]:
    targets = await _closing(_due)(now)
    if not targets:
        return []
    try:
        reports = await asyncio.gather(*(_scrape(t) for t in targets))
    finally:
        from . import sources

        await sources.flush(redis_client())  # this loop ends before a scheduled flush
        await (await db.pool()).close()
        await redis_client().aclose()
    await _closing(_save)(list(reports), now, {t["pk"]: t["interval"] for t in targets})
    return list(reports)


def scrape_due(now: datetime | None = None) -> list[dict]:
    """Scrape every due target once (from sync code: Celery, tests). From a thread that already
    runs an event loop, in a thread of its own."""
    now = now or timezone.now()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_run(now))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(_run(now))).result()
