"""``WS /ws/projects/<id>/``: live updates of one project for its pages.

Authenticated by the session (the page's own cookie; Channels' AuthMiddlewareStack) and scoped
like the pages: a non-member is refused (close 4404), as an anonymous visitor is (4401). A member
joins the project's group, where the write path publishes one compact message per stored batch,
and gets them as JSON: ``{"type": "events", "count": N, "events": [...]}`` (the newest of the
batch) and ``{"type": "points", "count": N, "latest": {...}}``.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from events.services import group_name
from projects.selectors import role_of


class ProjectConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        if not await database_sync_to_async(_is_member)(user, project_id):
            await self.close(code=4404)
            return
        self.group = group_name(project_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "project": project_id})

    async def disconnect(self, code) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def live_events(self, message: dict) -> None:
        await self.send_json({"type": "events", "count": message["count"],
                              "events": message["events"]})

    async def live_points(self, message: dict) -> None:
        await self.send_json({"type": "points", "count": message["count"],
                              "latest": message["latest"]})


def _is_member(user, project_id: int) -> bool:
    from projects.models import Project

    project = Project.objects.filter(pk=project_id).first()
    return project is not None and role_of(user, project) is not None
