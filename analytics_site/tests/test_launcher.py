"""`make run`'s launcher, started as a user would: embedded servers, readiness, a clean stop
that leaves no process behind, data reused on the next start; and the external-servers mode."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from analytics_site.embedded import EmbeddedServices
from analytics_site.settings import redis_url_with_db

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
BASE_DIR = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(data_dir: Path, port: int, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update({"DATA_DIR": str(data_dir), "HOST": "127.0.0.1", "PORT": str(port),
                "ADMIN_USERNAME": "operator", "ADMIN_PASSWORD": "launcher-test-pw",
                "CELERY_WORKER_CONCURRENCY": "1", "WEB_CONCURRENCY": "2",
                "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


class Run:
    def __init__(self, env: dict, log: Path):
        self.log = log
        self.port = env["PORT"]
        self.proc = subprocess.Popen([sys.executable, "-m", "analytics_site.launcher"],
                                     cwd=BASE_DIR, env=env, stdout=log.open("w"),
                                     stderr=subprocess.STDOUT)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()[-5000:]
            status, body = _get(self.url("/readyz"))
            if status == 200:
                return json.loads(body)
            time.sleep(0.5)
        raise AssertionError(f"not ready in {timeout} s:\n{self.output()[-5000:]}")

    def processes(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(90)

    def output(self) -> str:
        return self.log.read_text()


def _unpadded(output: str) -> str:
    """The launcher's output with the name column's padding taken out ("setup | …")."""
    return re.sub(r"(?m)^(\S+) +\| ", r"\1 | ", output)


def _workers(run) -> dict:
    """The launcher's Celery workers by node name (worker, worker-reports, …)."""
    found = {}
    for proc in run.processes():
        argv = proc.cmdline()
        if "worker" in argv and proc.parent().pid == run.proc.pid:
            found[argv[argv.index("-n") + 1].split("@")[0]] = proc
    return found


def _project_id(run, token: str) -> int:
    request = urllib.request.Request(run.url("/api/v1/projects/"),
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())[0]["id"]


def _pid(path: Path) -> int:
    return int(path.read_text().split()[0])


def _gone(pids: list[int], timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p)
                 and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return []
        time.sleep(0.2)
    return alive


