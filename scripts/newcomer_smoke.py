"""The newcomer's path, as CI walks it after ``make test``: a fresh ``git clone`` of this checkout,
``make run`` there exactly as the README says — its own ``.venv`` from ``requirements.txt`` only,
no ``DATABASE_URL`` / ``REDIS_URL`` (so the embedded PostgreSQL and Redis), a free port — then:

1. ``/readyz`` answers 200 (bounded by ``READY_TIMEOUT_S``);
2. ``manage.py createproject`` beside it; the project's live socket opened with a ticket; events
   and metric points through the ingest API, the events pushed on the live socket, both read
   back through ``/api/v1/query``; the project's overview page, logged in as the admin whose
   password ``make run`` generated;
3. Ctrl-C (SIGINT to the process group, as a terminal sends it), and every process of that run —
   web, worker, beat, statsd, the embedded servers: anything whose program, command line or
   working folder lies in the clone — is gone within the launcher's ``STOP_TIMEOUT_S``;
4. ``scripts/check_imports.py`` with the clone's interpreter: every module of every app imports
   with the runtime requirements alone.

    .venv/bin/python scripts/newcomer_smoke.py

It prints the time to ready and the time to stop; its last line is JSON. If the stack does not
come up, it prints the child that died and its first error line, then the end of the output.
"""

from __future__ import annotations

import collections
import contextlib
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
from analytics_site.launcher import STOP_TIMEOUT_S  # noqa: E402

READY_TIMEOUT_S = 900  # a new .venv (about a minute here), initdb, migrations, the demo week
READ_BACK_TIMEOUT_S = 60


