"""WebSockets stay open while nothing happens: the ingest socket between a sender's batches and
a dashboard's live socket between events. (They closed with 1011 after 5 s of quiet when the
channel layer's Redis reads timed out at the same 5 s as its blocking pop.)"""

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import websockets

from projects.models import IngestKey

pytestmark = pytest.mark.slow
QUIET_S = float(os.environ.get("IDLE_SOCKET_QUIET_S", "60"))


def test_both_sockets_stay_open_through_a_quiet_minute(ingest, ingest_server, two_projects,
                                                       token_client):
    project = two_projects["a"]
    key = IngestKey.objects.get(project=project).key
    ticket = token_client(two_projects["a_viewer"]).post(
        f"/api/v1/projects/{project.pk}/live-ticket/").json()["ticket"]
    base = ingest_server.replace("http://", "ws://")

    async def scenario():
        async with websockets.connect(f"{base}/ws/ingest/?api_key={key}") as ingest_socket, \
                websockets.connect(f"{base}/ws/projects/{project.pk}/?ticket={ticket}",
                                   origin=ingest_server) as live:
            assert json.loads(await live.recv())["type"] == "hello"
            await asyncio.sleep(QUIET_S)  # nothing sent either way (pings are the library's)
            await ingest_socket.send(json.dumps({"id": 1, "type": "events", "events": [
                {"event": "after_quiet", "distinct_id": "u1"}]}))
            answer = json.loads(await asyncio.wait_for(ingest_socket.recv(), 10))
            pushed = json.loads(await asyncio.wait_for(live.recv(), 10))
        return answer, pushed

    with ThreadPoolExecutor(1) as pool:  # Playwright may own this thread's event loop
        answer, pushed = pool.submit(asyncio.run, scenario()).result(QUIET_S + 60)
    assert (answer["id"], answer["status"], answer["accepted"]) == (1, 202, 1)
    assert (pushed["type"], pushed["events"][0]["event"]) == ("events", "after_quiet")
