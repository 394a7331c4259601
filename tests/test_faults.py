"""A stack that survives its parts: `make run`'s launcher on its own embedded PostgreSQL and Redis
(in a temporary folder, so they can be restarted freely), under a steady load of event batches
and with a live socket open, through three faults in a row — PostgreSQL restarted, Redis
restarted, the Celery worker killed with SIGKILL. Afterwards every process is up (the StatsD
server, which used to die at its next reload after a database restart, with the same pid),
ingestion and the live socket resumed within 5 s of each fault, and every acknowledged event is
stored exactly once.

The figures line (``-s``) is the README's "faults survived under load".
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
import websockets

pytestmark = pytest.mark.slow
BASE_DIR = Path(__file__).resolve().parents[1]
RESUME_WITHIN_S = 5.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Load:
    """Batches of 10 events every 50 ms, retried on 503 / 429 / network errors like an SDK."""

    url: str
    key: str
    acked: list = field(default_factory=list)
    answers: list = field(default_factory=list)  # (time, status)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stop.is_set():
                batch = [{"event": "load", "distinct_id": f"u{n}", "uuid": str(uuid.uuid4())}
                         for n in range(10)]
                while not self.stop.is_set():  # the same batch until it is acknowledged
                    try:
                        answer = client.post("/api/v1/events/batch", json={"events": batch},
                                             headers={"X-API-Key": self.key})
                        status = answer.status_code
                    except httpx.HTTPError:
                        status = 0
                    self.answers.append((time.monotonic(), status))
                    if status == 202:
                        self.acked.extend(e["uuid"] for e in batch)
                        break
                    time.sleep(0.2)
                time.sleep(0.05)

    def first_ok_after(self, moment: float) -> float | None:
        return next((t - moment for t, s in list(self.answers) if t >= moment and s == 202),
                    None)


@dataclass
class Live:
    """A live-page socket that reconnects like the dashboard page does (fresh ticket, short
    backoff) and records when project events arrive."""

    url: str
    project: int
    token: str
    arrivals: list = field(default_factory=list)
    reconnects: int = 0
    errors: list = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    async def _once(self, client: httpx.AsyncClient) -> None:
        ticket = (await client.post(f"/api/v1/projects/{self.project}/live-ticket/")).json()
        base = self.url.replace("http://", "ws://")
        async with websockets.connect(f"{base}/ws/projects/{self.project}/?ticket="
                                      f"{ticket['ticket']}", origin=self.url,
                                      open_timeout=5) as socket:
            while not self.stop.is_set():
                try:
                    message = json.loads(await asyncio.wait_for(socket.recv(), 1))
                except TimeoutError:
                    continue
                if message.get("type") == "events":
                    self.arrivals.append(time.monotonic())

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=5, headers={
                "Authorization": f"Bearer {self.token}"}) as client:
            while not self.stop.is_set():
                try:
                    await self._once(client)
                except Exception as exc:  # any failure: reconnect, as the page does
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                self.reconnects += 1
                await asyncio.sleep(0.3)

    def run(self) -> None:
        asyncio.run(self._run())

    def first_after(self, moment: float) -> float | None:
        return next((t - moment for t in list(self.arrivals) if t >= moment), None)


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


def _children(launcher: psutil.Process) -> dict[str, int]:
    """name → pid of the launcher's direct children (web1, web2, worker, beat, statsd)."""
    names = {}
    for child in launcher.children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            cmd = " ".join(child.cmdline())
        except psutil.Error:  # gone meanwhile
            continue
        name = ("worker" if " worker" in cmd else "beat" if " beat" in cmd
                else "statsd" if "statsd" in cmd else "web" if "analytics_site.serve" in cmd
                else cmd[:40])
        names[f"{name}{len([n for n in names if n.startswith(name)]) or ''}"] = child.pid
    return names


