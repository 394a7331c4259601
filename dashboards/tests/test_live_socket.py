"""``WS /ws/projects/<id>/`` for API clients over the real server: a ticket from the REST API
opens it (and only for the project it was issued for, only for a minute); without one the
socket is closed with 4401; a ticket holder gets the project's new events live."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import websockets
from django.core import signing

from dashboards import services
from projects.models import IngestKey

pytestmark = pytest.mark.slow


def _ws(server: str, project_id: int, ticket: str | None) -> str:
    url = server.replace("http://", "ws://") + f"/ws/projects/{project_id}/"
    return url + (f"?ticket={ticket}" if ticket else "")


async def _closed_with(url: str, origin: str) -> int:
    async with websockets.connect(url, origin=origin) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 5)
    return closed.value.rcvd.code


def test_a_ticket_opens_the_live_stream_for_its_project_only(ingest, ingest_server,
                                                             two_projects, token_client):
    a, b = two_projects["a"], two_projects["b"]
    viewer = token_client(two_projects["a_viewer"])
    response = viewer.post(f"/api/v1/projects/{a.pk}/live-ticket/")
    assert response.status_code == 201
    ticket = response.json()["ticket"]
    assert response.json()["expires_in"] == 60
    assert response.json()["url"] == f"/ws/projects/{a.pk}/?ticket={ticket}"
    # A project the caller is not in: 404, as for every other lookup.
    assert viewer.post(f"/api/v1/projects/{b.pk}/live-ticket/").status_code == 404
    key = IngestKey.objects.get(project=a).key

    async def scenario():
        async with websockets.connect(_ws(ingest_server, a.pk, ticket),
                                      origin=ingest_server) as socket:
            assert json.loads(await socket.recv()) == {"type": "hello", "project": a.pk}
            async with httpx.AsyncClient() as client:
                sent = await client.post(
                    f"{ingest_server}/api/v1/events/batch", headers={"X-API-Key": key},
                    json={"events": [{"event": "ticketed", "distinct_id": "u1"}]})
            assert sent.status_code == 202
            message = json.loads(await asyncio.wait_for(socket.recv(), 5))
            assert (message["type"], message["count"]) == ("events", 1)
            assert message["events"][0]["event"] == "ticketed"
        # The same ticket for another project, a forged one, an expired one, none at all.
        forged = ticket[:-2] + ("AA" if not ticket.endswith("AA") else "BB")
        expired = signing.dumps({"u": two_projects["a_viewer"].pk, "p": a.pk},
                                salt=services.LIVE_TICKET_SALT, compress=True)
        codes = [await _closed_with(_ws(ingest_server, b.pk, ticket), ingest_server),
                 await _closed_with(_ws(ingest_server, a.pk, forged), ingest_server),
                 await _closed_with(_ws(ingest_server, a.pk, None), ingest_server)]
        assert codes == [4401, 4401, 4401]
        return expired

    # In a thread of its own: after a browser test, Playwright's event loop is in this one.
    with ThreadPoolExecutor(1) as pool:
        expired = pool.submit(asyncio.run, scenario()).result(60)
    assert services.user_of_live_ticket(expired, a.pk) == two_projects["a_viewer"]
    services.LIVE_TICKET_TTL_S, ttl = -1, services.LIVE_TICKET_TTL_S
    try:
        assert services.user_of_live_ticket(expired, a.pk) is None
    finally:
        services.LIVE_TICKET_TTL_S = ttl


def test_a_foreign_origin_cannot_open_the_live_socket(ingest, ingest_server, two_projects,
                                                      token_client):
    """Same-origin only, in development too (where ALLOWED_HOSTS is *)."""
    a = two_projects["a"]
    viewer = token_client(two_projects["a_viewer"])

    tickets = [viewer.post(f"/api/v1/projects/{a.pk}/live-ticket/").json()["ticket"]
               for _ in range(5)]

    async def attempt(origin: str | None):
        try:
            async with websockets.connect(_ws(ingest_server, a.pk, tickets.pop()),
                                          origin=origin) as socket:
                return json.loads(await asyncio.wait_for(socket.recv(), 5))["type"]
        except websockets.InvalidStatus as refused:
            return refused.response.status_code

    async def scenario():
        return [await attempt("http://evil.example"), await attempt("null"),
                await attempt(ingest_server.replace("127.0.0.1", "localhost")),
                await attempt(ingest_server), await attempt(None)]

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, scenario()).result(60) == [
            403, 403, 403, "hello", "hello"]
