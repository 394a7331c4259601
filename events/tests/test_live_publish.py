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


def _events(*numbers: int) -> dict:
    return {"type": "live.events", "count": len(numbers),
            "events": [{"event": f"e{n}"} for n in numbers]}


def test_the_write_path_sends_nothing_to_an_empty_group_for_a_moment_then_a_message_a_batch():
    from events import live

    layer = get_channel_layer()
    project_id = 900_000_000 + (id(layer) % 1000)  # a group no other test joins
    group = live.group_name(project_id)
    batches = ((1,), (2, 3), tuple(range(4, 30)), (30,))

    async def scenario():
        await live.publish(project_id, _events(1))
        empty_after_one_batch = not live.wanted(project_id)
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            still_empty_at_once = not live.wanted(project_id)
            await asyncio.sleep(live.EMPTY_FOR_S + 0.1)
            wanted_again = live.wanted(project_id)
            for numbers in batches:
                await live.publish(project_id, _events(*numbers))
            received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in batches]
            try:
                extra = await asyncio.wait_for(layer.receive(channel), 0.5)
            except TimeoutError:
                extra = None
        finally:
            await layer.group_discard(group, channel)
        return empty_after_one_batch, still_empty_at_once, wanted_again, received, extra

    empty, still_empty, wanted_again, received, extra = async_to_sync(scenario)()
    assert empty and still_empty and wanted_again
    assert [(m["count"], [e["event"] for e in m["events"]]) for m in received] == [
        (len(numbers), [f"e{n}" for n in numbers]) for numbers in batches]
    assert extra is None
