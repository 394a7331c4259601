"""A real web server (daphne, the production ASGI app) on the test database, for the ingestion
tests: requests go over loopback HTTP exactly as an SDK's would."""

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

BASE_DIR = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ingest_server(django_db_setup, django_db_blocker, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "analytics_site.asgi:application"],
        cwd=BASE_DIR, env=child_env(), stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
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


@pytest.fixture
def ingest_key(make_project):
    from projects.models import IngestKey

    project = make_project("Ingest")
    return IngestKey.objects.get(project=project)
