"""What each source of a project has been sending: per receiver kind, items accepted and
rejected per minute (kept an hour) and the last time and error, in Redis. The receivers note
every request; the Sources page and its API read it back, with the StatsD listeners' and scrape
targets' own status rows."""

from __future__ import annotations

import time

import orjson
import redis
from django.conf import settings

KINDS = {
    "api": "Own API (REST / WebSocket)", "influx": "InfluxDB line protocol",
    "otlp": "OpenTelemetry (OTLP)", "prom_remote_write": "Prometheus remote write",
    "prom_scrape": "Prometheus scrape", "statsd": "StatsD / DogStatsD",
    "posthog": "PostHog SDKs", "segment": "Segment SDKs", "plausible": "Plausible",
}
KEEP_S = 3600
WINDOW_MIN = 5


def _minute(now: float) -> int:
    return int(now // 60)


# Counted in the process and written to Redis at most once a second: a receiver's request must
# not pay a Redis round trip for statistics (the ingest benchmark lost a quarter of its rate).
_pending: dict[tuple[int, str], dict] = {}
_flush_scheduled = False
FLUSH_S = 1.0


async def note(redis_client, project_id: int, kind: str, *, accepted: int, rejected: int = 0,
               error: str = "", unit: str = "points") -> None:
    """Count one request's items; written within a second (best effort: statistics only)."""
    global _flush_scheduled
    entry = _pending.setdefault((project_id, kind), {"accepted": 0, "rejected": 0})
    entry["accepted"] += accepted
    entry["rejected"] += rejected
    entry["last"] = {"at": time.time(), "accepted": accepted, "rejected": rejected,
                     "unit": unit}
    if error:
        entry["error"] = {"at": time.time(), "error": error[:500]}
    if not _flush_scheduled:
        import asyncio

        _flush_scheduled = True
        loop = asyncio.get_running_loop()
        loop.call_later(FLUSH_S, lambda: loop.create_task(flush(redis_client)))


async def flush(redis_client) -> None:
    """Write what was counted since the last flush (also called directly by short-lived
    loops, e.g. a scrape, before they end)."""
    global _flush_scheduled
    _flush_scheduled = False
    pending = dict(_pending)
    _pending.clear()
    if not pending:
        return
    minute = _minute(time.time())
    try:
        async with redis_client.pipeline(transaction=False) as pipe:
            for (project_id, kind), entry in pending.items():
                key = f"src:{project_id}:{kind}:{minute}"
                pipe.hincrby(key, "accepted", entry["accepted"])
                pipe.hincrby(key, "rejected", entry["rejected"])
                pipe.expire(key, KEEP_S)
                pipe.set(f"src:{project_id}:{kind}:last", orjson.dumps(entry["last"]),
                         ex=7 * 86400)
                if "error" in entry:
                    pipe.set(f"src:{project_id}:{kind}:error", orjson.dumps(entry["error"]),
                             ex=7 * 86400)
                pipe.sadd(f"src:{project_id}:kinds", kind)
            await pipe.execute()
    except Exception:  # noqa: S110 - statistics only
        pass


def summary(project_id: int) -> list[dict]:
    """Every kind the project has used: last received, per-minute rate over the last
    ``WINDOW_MIN`` minutes, rejected items in that window and the last error."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
    try:
        kinds = sorted(k.decode() for k in client.smembers(f"src:{project_id}:kinds"))
        now = time.time()
        minutes = [_minute(now) - i for i in range(WINDOW_MIN)]
        found = []
        for kind in kinds:
            with client.pipeline(transaction=False) as pipe:
                for minute in minutes:
                    pipe.hgetall(f"src:{project_id}:{kind}:{minute}")
                pipe.get(f"src:{project_id}:{kind}:last")
                pipe.get(f"src:{project_id}:{kind}:error")
                *counts, last, error = pipe.execute()
            accepted = sum(int(c.get(b"accepted", 0)) for c in counts)
            rejected = sum(int(c.get(b"rejected", 0)) for c in counts)
            last = orjson.loads(last) if last else {}
            error = orjson.loads(error) if error else {}
            found.append({
                "kind": kind, "label": KINDS.get(kind, kind),
                "unit": last.get("unit", "points"),
                "last_received_at": last.get("at"),
                "per_minute": round(accepted / WINDOW_MIN, 1),
                "rejected_recent": rejected,
                "last_error": error.get("error", ""), "last_error_at": error.get("at")})
        return found
    except redis.RedisError:
        return []
    finally:
        client.close()


def status_of(project) -> dict:
    """Everything the Sources page shows for ``project`` (sync; for the page and its API)."""
    from ..models import ScrapeTarget, StatsdListener

    def when(moment):
        return moment.isoformat() if moment else None

    return {
        "sources": summary(project.pk),
        "statsd_listeners": [
            {"name": s.name, "address": f"{s.host}:{s.port}",
             "protocols": "+".join(p for p in ("udp", "tcp") if getattr(s, p)),
             "enabled": s.enabled, "last_received_at": when(s.last_received_at),
             "received_total": s.received_total, "points_total": s.points_total,
             "rejected_total": s.rejected_total, "last_error": s.last_error}
            for s in StatsdListener.objects.filter(ingest_key__project=project)],
        "scrape_targets": [
            {"name": t.name, "url": t.url, "enabled": t.enabled, "up": t.up,
             "last_scrape_at": when(t.last_scrape_at), "duration_ms": t.last_duration_ms,
             "samples": t.last_samples, "interval_s": t.interval_s, "last_error": t.last_error}
            for t in ScrapeTarget.objects.filter(project=project)],
    }
