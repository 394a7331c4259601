"""``make run``: the whole platform on one machine, in one terminal.

1. Uses ``DATABASE_URL`` / ``REDIS_URL`` when set, else starts the embedded PostgreSQL and Redis
   under ``DATA_DIR`` (see ``analytics_site.embedded``).
2. Applies migrations, makes sure the admin user exists (prints the login) and seeds the demo
   project once.
3. Runs web (daphne), the Celery worker and Celery beat as child processes, their output
   interleaved line by line with a name prefix.

Ctrl-C (or SIGTERM) stops every child (SIGTERM, then SIGKILL after a grace period) and then the
embedded servers; if one child dies, the others are stopped too and the exit code says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
GRACE_S = 15
COLOURS = ["36", "33", "35", "32", "34", "31"]


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    pass_fds: tuple[int, ...] = ()


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket for one web process. With WEB_CONCURRENCY > 1 each daphne gets its own
    socket on the same port (SO_REUSEPORT), and the kernel spreads new connections across them,
    so the web role uses more than one core."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
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


def children(web_fds: list[int]) -> list[Child]:
    concurrency = os.environ.get("CELERY_WORKER_CONCURRENCY", "2")
    extra = []
    if _on("SIMULATE", False):
        extra.append(Child("sim", [sys.executable, "manage.py", "simulate"]))
    web = [
        Child("web" if len(web_fds) == 1 else f"web{n + 1}",
              [_bin("daphne"), "--fd", str(fd), "--access-log", os.devnull,
               "--proxy-headers", "analytics_site.asgi:application"], pass_fds=(fd,))
        for n, fd in enumerate(web_fds)
    ]
    return [
        *web,
        Child("worker", [_bin("celery"), "-A", "analytics_site", "worker", "-l", "INFO",
                         "--concurrency", concurrency, "-n", "worker@%h"]),
        Child("beat", [_bin("celery"), "-A", "analytics_site", "beat", "-l", "INFO",
                       "--pidfile="]),
        # StatsD / DogStatsD for the listeners configured in the admin (none: it waits).
        Child("statsd", [sys.executable, "manage.py", "statsd"]),
        *extra,
    ]


class Launcher:
    def __init__(self, host: str, port: str, web_processes: int = 1):
        self.host, self.port = host, port
        self.sockets = [listening_socket(host, int(port)) for _ in range(web_processes)]
        self.children = children([sock.fileno() for sock in self.sockets])
        self.width = max(len(c.name) for c in self.children)
        self.colour = sys.stdout.isatty()
        self.stopping = threading.Event()
        self.print_lock = threading.Lock()

    def say(self, name: str, line: str, index: int = -1) -> None:
        label = name.ljust(self.width)
        if self.colour and index >= 0:
            label = f"\033[{COLOURS[index % len(COLOURS)]}m{label}\033[0m"
        with self.print_lock:
            sys.stdout.write(f"{label} | {line}\n")
            sys.stdout.flush()

    def _pump(self, child: Child, index: int) -> None:
        assert child.proc is not None and child.proc.stdout is not None
        for raw in child.proc.stdout:
            self.say(child.name, raw.rstrip("\n"), index)

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

    def start(self) -> None:
        for index, child in enumerate(self.children):
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
            threading.Thread(target=self._pump, args=(child, index), daemon=True).start()
            self.say(child.name, f"started (pid {child.proc.pid})", index)
        self.say("setup", f"serving on http://{self.host}:{self.port}/  (Ctrl-C stops everything)")

    def watch(self) -> int:
        """Wait until a signal or a child's death; return the exit code."""
        while not self.stopping.is_set():
            for child in self.children:
                assert child.proc is not None
                code = child.proc.poll()
                if code is not None:
                    self.say("setup", f"{child.name} exited with code {code}; stopping the rest")
                    return code or 1
            self.stopping.wait(0.5)
        return 0

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
    launcher = Launcher(host, port, int(os.environ.get("WEB_CONCURRENCY") or default_web))

    def on_signal(signum, frame):
        launcher.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    embedded = None
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
        launcher.prepare()
        if not launcher.stopping.is_set():
            launcher.start()
            code = launcher.watch()
    finally:
        launcher.say("setup", "stopping")
        launcher.stop()
        if embedded is not None:
            embedded.release()
        launcher.say("setup", "stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
