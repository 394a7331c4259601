"""Shared fixtures (registered in the root conftest): a real web server (daphne, the production
ASGI app) on the test database — requests and WebSockets go over loopback exactly as an SDK's or
a browser's would — and the real write path (events.services) callable from synchronous tests."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

from conftest import child_env
from events.models import DATA_TABLES

BASE_DIR = Path(__file__).resolve().parents[1]
# Debian's nginx (.ci/run installs it), for the tests of deploy/*.conf; None when absent.
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                  else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_web(log: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """A web process (``analytics_site.serve``) on a free loopback port, once it answers."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "analytics_site.serve", "-b", "127.0.0.1", "-p", str(port),
         *extra, "analytics_site.asgi:application"],
        cwd=BASE_DIR, env=child_env(), stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


@pytest.fixture(scope="session")
def ingest_server(django_db_setup, django_db_blocker, tmp_path_factory):
    proc, url = start_web(tmp_path_factory.mktemp("daphne") / "daphne.log")
    yield url
    proc.terminate()
    proc.wait(30)


@pytest.fixture
def ingest(ingest_server, transactional_db):
    """An HTTP client for the server; the test's rows are committed (the server must see them)
    and the partitioned tables are emptied afterwards."""
    with httpx.Client(base_url=ingest_server, timeout=10) as client:
        yield client
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(DATA_TABLES))


class _Writer:
    """The real write path (events.services) from synchronous tests, on one event loop kept
    for the session (its connection pool lives as long as the loop)."""

    def __init__(self):
        import asyncio
        import threading

        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coroutine):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def points(self, project, items, received_at=None):
        from events import selectors, services

        result = self.run(services.record_points(key=selectors.ingest_key_of(project),
                                                 items=items, received_at=received_at))
        assert not result.rejected, result.rejected
        return result

    def events(self, project, items, received_at=None, user_agent=""):
        from events import selectors, services

        result = self.run(services.ingest_events(
            key=selectors.ingest_key_of(project), items=items, sent_at=None,
            client=services.Client(ip="127.0.0.1", user_agent=user_agent),
            received_at=received_at))
        assert not result.rejected, result.rejected
        return result

    def close(self):
        from events import db

        pool = self.run(db.pool())
        self.run(pool.close())
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="session")
def _writer(django_db_setup, django_db_blocker):
    writer = _Writer()
    yield writer
    writer.close()


@pytest.fixture
def store(_writer, transactional_db):
    """Write through events.services (validation, deltas, partitions) into committed tables;
    emptied afterwards."""
    yield _writer
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(DATA_TABLES))
