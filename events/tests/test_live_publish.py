"""A stored batch sends one compact message to the project's channel group."""

import asyncio

import httpx
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

pytestmark = pytest.mark.slow


def test_one_message_per_batch_with_the_newest_events(ingest, ingest_key):
    layer = get_channel_layer()
    events = [{"event": f"e{i}", "distinct_id": "d", "page_url": f"https://x.test/p{i}"}
              for i in range(30)]

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add(f"project-{ingest_key.project_id}", channel)
        async with httpx.AsyncClient(base_url=str(ingest.base_url)) as client:
            response = await client.post("/api/v1/events/batch", json={"events": events},
                                         headers={"X-API-Key": ingest_key.key})
            assert response.status_code == 202
        message = await asyncio.wait_for(layer.receive(channel), 5)
        try:
            extra = await asyncio.wait_for(layer.receive(channel), 0.5)
        except TimeoutError:
            extra = None
        await layer.group_discard(f"project-{ingest_key.project_id}", channel)
        return message, extra

    message, extra = async_to_sync(scenario)()
    assert extra is None
    assert message["type"] == "live.events"
    assert message["count"] == 30
    assert [e["event"] for e in message["events"]] == [f"e{i}" for i in range(10, 30)]
    assert message["events"][-1]["path"] == "/p29"
