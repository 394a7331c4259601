"""Live publishing: the compact messages that open pages of a project receive over its
WebSocket group (new events and points, rollups folded, alert states changed). Best effort
everywhere: the data is stored already, and a lost message only delays a page, which polls as
well. The one place that names a project's group and sends to it."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def group_name(project_id: int) -> str:
    return f"project-{project_id}"


async def publish(project_id: int, message: dict) -> None:
    """From async code (the write path): one message with plain JSON-safe values."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group_name(project_id), message)
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
