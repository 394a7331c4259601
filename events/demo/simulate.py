"""Live demo traffic, so dashboards and live pages keep moving (``manage.py simulate``): every
second a few events from a handful of sessions in progress, every ten seconds one point per
metric series, through the real write path."""

import asyncio
import itertools
import signal
from datetime import UTC, datetime

from analytics_site.errors import ServiceUnavailable

from .. import services
from .data import LiveTraffic, close_pool, points_at

METRICS_EVERY = 10  # seconds


async def run(key, live: LiveTraffic, tz, rate: int, duration: int | None,
              warn=print) -> tuple[int, int]:
    """Send ``live`` traffic with ``key`` until SIGINT / SIGTERM or ``duration`` seconds:
    ``rate`` events a second, a point per series every METRICS_EVERY seconds. Returns the
    events and points stored; a storage outage is reported through ``warn`` and retried."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread: --duration or the caller ends it
    begin, events, points = loop.time(), 0, 0
    try:
        for tick in itertools.count():
            try:  # tick n runs n seconds after the start, however long the last one took
                await asyncio.wait_for(stop.wait(), max(0.0, begin + tick - loop.time()))
                break
            except TimeoutError:
                if duration is not None and tick >= duration:
                    break
            try:
                events, points = await _tick(key, live, tz, rate, tick, events, points)
            except ServiceUnavailable as exc:
                warn(f"storage unavailable, retrying: {exc}")
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        await close_pool()
    return events, points

async def _tick(key, live, tz, rate, tick, events, points) -> tuple[int, int]:
    now = datetime.now(UTC)
    for client, items in live.tick(now, rate):
        result = await services.ingest_events(key=key, items=items, sent_at=None,
                                              client=client)
        events += result.stored
    if tick % METRICS_EVERY == 0:
        result = await services.record_points(key=key,
                                              items=points_at(live.seed, tz, now))
        points += result.stored
    return events, points