def test_embedded_mode_starts_serves_stops_cleanly_and_reuses_its_data(tmp_path):
    data_dir = tmp_path / "var"
    port = _free_port()
    run = Run(_env(data_dir, port), tmp_path / "run1.log")
    try:
        ready = run.wait_ready()
        assert all(check["ok"] for check in ready["checks"].values())
        status, html = _get(run.url("/login/"))
        assert status == 200 and "Log in" in html
        # A management command run beside it reaches the same embedded servers, and its exit
        # does not stop them.
        created = subprocess.run([sys.executable, "manage.py", "createproject", "Side", "--owner",
                                  "ops"], cwd=BASE_DIR, env=_env(data_dir, port),
                                 capture_output=True, text=True, timeout=120, check=True)
        token = json.loads(created.stdout)["api_token"]
        request = urllib.request.Request(run.url("/api/v1/projects/"),
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert [p["name"] for p in json.loads(response.read())] == ["Side"]
        assert _get(run.url("/readyz"))[0] == 200
        children = [p.pid for p in run.processes()]
        servers = [_pid(data_dir / "pg" / "postmaster.pid"), _pid(data_dir / "redis" / "redis.pid")]
        assert len(children) >= 4  # two daphne, worker (+ its pool), beat
    finally:
        code = run.stop()
    output = run.output()
    assert code == 0, output
    for name in ("web1", "web2", "worker", "beat", "statsd"):
        assert f"\n{name} | " in _unpadded(output), name
    assert "Admin login: operator (password from ADMIN_PASSWORD)" in output
    assert "Demo project created" in output
    assert _gone(children + servers) == []
    assert _get(run.url("/healthz"))[0] == 0  # nothing listens any more

    # Started again on the same data, with REPLICA=1: a streaming replica of the embedded
    # PostgreSQL beside it, which answers the read path; it stops with the rest.
    again = Run(_env(data_dir, port, REPLICA="1"), tmp_path / "run2.log")
    replica = EmbeddedServices(data_dir).replica  # where REPLICA=1 puts it
    try:
        ready = again.wait_ready()
        [state] = ready["replicas"]
        assert state["up"] is True and state["lag_s"] is not None and state["lag_s"] < 5, state
        assert state["name"] == f"{replica.socket_dir}:5432/analytics"
        request = urllib.request.Request(again.url("/api/v1/query"), data=json.dumps({
            "project": _project_id(again, token), "query": "count:events{}",
            "start": "now-1h", "end": "now"}).encode(), headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["meta"]["read_from"] == [state["name"]]
        with psycopg.connect(host=str(replica.socket_dir), user="postgres",
                             dbname="analytics") as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        replica_pid = _pid(replica.data / "postmaster.pid")
    finally:
        assert again.stop() == 0
    assert "Demo project exists" in again.output()
    assert _gone([replica_pid]) == []


def test_with_database_and_redis_urls_it_starts_no_embedded_server(tmp_path):
    name = f"launcher_{uuid.uuid4().hex[:8]}"
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["dbname"] = "postgres"
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database_url = urlsplit(settings.DATABASE_URL)._replace(path=f"/{name}").geturl()
    data_dir = tmp_path / "var"
    run = Run(_env(data_dir, _free_port(), DATABASE_URL=database_url,
                   REDIS_URL=redis_url_with_db(settings.REDIS_URL, 14)), tmp_path / "run.log")
    try:
        run.wait_ready()
        assert not (data_dir / "pg").exists()
        assert not (data_dir / "redis").exists()
        assert "using DATABASE_URL and REDIS_URL" in run.output()
    finally:
        assert run.stop() == 0
        with psycopg.connect(**params, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BLOCK = '''
import importlib.abc, sys

class _Missing(importlib.abc.MetaPathFinder):
    """As on a machine where requirements.txt did not install {blocked}."""
    def find_spec(self, name, path=None, target=None):
        if name == "{blocked}" or name.startswith("{blocked}."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _Missing())
'''


@pytest.fixture
def external_env(tmp_path):
    """Environment for a launcher on the machine's servers, in a database of its own (created
    here, dropped after): faster than the embedded servers, and nothing it writes reaches the
    suite's database."""
    name = f"launcher_{uuid.uuid4().hex[:8]}"
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["dbname"] = "postgres"
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database_url = urlsplit(settings.DATABASE_URL)._replace(path=f"/{name}").geturl()

    def make(**extra) -> dict:
        env = _env(tmp_path / "var", _free_port(), DATABASE_URL=database_url,
                   REDIS_URL=redis_url_with_db(settings.REDIS_URL, 14), SEED_DEMO="false",
                   WEB_CONCURRENCY="1")
        env.update(extra)
        return env

    yield make
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize(("blocked", "said"), [
    # Needed by the admin, so by the launcher's own set-up (migrations) already.
    ("httpx", r"setup \| start-up failed: ModuleNotFoundError: No module named 'httpx'"),
    # Needed only by the workers (whichever of them dies first is named).
    ("celery.apps.worker", r"setup \| worker(-\w+)? died during start-up \(exit code 1\): "
                           r"ModuleNotFoundError: No module named 'celery.apps.worker'"),
])
def test_a_missing_package_is_named_with_its_error_and_nothing_is_left(tmp_path, external_env,
                                                                       blocked, said):
    """The newcomer's failure: a runtime package missing. The launcher names the step or the
    child and the line that says why, stops the rest and exits non-zero, instead of leaving a
    half stack."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK.format(blocked=blocked))
    run = Run(external_env(PYTHONPATH=str(site)), tmp_path / "run.log")
    try:
        code = run.proc.wait(120)
    finally:
        if run.proc.poll() is None:
            run.stop()
    output = run.output()
    assert code != 0, output
    assert re.search(said, _unpadded(output)), output[-3000:]
    assert "\nsetup | stopped" in _unpadded(output), output[-2000:]
    assert _get(run.url("/healthz"))[0] == 0


def test_a_child_killed_after_start_up_is_restarted_and_the_stack_stays_up(tmp_path,
                                                                           external_env):
    run = Run(external_env(), tmp_path / "run.log")
    try:
        run.wait_ready()
        deadline = time.monotonic() + 30
        while "setup | ready in" not in _unpadded(run.output()):  # the launcher saw it too
            assert time.monotonic() < deadline, run.output()[-3000:]
            time.sleep(0.2)
        # The worker of the default group (alerts, ingestion); the others stay as they are.
        workers = _workers(run)
        worker = workers["worker"]
        worker.kill()
        deadline = time.monotonic() + 60
        while "worker exited with code -9" not in _unpadded(run.output()):
            assert time.monotonic() < deadline, run.output()[-3000:]
            time.sleep(0.2)
        # Still ready (/readyz checks that a worker replies to a ping: the other two do), and
        # the killed one is started again.
        ready = run.wait_ready()
        assert ready["checks"]["worker"]["ok"]
        deadline = time.monotonic() + 30
        while "worker" not in (again := _workers(run)):
            assert time.monotonic() < deadline, run.output()[-3000:]
            time.sleep(0.2)
        assert sorted(again) == ["worker", "worker-reports", "worker-training"]
        assert again["worker"].pid != worker.pid
        assert {n: p.pid for n, p in again.items() if n != "worker"} == {
            n: p.pid for n, p in workers.items() if n != "worker"}
        assert run.proc.poll() is None
    finally:
        code = run.stop()
    output = run.output()
    assert code == 0, output[-3000:]
    restarted = [line for line in _unpadded(output).splitlines()
                 if "setup | worker exited with code -9" in line]
    assert "restarting it in 1 s (restart 1)" in restarted[0], restarted


def test_the_last_error_line_is_found_in_plain_tracebacks_and_json_logs():
    from analytics_site.launcher import last_error_line

    traceback_lines = ["Traceback (most recent call last):", '  File "x.py", line 1',
                       "    import httpx", "ModuleNotFoundError: No module named 'httpx'",
                       "", "worker: Warm shutdown"]
    assert last_error_line(traceback_lines) == "ModuleNotFoundError: No module named 'httpx'"
    json_lines = [
        json.dumps({"level": "INFO", "message": "listening"}),
        json.dumps({"level": "ERROR", "message": "statsd failed",
                    "exc": "Traceback...\npsycopg.OperationalError: the connection is lost"}),
        json.dumps({"level": "INFO", "message": "bye"}),
    ]
    assert last_error_line(json_lines) == "psycopg.OperationalError: the connection is lost"
    assert last_error_line(["just a line"]) == "just a line"
    assert last_error_line([]) == "(no output)"
