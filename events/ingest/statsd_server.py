"""The StatsD / DogStatsD server: listeners over UDP and TCP, each aggregating what it receives
and writing it as metric points every flush interval, through the same write path as the REST
API (the key's project, rate and limits). ``manage.py statsd`` runs it (``make run`` starts it).

Configured listeners are re-read every 30 s: added, changed or disabled ones start or stop
without a restart. With none configured it waits for one.

It outlives its database and Redis: a restart of either costs neither the process nor the
points — a flush that cannot be stored keeps its points (up to ``MAX_PENDING_POINTS``) for the
next flush, and a reload that cannot read the configuration keeps the listeners running and
tries again in ``RETRY_S``.
"""


from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time

from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import F
from django.utils import timezone

from analytics_site.errors import ApiError, ServiceUnavailable

from .. import catalog, db, selectors, services
from ..models import StatsdListener
from . import intake, sources
from .ratelimit import client as redis_client
from .receivers.statsd import Aggregator

logger = logging.getLogger("events.statsd")
RELOAD_S = 30
RETRY_S = 5
MAX_TCP_LINE = 64 * 1024
MAX_PENDING_POINTS = 200_000


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, aggregator: Aggregator):
        self.aggregator = aggregator

    def datagram_received(self, data, addr):
        self.aggregator.feed(data.decode("utf-8", "replace"))


class Served:
    """One listener: its sockets, its aggregator and its flush loop."""

    def __init__(self, config: dict):
        self.config = config
        self.aggregator = Aggregator()
        self.transports: list = []
        self.servers: list = []
        self.flusher: asyncio.Task | None = None
        self.pending: list[dict] = []  # aggregated points not stored yet (storage was down)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self.config["host"], self.config["port"]
        if self.config["udp"]:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self.aggregator), local_addr=(host, port))
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
            self.transports.append(transport)
        if self.config["tcp"]:
            self.servers.append(await asyncio.start_server(self._tcp, host, port,
                                                           limit=MAX_TCP_LINE))
        self.flusher = asyncio.create_task(self._flush_every())
        logger.info("statsd listening on %s:%s (%s) for key %s…", host, port,
                    "+".join(k for k in ("udp", "tcp") if self.config[k]),
                    self.config["key"][:8])

    async def _tcp(self, reader, writer) -> None:
        try:
            while line := await reader.readline():
                self.aggregator.feed(line.decode("utf-8", "replace"))
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    async def _flush_every(self) -> None:
        interval = self.config["flush"]
        while True:
            await asyncio.sleep(interval - time.time() % interval)  # on the interval's edge
            try:
                await self.flush()
            except Exception:  # the next interval tries again; the loop must not end
                logger.exception("statsd flush failed")

    async def flush(self) -> None:
        aggregator = self.aggregator
        received, rejected, error = aggregator.received, aggregator.rejected, \
            aggregator.last_error
        aggregator.received = aggregator.rejected = 0
        aggregator.last_error = ""
        points = self.pending + aggregator.flush(time.time())
        self.pending = []
        stored = 0
        key = None
        if points or received or rejected:
            try:
                key = await selectors.ingest_key(self.config["key"])
                if key is not None:
                    await services.note_key_used(key.id)
                if points:
                    if key is None:
                        raise ApiError("the listener's ingest key is revoked or unknown")
                    result = await intake.store_points(key=key, items=points)
                    stored = result.accepted
                    await catalog.describe(project_id=key.project_id, source="statsd",
                                           definitions=aggregator.definitions)
                    rejected += len(result.rejected)
                    if result.rejected:
                        error = result.rejected[-1].message
            except ServiceUnavailable as exc:
                self._keep(points)
                error = exc.message
                logger.warning("statsd flush of %s points deferred: %s", len(points),
                               exc.message)
            except ApiError as exc:
                rejected += len(points) - stored
                error = exc.message
                logger.warning("statsd flush of %s points failed: %s", len(points), exc.message)
        if key is not None and (received or rejected):
            await sources.note(redis_client(), key.project_id, "statsd", accepted=stored,
                               rejected=rejected, error=error)
        if self.config.get("pk") and (received or rejected):
            try:
                await sync_to_async(_record)(self.config["pk"], received, stored, rejected,
                                             error)
            except DatabaseError:
                logger.warning("statsd counters not recorded: the database is unavailable")
                await sync_to_async(connection.close)()

    def _keep(self, points: list[dict]) -> None:
        """Points kept for the next flush while storage is down; the oldest go first past
        MAX_PENDING_POINTS (counted as rejected, with a log line)."""
        dropped = max(0, len(points) - MAX_PENDING_POINTS)
        if dropped:
            logger.error("statsd dropped %s points: storage unavailable too long", dropped)
            self.aggregator.rejected += dropped
        self.pending = points[dropped:]

    async def stop(self) -> None:
        if self.flusher:
            self.flusher.cancel()
        for transport in self.transports:
            transport.close()
        for server in self.servers:
            server.close()
            await server.wait_closed()
        try:
            await self.flush()  # what arrived since the last flush is not lost
        except Exception:
            logger.exception("statsd: the last flush failed")


def _record(pk: int, received: int, stored: int, rejected: int, error: str) -> None:
    fields = {"received_total": F("received_total") + received,
              "points_total": F("points_total") + stored,
              "rejected_total": F("rejected_total") + rejected}
    if received:
        fields["last_received_at"] = timezone.now()
    if error:
        fields["last_error"] = error[:1000]
    StatsdListener.objects.filter(pk=pk).update(**fields)


def _configured() -> dict[tuple, dict]:
    close_old_connections()  # as a request would: a connection broken since the last reload goes
    found = {}
    for listener in (StatsdListener.objects.filter(enabled=True, ingest_key__revoked_at=None)
                     .select_related("ingest_key")):
        found[(listener.host, listener.port)] = {
            "pk": listener.pk, "host": listener.host, "port": listener.port,
            "udp": listener.udp, "tcp": listener.tcp, "flush": listener.flush_interval_s,
            "key": listener.ingest_key.key}
    return found


async def serve(fixed: dict | None = None) -> None:
    """Serve until SIGINT / SIGTERM: the listeners configured in the admin, re-read every
    RELOAD_S, or only ``fixed`` (``{(host, port): config}``)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running: dict[tuple, Served] = {}
    waiting = False  # said once that there is nothing to serve
    while not stop.is_set():
        try:
            wanted = fixed if fixed is not None else await sync_to_async(_configured)()
        except DatabaseError as exc:  # PostgreSQL restarting: keep serving what runs
            logger.warning("statsd cannot read its listeners (%s); retrying in %s s",
                           str(exc).strip().splitlines()[0] if str(exc) else exc, RETRY_S)
            await sync_to_async(connection.close)()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETRY_S)
            continue
        for address in list(running):
            if address not in wanted or running[address].config != wanted[address]:
                await running.pop(address).stop()
        for address, config in wanted.items():
            if address not in running:
                served = Served(config)
                try:
                    await served.start()
                except OSError as exc:
                    logger.error("statsd cannot listen on %s:%s: %s", *address, exc)
                    continue
                running[address] = served
        if not running and fixed is None and not waiting:
            logger.info("no StatsD listener configured (admin: Statsd listeners); "
                        "checking every %s s", RELOAD_S)
        waiting = not running
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RELOAD_S)
    for served in running.values():
        await served.stop()
    await sources.flush(redis_client())
    await (await db.pool()).close()
