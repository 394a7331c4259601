"""``make run``: the whole platform on one machine, in one terminal.

1. Uses ``DATABASE_URL`` / ``REDIS_URL`` when set, else starts the embedded PostgreSQL and Redis
   under ``DATA_DIR`` (see ``analytics_site.embedded``); with ``REPLICA=1``, a streaming replica
   of that PostgreSQL too, which the read path then reads from (``DATABASE_REPLICA_URLS``).
2. Applies migrations, makes sure the admin user exists (prints the login) and seeds the demo
   project once.
3. Runs web (daphne), the Celery workers (one per group of ``WORKER_QUEUES``: training apart from
   alerts, see ``analytics_site.queues``), Celery beat and the StatsD server as child processes,
   their output interleaved line by line with a name prefix, and supervises them.

A supervisor, not a domino: a child that dies once the stack is up is started again, after a
backoff that grows while it keeps dying (1 s … 30 s) and starts over once it has stayed up a
minute; each restart is logged with the child's name and its last error line. A child that dies
during start-up (before ``/readyz`` first answers 200, within ``STARTUP_S``) is a broken
installation or configuration rather than a fault: the launcher names it and its last error
line, stops the rest and exits non-zero, so ``make run`` fails loudly instead of restarting for
ever.

Ctrl-C (or SIGTERM) stops every child (SIGTERM, then SIGKILL after ``GRACE_S``) and then the
embedded servers; all of it within ``STOP_TIMEOUT_S``.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from analytics_site import queues
from analytics_site.queues import BadWorkerQueues

BASE_DIR = Path(__file__).resolve().parent.parent
GRACE_S = 15
# Children get GRACE_S, then PostgreSQL (pg_ctl's fast stop) and Redis theirs: a bound for
# tests and for operators' stop timeouts.
STOP_TIMEOUT_S = 45
STARTUP_S = 180
STABLE_S = 60
BACKOFF_S = (1, 2, 4, 8, 16, 30)
COLOURS = ["36", "33", "35", "32", "34", "31"]
_EXCEPTION_LINE = re.compile(
    r"^(?:[A-Za-z_][\w.]*\.)?[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Failure)\b(?::.*)?$")


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    pass_fds: tuple[int, ...] = ()
    index: int = 0
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0  # deaths in a row, for the backoff; 0 once it has been up STABLE_S
    restart_at: float | None = None
    pump: threading.Thread | None = None
    tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=200))


def last_error_line(lines) -> str:
    """The line that says why a process died: the last exception line of a traceback (plain, or
    inside a JSON log line's ``exc``), else the message of its last ERROR log line, else its last
    line."""
    fallback = ""
    for line in reversed(list(lines)):
        text = line.strip()
        if not text:
            continue
        fallback = fallback or text
        if text.startswith("{"):
            try:
                entry = json.loads(text)
            except ValueError:
                entry = None
            if isinstance(entry, dict) and entry.get("level") in {"ERROR", "CRITICAL"}:
                exc = str(entry.get("exc") or "").strip().splitlines()
                return exc[-1] if exc else str(entry.get("message", text))
            continue
        if _EXCEPTION_LINE.match(text) or text.startswith(("CRITICAL", "ERROR", "Error:")):
            return text
    return fallback or "(no output)"


class PortTaken(Exception):
    pass


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket for one web process. With WEB_CONCURRENCY > 1 each daphne gets its own
    socket on the same port (SO_REUSEPORT), and the kernel spreads new connections across them,
    so the web role uses more than one core."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(f"{host}:{port} is taken by another program (another `make run`?); "
                            "stop it, or start with PORT=<another port>") from None
        raise
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _on(name: str, default: bool) -> bool:
    value = os.environ.get(name, "")
    if not value:
        return default
    return value.lower() not in {"0", "false", "no", "off"}


def workers() -> list[Child]:
    """One Celery worker per group of ``WORKER_QUEUES`` (``analytics_site.queues``)."""
    concurrency = int(os.environ.get("CELERY_WORKER_CONCURRENCY") or 2)
    return [Child(group.name, [_bin("celery"), "-A", "analytics_site", "worker", "-l", "INFO",
                               "-Q", ",".join(group.queues), "--concurrency",
                               str(group.concurrency), "-n", f"{group.name}@%h"])
            for group in queues.groups(os.environ.get("WORKER_QUEUES"), concurrency)]


def children(web_fds: list[int]) -> list[Child]:
    extra = []
    if _on("SIMULATE", False):
        extra.append(Child("sim", [sys.executable, "manage.py", "simulate"]))
    web = [
        Child("web" if len(web_fds) == 1 else f"web{n + 1}",
              [sys.executable, "-m", "analytics_site.serve", "--fd", str(fd),
               "-v", "0",  # no access log (each line was formatted, then thrown away);
               # Django's LOGGING sets the levels once the application loads, and
               # RequestLogMiddleware logs each request
               "--proxy-headers", "analytics_site.asgi:application"], pass_fds=(fd,))
        for n, fd in enumerate(web_fds)
    ]
    found = [
        *web,
        *workers(),
        Child("beat", [_bin("celery"), "-A", "analytics_site", "beat", "-l", "INFO",
                       "--pidfile="]),
        # StatsD / DogStatsD for the listeners configured in the admin (none: it waits).
        Child("statsd", [sys.executable, "manage.py", "statsd"]),
        *extra,
    ]
    for index, child in enumerate(found):
        child.index = index
    return found


class Launcher:
    def __init__(self, host: str, port: str, web_processes: int = 1):
        self.host, self.port = host, port
        self.sockets = [listening_socket(host, int(port)) for _ in range(web_processes)]
        self.children = children([sock.fileno() for sock in self.sockets])
        self.width = max(len(c.name) for c in self.children)
        self.colour = sys.stdout.isatty()
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.started_at = 0.0
        self.print_lock = threading.Lock()

    def say(self, name: str, line: str, index: int = -1) -> None:
        label = name.ljust(self.width)
        if self.colour and index >= 0:
            label = f"\033[{COLOURS[index % len(COLOURS)]}m{label}\033[0m"
        with self.print_lock:
            sys.stdout.write(f"{label} | {line}\n")
            sys.stdout.flush()

    def _pump(self, child: Child, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            child.tail.append(line)
            self.say(child.name, line, child.index)

    def prepare(self) -> None:
        """Migrations, admin user, demo project: in this process, before the children start."""
        import django
        from django.core.management import call_command

        django.setup()
        self.say("setup", "applying migrations")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("sync_schedules", stdout=_LineWriter(lambda s: self.say("setup", s)))
        call_command("ensureadmin", stdout=_LineWriter(lambda s: self.say("setup", s)))
        if _on("SEED_DEMO", True):
            call_command("seed_demo", stdout=_LineWriter(lambda s: self.say("setup", s)))
            call_command("seed_demo_dashboard",
                         stdout=_LineWriter(lambda s: self.say("setup", s)))
        from django.db import connections

        connections.close_all()

    def _spawn(self, child: Child) -> None:
        child.tail.clear()
        child.proc = subprocess.Popen(  # noqa: S603 - our own fixed command lines
            child.argv,
            cwd=BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
            pass_fds=child.pass_fds,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        child.pump = threading.Thread(target=self._pump, args=(child, child.proc), daemon=True)
        child.pump.start()
        self.say(child.name, f"started (pid {child.proc.pid})", child.index)

    def start(self) -> None:
        self.started_at = time.monotonic()
        for child in self.children:
            self._spawn(child)
        self.say("setup", f"serving on http://{self.host}:{self.port}/  (Ctrl-C stops everything)")
        threading.Thread(target=self._await_ready, daemon=True).start()

    def _await_ready(self) -> None:
        """Start-up ends when /readyz first answers 200 (web, PostgreSQL, Redis, a worker that
        answers, beat): from then on a child that dies is restarted."""
        import urllib.request

        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # noqa: S104
        url = f"http://{'[' + host + ']' if ':' in host else host}:{self.port}/readyz"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback
        while not self.stopping.is_set() and time.monotonic() - self.started_at < STARTUP_S:
            try:
                with opener.open(url, timeout=2) as answer:
                    if answer.status == 200:
                        self.ready.set()
                        self.say("setup", f"ready in {time.monotonic() - self.started_at:.1f} s")
                        return
            except OSError:
                pass
            self.stopping.wait(0.5)

    def watch(self) -> int:
        """Supervise until a signal (exit code 0) or a death during start-up (non-zero)."""
        while not self.stopping.is_set():
            code = self._check()
            if code is not None:
                return code
            self.stopping.wait(0.25)
        return 0

    def _check(self) -> int | None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is None:
                if child.restart_at is not None and now >= child.restart_at:
                    self._spawn(child)
                continue
            code = child.proc.poll()
            if code is None:
                if child.failures and now - child.started_at >= STABLE_S:
                    child.failures = 0
                continue
            _signal_group(child.proc, signal.SIGKILL)  # what it left behind (Celery's pool)
            if child.pump is not None:
                child.pump.join(2)  # its last lines printed before we name the error
            error = last_error_line(child.tail)
            if not self.ready.is_set() and now - self.started_at < STARTUP_S:
                self.say("setup", f"{child.name} died during start-up (exit code {code}): "
                                  f"{error}")
                self.say("setup", "stopping the rest; see above for its output, and the "
                                  "README's 'When it does not start'")
                return code or 1
            delay = BACKOFF_S[min(child.failures, len(BACKOFF_S) - 1)]
            child.failures += 1
            child.restarts += 1
            child.proc = None
            child.restart_at = now + delay
            self.say("setup", f"{child.name} exited with code {code} ({error}); restarting it "
                              f"in {delay} s (restart {child.restarts})")
        return None

    def stop(self) -> None:
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in running:
            _signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S
        for child in running:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("setup", f"{child.name} did not stop in {GRACE_S} s; killing it")
                _signal_group(child.proc, signal.SIGKILL)
                child.proc.wait()
        for child in self.children:
            # Anything a child left in its session (e.g. Celery pool processes) goes too.
            if child.proc is not None:
                _signal_group(child.proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


class _LineWriter:
    def __init__(self, emit):
        self.emit = emit

    def write(self, text: str) -> None:
        for line in text.splitlines():
            if line.strip():
                self.emit(line)

    def flush(self) -> None:
        pass


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    default_web = str(min(os.cpu_count() or 1, 4))
    try:
        launcher = Launcher(host, port, int(os.environ.get("WEB_CONCURRENCY") or default_web))
    except (PortTaken, BadWorkerQueues) as exc:
        print(f"setup | cannot serve: {exc}", file=sys.stderr)
        return 1

    def on_signal(signum, frame):
        launcher.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    embedded = None
    replica = _on("REPLICA", False)
    if replica and os.environ.get("DATABASE_URL"):
        print("setup | cannot serve: REPLICA=1 starts a replica of the embedded PostgreSQL; "
              "with DATABASE_URL set, name your replicas in DATABASE_REPLICA_URLS",
              file=sys.stderr)
        return 1
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        from analytics_site.embedded import EmbeddedServices

        embedded = EmbeddedServices()
        launcher.say("setup", f"starting embedded PostgreSQL and Redis in {embedded.data_dir}")
        for key, value in embedded.acquire().environ().items():
            os.environ.setdefault(key, value)
    else:
        launcher.say("setup", "using DATABASE_URL and REDIS_URL")
    code = 0
    try:
        if replica and embedded is not None:
            launcher.say("setup", "copying the embedded PostgreSQL to a streaming replica "
                                  f"in {embedded.replica.data}")
            os.environ["DATABASE_REPLICA_URLS"] = embedded.start_replica().url
            launcher.say("setup", "reads of data go to the replica (see /readyz)")
        try:
            launcher.prepare()
        except Exception as exc:
            launcher.say("setup", f"start-up failed: {type(exc).__name__}: {exc}")
            raise
        if not launcher.stopping.is_set():
            launcher.start()
            code = launcher.watch()
    finally:
        launcher.say("setup", "stopping")
        launcher.stop()
        if embedded is not None:
            if replica:
                embedded.replica.stop()
            embedded.release()
        launcher.say("setup", "stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
