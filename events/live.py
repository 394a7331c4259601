"""Live publishing: the compact messages that open pages of a project receive over its
WebSocket group (new events and points, rollups folded, alert states changed). Best effort
everywhere: the data is stored already, and a lost message only delays a page, which polls as
well. The one place that names a project's group and sends to it."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

SAMPLE = 20  # the newest events, or metric names, a write-path message carries
# How long a process takes a project's group for empty once it found it so: the write path then
# sends nothing, and a page opened meanwhile misses the batches stored until it looks again.
EMPTY_FOR_S = 0.25


def group_name(project_id: int) -> str:
    return f"project-{project_id}"


class _Groups:
    """What a web process knows of its projects' groups, per event loop. A group found empty is
    left alone for EMPTY_FOR_S: with no page open, a busy project's batches cost no Redis
    command (group_send asks the group's members each time, two round trips: a fifth of a
    1-event request's CPU here), only a member count four times a second. One found with
    members is not asked again for as long."""

    def __init__(self) -> None:
        self.empty_until: dict[int, float] = {}
        self.members_until: dict[int, float] = {}

    def wanted(self, project_id: int) -> bool:
        until = self.empty_until.get(project_id)
        if until is None:
            return True
        if until > time.monotonic():
            return False
        del self.empty_until[project_id]
        return True

    async def send(self, layer, project_id: int, message: dict) -> None:
        group = group_name(project_id)
        if self.members_until.get(project_id, 0.0) <= time.monotonic():
            if not await _has_members(layer, group):
                self.empty_until[project_id] = time.monotonic() + EMPTY_FOR_S
                return
            self.members_until[project_id] = time.monotonic() + EMPTY_FOR_S
        await layer.group_send(group, message)


_known_groups: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _groups() -> _Groups:
    loop = asyncio.get_running_loop()
    found = _known_groups.get(loop)
    if found is None:
        found = _known_groups[loop] = _Groups()
    return found


async def _has_members(layer, group: str) -> bool:
    """Whether anyone is in the group: channels_redis keeps it as a sorted set of channels
    scored by when they joined, and counts those older than its group expiry as gone (a web
    process killed without leaving). Another layer: taken as yes."""
    if not hasattr(layer, "_group_key"):
        return True
    connection = layer.connection(layer.consistent_hash(group))
    joined_after = int(time.time()) - layer.group_expiry
    return bool(await connection.zcount(layer._group_key(group), f"({joined_after}", "+inf"))


def wanted(project_id: int) -> bool:
    """From the write path, before it builds a message: False while the project's group is
    known to be empty (nobody would receive it)."""
    return get_channel_layer() is not None and _groups().wanted(project_id)


async def publish(project_id: int, message: dict) -> None:
    """From async code (the write path): one message with plain JSON-safe values."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await _groups().send(layer, project_id, message)
    except Exception:
        logger.warning("live publish failed for project %s", project_id, exc_info=True)


def publish_sync(project_id: int, message: dict) -> None:
    """From sync code (the rollup fold, alert evaluation)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(project_id), message)
    except Exception:
        logger.warning("live publish failed for project %s", project_id, exc_info=True)
