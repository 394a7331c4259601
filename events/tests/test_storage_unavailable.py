"""When PostgreSQL cannot take the write, ingestion answers 503 with Retry-After (the SDK
retries) — never a 202 for data that was not stored, never a 500."""

import socket
import subprocess
import sys
import time

import httpx
import pytest

from conftest import child_env
from tests.server_fixtures import BASE_DIR, _free_port

pytestmark = pytest.mark.slow


def test_ingest_answers_503_with_retry_after_when_the_database_is_down(tmp_path, db):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    port = _free_port()
    env = child_env(DATABASE_URL=f"postgres://postgres@127.0.0.1:{dead}/nothing",
                    INGEST_DB_TIMEOUT_S="1")
    log = tmp_path / "daphne.log"
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "analytics_site.asgi:application"], cwd=BASE_DIR, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.2)
        for path, body in (("/api/v1/events/batch", {"events": [{"event": "e",
                                                                  "distinct_id": "d"}]}),
                           ("/api/v1/metrics", {"name": "cpu", "value": 1})):
            response = httpx.post(url + path, json=body, headers={"X-API-Key": "pk_whatever"},
                                  timeout=15)
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "5"
            assert response.json() == {"error": "Storage is unavailable; retry later.",
                                       "code": "UNAVAILABLE", "details": {"retry_after": 5}}
    finally:
        proc.terminate()
        proc.wait(30)
