"""Acknowledged means kept: kill the web process (SIGKILL) in the middle of a load, start a new
one, let the client retry what was not acknowledged, and find every acknowledged event stored
exactly once."""

import signal
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest
from django.db import connection

from conftest import child_env
from tests.server_fixtures import BASE_DIR, _free_port

pytestmark = pytest.mark.slow


def _start(port: int, log) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "analytics_site.asgi:application"], cwd=BASE_DIR, env=child_env(),
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except httpx.HTTPError:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)


def test_killing_the_web_process_mid_load_loses_and_doubles_nothing(ingest, ingest_key,
                                                                     tmp_path):
    port = _free_port()
    log = (tmp_path / "daphne.log").open("w")
    servers = [_start(port, log)]

    def kill_and_restart():
        # Killed from another thread, so the kill lands while a request is in flight.
        time.sleep(1.5)
        servers[0].send_signal(signal.SIGKILL)
        servers[0].wait()
        servers.append(_start(port, log))

    killer = threading.Thread(target=kill_and_restart)
    killer.start()
    acknowledged: set[str] = set()
    pending: list[list[dict]] = []
    sent = failed = 0
    url = f"http://127.0.0.1:{port}/api/v1/events/batch"
    finish_at = time.monotonic() + 5.0
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < finish_at or pending:
            batch = pending.pop(0) if pending else [
                {"event": "load", "distinct_id": "d", "uuid": str(uuid.uuid4())}
                for _ in range(50)]
            try:
                response = client.post(url, json={"events": batch},
                                       headers={"X-API-Key": ingest_key.key})
            except httpx.HTTPError:
                failed += 1
                pending.append(batch)  # the SDK's retry: same uuids
                time.sleep(0.05)
                continue
            sent += 1
            if response.status_code == 202 and response.json()["accepted"] == len(batch):
                acknowledged.update(e["uuid"] for e in batch)
            else:
                pending.append(batch)
    killer.join()
    servers[-1].terminate()
    servers[-1].wait(30)

    assert failed >= 1  # the kill did interrupt the load
    assert sent > 20 and len(acknowledged) > 1000
    with connection.cursor() as cursor:
        cursor.execute("SELECT uuid::text, count(*) FROM events_event WHERE project_id = %s "
                       "GROUP BY uuid", [ingest_key.project_id])
        stored = dict(cursor.fetchall())
    assert acknowledged - set(stored) == set()  # nothing acknowledged is missing
    assert [u for u, n in stored.items() if n > 1] == []  # nothing is stored twice