class SmokeFailed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """A tiny client with a cookie jar (stdlib only: the smoke needs nothing of the dev set)."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: dict | None = None, timeout: float = 10) -> tuple[int, bytes]:
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with self.opener.open(req, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, method: str, path: str, payload: dict, headers: dict) -> tuple[int, dict]:
        status, body = self.request(method, path, body=json.dumps(payload).encode(),
                                    headers={"Content-Type": "application/json", **headers})
        try:
            return status, json.loads(body)
        except ValueError:
            return status, {"raw": body[:500].decode(errors="replace")}

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")


def processes_of(clone: Path) -> list[psutil.Process]:
    """Every live process whose program, command line or working folder lies in the clone."""
    root = str(clone)
    found = []
    for proc in psutil.process_iter(["pid", "exe", "cmdline", "cwd", "status"]):
        info = proc.info
        if info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
            continue
        places = [info["exe"] or "", info["cwd"] or "", " ".join(info["cmdline"] or [])]
        if any(root in place for place in places):
            found.append(proc)
    return found


def describe(procs: list[psutil.Process]) -> str:
    """``postgres x11, celery x4, daphne x2, ...``: the program each process runs."""
    counts: collections.Counter = collections.Counter()
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            cmd = proc.cmdline() or [proc.name()]
            program = Path(cmd[0]).name
            if program.startswith("python") and len(cmd) > 1:
                program = cmd[2] if cmd[1] == "-m" and len(cmd) > 2 else Path(cmd[1]).name
                program = {"manage.py": " ".join(cmd[1:3])}.get(program, program)
            counts[program.split(":")[0]] += 1
    return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in counts.most_common())


def first_error(output: str) -> str:
    match = re.search(r"^setup\s*\| (\S+ died during start-up .*)$", output, re.MULTILINE)
    if match:
        return match.group(1)
    match = re.search(r"^setup\s*\| (start-up failed: .*)$", output, re.MULTILINE)
    if match:
        return match.group(1)
    errors = [line for line in output.splitlines()
              if re.search(r"(Error|Exception|error:|No such file)", line)]
    return errors[0] if errors else "(no error line; see the output above)"


def wait_ready(run: subprocess.Popen, http_client: Http, log: Path, started: float) -> dict:
    install_s = None
    while True:
        elapsed = time.monotonic() - started
        if install_s is None and "setup" in log.read_text(errors="replace"):
            install_s = elapsed
        if run.poll() is not None:
            raise SmokeFailed(f"make run exited with code {run.returncode} before it was ready")
        if elapsed > READY_TIMEOUT_S:
            raise SmokeFailed(f"not ready within {READY_TIMEOUT_S} s")
        with contextlib.suppress(OSError):
            status, _ = http_client.request("GET", "/readyz", timeout=3)
            if status == 200:
                return {"ready_s": round(elapsed, 1),
                        "install_s": round(install_s or elapsed, 1)}
        time.sleep(0.5)


def poll(what: str, check, timeout: float = READ_BACK_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ok, last = check()
        if ok:
            return last
        time.sleep(0.5)
    raise SmokeFailed(f"{what}: not as expected within {timeout} s; last answer: {last}")


def exercise(clone: Path, env: dict, client: Http) -> dict:
    created = subprocess.run(
        [str(clone / ".venv/bin/python"), "manage.py", "createproject", "Newcomer smoke",
         "--owner", "admin"], cwd=clone, env=env, capture_output=True, text=True,
        timeout=120)
    if created.returncode != 0:
        raise SmokeFailed(f"createproject failed: {created.stderr.strip()[-2000:]}")
    project = json.loads(created.stdout.strip().splitlines()[-1])
    key = {"X-API-Key": project["ingest_key"]}
    token = {"Authorization": f"Bearer {project['api_token']}"}

    status, answer = client.json("POST", f"/api/v1/projects/{project['project_id']}/live-ticket/",
                                 {}, token)
    if status != 201:
        raise SmokeFailed(f"live ticket: {status} {answer}")
    from websockets.sync.client import connect  # the dev set runs this script

    with connect(client.base.replace("http://", "ws://") + answer["url"], origin=client.base,
                 open_timeout=10) as live:
        hello = json.loads(live.recv(timeout=10))
        if hello.get("type") != "hello":
            raise SmokeFailed(f"live socket: {hello}")
        now = time.time()
        events = [{"event": "smoke_signup", "distinct_id": f"user-{n}", "session_id": f"s-{n}",
                   "properties": {"plan": "pro"}, "timestamp": now - n} for n in range(3)]
        status, answer = client.json("POST", "/api/v1/events/batch", {"events": events}, key)
        if status != 202 or answer.get("accepted") != 3:
            raise SmokeFailed(f"events: {status} {answer}")
        pushed = json.loads(live.recv(timeout=10))
    if pushed.get("type") != "events" or pushed.get("count") != 3:
        raise SmokeFailed(f"live socket: {pushed}")
    points = [{"name": "smoke.latency_ms", "value": value, "tags": {"host": "web-1"},
               "timestamp": now - n} for n, value in enumerate([10.0, 20.0, 30.0, 40.0])]
    status, answer = client.json("POST", "/api/v1/metrics", {"points": points}, key)
    if status != 202 or answer.get("accepted") != 4:
        raise SmokeFailed(f"metrics: {status} {answer}")

    def read_back(query: str, expected: float) -> float:
        def check():
            status, answer = client.json(
                "POST", "/api/v1/query", {"project": project["project_id"], "query": query,
                                          "start": "now-1h", "end": "now", "step": "1h"},
                token)
            if 400 <= status < 500:
                raise SmokeFailed(f"{query}: {status} {answer}")
            if status != 200:
                return False, (status, answer)
            got = sum(v for series in answer["data"] for _, v in series["points"]
                      if v is not None)
            return got == expected, got
        return poll(f"{query} read back", check)

    events_seen = read_back("count:events{event:smoke_signup}", 3)
    points_seen = read_back("sum:smoke.latency_ms{host:web-1}", 100)

    # The overview page, logged in as the admin make run created (password in var/), who owns
    # the new project.
    password = (clone / "var" / "admin-password").read_text().strip()
    client.request("GET", "/login/")
    status, body = client.request(
        "POST", "/login/", body=urllib.parse.urlencode({
            "username": "admin", "password": password,
            "csrfmiddlewaretoken": client.cookie("csrftoken")}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Referer": client.base + "/login/"})
    if status != 200 or not client.cookie("sessionid"):
        raise SmokeFailed(f"login as admin: {status}")
    status, body = client.request("GET", f"/projects/{project['project_id']}/overview/")
    page = body.decode(errors="replace")
    if status != 200 or "<title>Newcomer smoke overview" not in page \
            or "vendor/plotly.min.js" not in page:
        raise SmokeFailed(f"overview page: {status}: {page[:300]}")
    return {"events_read_back": events_seen, "points_sum_read_back": points_seen,
            "events_pushed_live": pushed["count"]}


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="newcomer-"))
    clone = tmp / "analytics"
    log = tmp / "make-run.log"
    result: dict = {"ok": False}
    run = None
    try:
        subprocess.run(["git", "clone", "--quiet", str(BASE_DIR), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items()
               if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DATA_DIR",
                            "VIRTUAL_ENV", "ADMIN_PASSWORD", "ADMIN_USERNAME", "PORT", "HOST",
                            "PYTHONPATH", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
        port = free_port()
        env["PORT"] = str(port)
        client = Http(f"http://127.0.0.1:{port}")
        print(f"newcomer: git clone into {clone}; make run on port {port}", flush=True)
        started = time.monotonic()
        run = subprocess.Popen(["make", "run"], cwd=clone, env=env,
                               stdout=log.open("w"), stderr=subprocess.STDOUT,
                               start_new_session=True)
        result.update(wait_ready(run, client, log, started))
        print(f"newcomer: ready after {result['ready_s']} s ({result['install_s']} s of it "
              "creating .venv from requirements.txt)", flush=True)
        result.update(exercise(clone, env, client))
        running = processes_of(clone)
        result["processes"] = len(running)
        print(f"newcomer: {len(running)} processes of the run: "
              f"{describe(running)}", flush=True)

        stopping = time.monotonic()
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            code = run.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise SmokeFailed(f"make run did not exit within {STOP_TIMEOUT_S} s of Ctrl-C") \
                from None
        while processes_of(clone) and time.monotonic() - stopping < STOP_TIMEOUT_S:
            time.sleep(0.2)
        result["stop_s"] = round(time.monotonic() - stopping, 1)
        left = processes_of(clone)
        print(f"newcomer: stopped after {result['stop_s']} s (exit code {code}); "
              f"{len(left)} left", flush=True)
        if left:
            raise SmokeFailed(f"still running {STOP_TIMEOUT_S} s after Ctrl-C: "
                              f"{describe(left)}")
        if code not in (0, -signal.SIGINT):  # make dies of the SIGINT it passed on
            raise SmokeFailed(f"make run exited with code {code} after Ctrl-C")

        imports = subprocess.run(
            [str(clone / ".venv/bin/python"), "scripts/check_imports.py"], cwd=clone,
            capture_output=True, text=True, timeout=300)
        checked = json.loads(imports.stdout.strip().splitlines()[-1])
        result["modules_imported"] = checked["modules"]
        if imports.returncode != 0:
            raise SmokeFailed("modules that need a package requirements.txt does not install:\n"
                              + imports.stderr)
        result["ok"] = True
    except (SmokeFailed, subprocess.CalledProcessError) as exc:
        output = log.read_text(errors="replace") if log.exists() else ""
        print(f"newcomer: FAILED: {exc}", file=sys.stderr)
        print(f"newcomer: first error: {first_error(output)}", file=sys.stderr)
        print("newcomer: the end of make run's output:\n"
              + "\n".join(output.splitlines()[-60:]), file=sys.stderr)
        result["error"] = str(exc)
        if clone.exists() and (clone / ".venv/bin/python").exists():
            imports = subprocess.run(  # name every module that cannot import
                [str(clone / ".venv/bin/python"), "scripts/check_imports.py"], cwd=clone,
                capture_output=True, text=True, timeout=300)
            if imports.returncode != 0:
                print(imports.stderr, file=sys.stderr)
    finally:
        if run is not None and run.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.wait(STOP_TIMEOUT_S)
        for proc in processes_of(clone):
            with contextlib.suppress(psutil.Error):
                proc.kill()
        if not os.environ.get("KEEP_NEWCOMER_CLONE"):
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