def test_the_stack_survives_restarts_of_its_servers_and_a_killed_worker(tmp_path):
    data_dir = tmp_path / "var"
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update({"DATA_DIR": str(data_dir), "PORT": str(port), "HOST": "127.0.0.1",
                "ADMIN_PASSWORD": "faults-test-pw", "SEED_DEMO": "false",
                "WEB_CONCURRENCY": "2", "CELERY_WORKER_CONCURRENCY": "1",
                "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "launcher.log"
    launcher = subprocess.Popen([sys.executable, "-m", "analytics_site.launcher"], cwd=BASE_DIR,
                                env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    load = live = None
    threads = []
    try:
        def ready():
            assert launcher.poll() is None, log.read_text()[-3000:]
            try:
                return httpx.get(f"{url}/readyz", timeout=3).status_code == 200
            except httpx.HTTPError:
                return False

        _wait(ready, 180, "ready")
        _wait(lambda: "| ready in" in log.read_text(), 30, "the launcher saw it ready")
        created = json.loads(subprocess.run(
            [sys.executable, "manage.py", "createproject", "Faults", "--owner", "ops"],
            cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True,
            timeout=120).stdout)
        load = Load(url, created["ingest_key"])
        live = Live(url, created["project_id"], created["api_token"])
        threads = [threading.Thread(target=load.run), threading.Thread(target=live.run)]
        for thread in threads:
            thread.start()
        try:
            _wait(lambda: live.first_after(time.monotonic() - 1) is not None, 30, "live events")
        except AssertionError:
            raise AssertionError((live.errors[-3:], len(live.arrivals), load.answers[-3:],
                                  live.reconnects)) from None
        parent = psutil.Process(launcher.pid)
        before = _children(parent)
        results = {}

        # 1. PostgreSQL restarted (fast shutdown: connections cut, as in a failover or upgrade).
        from pgserver._commands import pg_ctl

        pg_started = time.monotonic()
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=data_dir / "pg",
               user="pgserver" if os.geteuid() == 0 else None, timeout=60)
        back = time.monotonic()
        results["postgres"] = _resumed(load, live, back, "PostgreSQL restart")

        # 2. Redis restarted (broker, channel layer, cache, rate limits all at once).
        from analytics_site.embedded import EmbeddedServices

        embedded = EmbeddedServices(data_dir)
        import redis

        redis.Redis(unix_socket_path=str(embedded.redis_socket)).shutdown(nosave=False)
        time.sleep(1)
        embedded._ensure_redis()
        back = time.monotonic()
        results["redis"] = _resumed(load, live, back, "Redis restart")

        # 3. The worker killed; the launcher starts it again and /readyz sees it answer.
        os.kill(before["worker"], signal.SIGKILL)
        killed = time.monotonic()
        _wait(lambda: "worker" in _children(parent)
              and _children(parent)["worker"] != before["worker"], 30, "a new worker")
        _wait(ready, 60, "ready after the worker was killed")
        results["worker"] = _resumed(load, live, killed, "worker kill")
        results["worker"]["ready_again_s"] = round(time.monotonic() - killed, 1)

        # The StatsD server re-reads its listeners every 30 s: past one reload after the
        # database restart, it is still the same process.
        time.sleep(max(0.0, pg_started + 35 - time.monotonic()))
        after = _children(parent)
        assert sorted(after) == sorted(before), (before, after)
        assert after["statsd"] == before["statsd"], log.read_text()[-3000:]
        assert launcher.poll() is None
    finally:
        for worker in (load, live):
            if worker is not None:
                worker.stop.set()
        for thread in threads:
            thread.join(30)
        launcher.send_signal(signal.SIGINT)
        code = launcher.wait(90)
    assert code == 0, log.read_text()[-3000:]

    # Nothing acknowledged lost, nothing stored twice: read the embedded database directly.
    lost, duplicated, stored = _check_stored(data_dir, load.acked)
    print(f"\nfaults survived under load: {json.dumps(results)}; acknowledged events "
          f"{len(load.acked)}, stored {stored}, lost {lost}, duplicated {duplicated}; "
          f"live reconnects {live.reconnects}")
    assert (lost, duplicated) == (0, 0)


def _resumed(load: Load, live: Live, back: float, what: str) -> dict:
    ingest = _wait(lambda: load.first_ok_after(back), RESUME_WITHIN_S + 20, f"{what}: ingest")
    pushed = _wait(lambda: live.first_after(back), RESUME_WITHIN_S + 20, f"{what}: live")
    assert ingest <= RESUME_WITHIN_S, (what, "ingestion resumed after", ingest)
    assert pushed <= RESUME_WITHIN_S, (what, "live page resumed after", pushed)
    return {"ingest_resumed_s": round(ingest, 2), "live_resumed_s": round(pushed, 2)}


def _check_stored(data_dir: Path, acked: list[str]) -> tuple[int, int, int]:
    from analytics_site.embedded import EmbeddedServices

    embedded = EmbeddedServices(data_dir)
    services = embedded.acquire()
    try:
        with psycopg.connect(services.database_url.replace("postgres://", "postgresql://")) \
                as conn:
            rows = conn.execute("SELECT uuid::text, count(*) FROM events_event GROUP BY uuid"
                                ).fetchall()
    finally:
        embedded.release()
    counts = dict(rows)
    lost = sum(1 for event_id in acked if event_id not in counts)
    duplicated = sum(1 for n in counts.values() if n > 1)
    return lost, duplicated, len(counts)
