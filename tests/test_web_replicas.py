"""Several web processes serve one platform: an event ingested through one reaches a live page
connected to another (the fan-out goes through channels-redis), and `deploy/nginx.conf` in front
of two of them passes WebSockets on, refuses oversized bodies in the platform's error shape,
keeps clients from choosing their own address, and carries on when one process is down."""

import asyncio
import json
import re
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import websockets
from django.db import connection

from projects.models import IngestKey
from tests.server_fixtures import NGINX, _free_port, start_web

pytestmark = pytest.mark.slow
BASE_DIR = Path(__file__).resolve().parents[1]


def _live_then_ingest(live_url: str, ingest_url: str, project, key: str, ticket: str,
                      events: list[dict], **headers) -> tuple[dict, list[dict]]:
    """Open the project's live socket on ``live_url``, send ``events`` through ``ingest_url``;
    the batch's answer and the events the socket was sent."""
    base = live_url.replace("http://", "ws://")

    async def scenario():
        async with websockets.connect(f"{base}/ws/projects/{project.pk}/?ticket={ticket}",
                                      origin=live_url) as live:
            assert json.loads(await asyncio.wait_for(live.recv(), 10))["type"] == "hello"
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.post(f"{ingest_url}/api/v1/events/batch",
                                           json={"events": events},
                                           headers={"X-API-Key": key, **headers})
            pushed = []
            while len(pushed) < len(events):
                message = json.loads(await asyncio.wait_for(live.recv(), 10))
                if message["type"] == "events":
                    pushed += message["events"]
        return {"status": answer.status_code, **answer.json()}, pushed

    with ThreadPoolExecutor(1) as pool:  # Playwright may own this thread's event loop
        return pool.submit(asyncio.run, scenario()).result(60)


def _ticket(client, project) -> str:
    answer = client.post(f"/api/v1/projects/{project.pk}/live-ticket/")
    assert answer.status_code == 201, answer.content
    return answer.json()["ticket"]


@pytest.fixture
def second_web(ingest_server, tmp_path):
    proc, url = start_web(tmp_path / "second.log")
    yield url
    proc.terminate()
    proc.wait(30)


def test_an_event_ingested_through_one_web_process_reaches_a_page_on_another(
        ingest, ingest_server, second_web, two_projects, token_client):
    project = two_projects["a"]
    key = IngestKey.objects.get(project=project).key
    ticket = _ticket(token_client(two_projects["a_viewer"]), project)
    answer, pushed = _live_then_ingest(second_web, ingest_server, project, key, ticket, [
        {"event": "signup", "distinct_id": "u1"}, {"event": "upgrade", "distinct_id": "u2"}])
    assert (answer["status"], answer["accepted"]) == (202, 2)
    assert sorted((e["event"], e["distinct_id"]) for e in pushed) == [
        ("signup", "u1"), ("upgrade", "u2")]




def _nginx(tmp_path: Path, upstreams: list[str]) -> tuple[subprocess.Popen, str]:
    """deploy/nginx.conf as shipped (and the analytics-proxy.conf it includes), with the test's
    ports and a prefix of its own."""
    port = _free_port()
    conf = (BASE_DIR / "deploy" / "nginx.conf").read_text()
    servers = "".join(f"        server {u.removeprefix('http://')} max_fails=1 "
                      "fail_timeout=5s;\n" for u in upstreams)
    conf, count = re.subn(r"(?m)^        server 127\.0\.0\.1:800\d .*\n", "", conf)
    assert count == 2
    conf = conf.replace("    upstream analytics_web {\n",
                        "    upstream analytics_web {\n" + servers)
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port};")
    temp = "".join(f"    {name}_temp_path {tmp_path}/{name};\n"
                   for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = conf.replace("http {\n", "http {\n" + temp + f"    access_log {tmp_path}/access.log;\n")
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    shutil.copy(BASE_DIR / "deploy" / "analytics-proxy.conf", tmp_path)  # included beside it
    proc = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(path), "-e", "stderr",
                             "-g", f"daemon off; pid {tmp_path}/nginx.pid; user root;"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        assert proc.poll() is None, proc.stdout.read().decode()
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx; "
                                          ".ci/run installs it)")
def test_nginx_config_in_front_of_two_web_processes(ingest, two_projects, token_client,
                                                    tmp_path):
    project = two_projects["a"]
    key = IngestKey.objects.get(project=project).key
    webs = [start_web(tmp_path / f"web{n}.log", "--proxy-headers") for n in (1, 2)]
    proxy, url = _nginx(tmp_path, [u for _, u in webs])
    try:
        # A live page through the proxy (the WebSocket upgrade passed on), events through it.
        # The client's own X-Forwarded-For is replaced by its real address (loopback: no
        # country), where a web process trusting the header directly would take it (GB).
        ticket = _ticket(token_client(two_projects["a_viewer"]), project)
        answer, pushed = _live_then_ingest(url, url, project, key, ticket, [
            {"event": "via_proxy", "distinct_id": "p1"}], **{"X-Forwarded-For": "81.2.69.142"})
        assert (answer["status"], answer["accepted"]) == (202, 1)
        assert [(e["event"], e["distinct_id"]) for e in pushed] == [("via_proxy", "p1")]
        direct = httpx.post(f"{webs[0][1]}/api/v1/events/batch", headers={
            "X-API-Key": key, "X-Forwarded-For": "81.2.69.142"}, json={"events": [
                {"event": "direct", "distinct_id": "p2"}]})
        assert direct.status_code == 202, direct.text
        with connection.cursor() as cursor:
            cursor.execute("SELECT event, country FROM events_event WHERE project_id = %s "
                           "ORDER BY event", [project.pk])
            assert cursor.fetchall() == [("direct", "GB"), ("via_proxy", None)]

        # Round robin over both processes, with nothing sticky: each serves some of 20 batches.
        with httpx.Client(base_url=url, timeout=10, headers={"X-API-Key": key}) as client:
            for n in range(20):
                answer = client.post("/api/v1/events/batch", json={"events": [
                    {"event": "spread", "distinct_id": f"s{n}"}]})
                assert answer.status_code == 202, answer.text
            served = [(tmp_path / f"web{n}.log").read_text().count(
                '"POST /api/v1/events/batch" 202') for n in (1, 2)]
            assert sum(served) >= 20 and min(served) >= 5, (
                served, (tmp_path / "web1.log").read_text()[-2000:])

            # Over the limit: refused by the proxy, in the platform's error shape.
            big = client.post("/api/v1/events/batch", content=b"[" + b" " * (1024 * 1024 + 10)
                              + b"]", headers={"Content-Type": "application/json"})
            assert big.status_code == 413
            assert big.json() == {"error": "Request body is larger than 1048576 bytes.",
                                  "code": "PAYLOAD_TOO_LARGE",
                                  "details": {"max_bytes": 1048576}}

            # One process down: every batch still lands on the other.
            webs[1][0].send_signal(signal.SIGKILL)
            webs[1][0].wait(10)
            for n in range(10):
                answer = client.post("/api/v1/events/batch", json={"events": [
                    {"event": "one_left", "distinct_id": f"o{n}"}]})
                assert answer.status_code == 202, answer.text
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM events_event WHERE project_id = %s AND "
                           "event = 'one_left'", [project.pk])
            assert cursor.fetchone() == (10,)
    finally:
        proxy.send_signal(signal.SIGQUIT)
        proxy.wait(10)
        for proc, _ in webs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
