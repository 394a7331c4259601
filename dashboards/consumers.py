"""``WS /ws/projects/<id>/``: live updates of one project for its pages.

Authenticated by the session (the page's own cookie; Channels' AuthMiddlewareStack) or, for API
clients, by ``?ticket=`` from ``POST /api/v1/projects/<id>/live-ticket/`` (signed, 60 s), and
scoped like the pages: a non-member is refused (close 4404), as an anonymous visitor is
(4401). A member joins the project's group, where the write path publishes one compact message
per stored batch (none while the group is empty: ``events.live``), and gets them as JSON:
``{"type": "events", "count": N, "events": [...]}`` (the newest of the batch) and
``{"type": "points", "count": N, "latest": {...}}``.

A dashboard page also sends ``{"type": "subscribe", "panels": [ids]}`` (panels of this
project's dashboards only). New data for a subscribed panel — points of a metric its query reads,
or events for an events query — marks it changed; at most once a second the consumer sends
``{"type": "panels", "panels": [ids]}`` for the changed ones, and the page re-asks their queries.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from events.live import group_name
from projects.selectors import role_of

from .selectors import panel_sources
from .services import user_of_live_ticket

COALESCE_S = 1.0
MAX_SUBSCRIBED = 100


class ProjectConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    project_id: int | None = None
    flusher: asyncio.Task | None = None

    async def connect(self) -> None:
        project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            ticket = parse_qs(self.scope.get("query_string", b"").decode()).get("ticket")
            user = await database_sync_to_async(user_of_live_ticket)(ticket[0], project_id) \
                if ticket else None
        if user is None:
            await self._refuse(4401)
            return
        if not await database_sync_to_async(_is_member)(user, project_id):
            await self._refuse(4404)
            return
        self.project_id = project_id
        self.sources: dict[int, set[str]] = {}  # panel -> metric names ("events" for events)
        self.changed: set[int] = set()
        self.group = group_name(project_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "project": project_id})

    async def _refuse(self, code: int) -> None:
        """Accept, then close with the reason's code: a close before accepting reaches the
        client as a bare HTTP 403 (a browser sees 1006), and the page must tell "not allowed"
        (stop) from "network" (retry)."""
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code) -> None:
        if self.flusher:
            self.flusher.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "subscribe":
            wanted = content.get("panels")
            if not isinstance(wanted, list) or len(wanted) > MAX_SUBSCRIBED:
                await self.send_json({"type": "error", "error": "panels: a list of ids."})
                return
            ids = [i for i in wanted if isinstance(i, int)]
            self.sources = await database_sync_to_async(panel_sources)(self.project_id, ids)
            self.changed &= set(self.sources)
            if self.flusher is None:
                self.flusher = asyncio.create_task(self._flush_every_second())
            await self.send_json({"type": "subscribed", "panels": sorted(self.sources)})

    def _mark(self, source: str | None) -> None:
        for panel_id, sources in self.sources.items():
            if source is None or source in sources:
                self.changed.add(panel_id)

    async def _flush_every_second(self) -> None:
        while True:
            await asyncio.sleep(COALESCE_S)
            if self.changed:
                changed, self.changed = sorted(self.changed), set()
                await self.send_json({"type": "panels", "panels": changed})

    async def live_events(self, message: dict) -> None:
        self._mark("events")
        await self.send_json({"type": "events", "count": message["count"],
                              "events": message["events"]})

    async def live_folded(self, message: dict) -> None:
        """The rollups took in new data: panels reading it (which the rollups answer for any
        range past a few minutes) are asked again."""
        for name in message["names"]:
            self._mark(name)
        if message["events"]:
            self._mark("events")

    async def live_points(self, message: dict) -> None:
        latest = message["latest"]
        if message.get("truncated"):
            self._mark(None)  # only a sample of the batch's names: any panel may be touched
        for name in latest:
            self._mark(name)
        await self.send_json({"type": "points", "count": message["count"], "latest": latest})

    async def live_alerts(self, message: dict) -> None:
        """Alert states of the project changed (the alerts app says so through the project's
        group): the page re-reads its firing periods."""
        await self.send_json({"type": "alerts"})

    async def live_anomalies(self, message: dict) -> None:
        """Anomaly models opened, extended or closed anomalies (the ml app says so through the
        project's group): the ML pages add them, compact and JSON-safe as they came."""
        await self.send_json({"type": "anomalies", "model": message["model"],
                              "anomalies": message["anomalies"]})


def _is_member(user, project_id: int) -> bool:
    from projects.models import Project

    project = Project.objects.filter(pk=project_id).first()
    return project is not None and role_of(user, project) is not None
