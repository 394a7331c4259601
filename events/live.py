"""Live publishing: the compact messages that open pages of a project receive over its
WebSocket group (new events and points, rollups folded, alert states changed). Best effort
everywhere: the data is stored already, and a lost message only delays a page, which polls as
well. The one place that names a project's group and sends to it."""

from __future__ import annotations

import logging
import time

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
    """What this web process last learned of its projects' groups: for each, until when the
    answer holds and whether the group had members. A group found empty is left alone for
    EMPTY_FOR_S: with no page open, a busy project's batches cost no Redis command (group_send
    asks the group's members each time, two round trips: a fifth of a 1-event request's CPU
    here), only a member count four times a second. One found with members is not counted
    again for as long. Plain facts about Redis, so one per process, whatever the event loop."""

    def __init__(self) -> None:
        self.known: dict[int, tuple[float, bool]] = {}  # project: (valid until, has members)

    def wanted(self, project_id: int) -> bool:
        until, has_members = self.known.get(project_id, (0.0, True))
        return has_members or until <= time.monotonic()

    async def send(self, layer, project_id: int, message: dict) -> None:
        group = group_name(project_id)
        until, has_members = self.known.get(project_id, (0.0, True))
        if until <= time.monotonic():
            has_members = await _has_members(layer, group)
            self.known[project_id] = (time.monotonic() + EMPTY_FOR_S, has_members)
        if has_members:
            await layer.group_send(group, message)


_groups = _Groups()


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
    return get_channel_layer() is not None and _groups.wanted(project_id)


async def publish(project_id: int, message: dict) -> None:
    """From async code (the write path): one message with plain JSON-safe values."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await _groups.send(layer, project_id, message)
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
