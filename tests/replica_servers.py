"""A PostgreSQL primary and a streaming replica of it, from the binaries of the ``pgserver`` wheel
(the ones the embedded servers use), over Unix sockets in a folder of their own: for the read
replica tests (``tests/test_read_replicas.py``) and their probe."""

from __future__ import annotations

import os
import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

USER = "pgserver" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root


def _own(path: Path) -> None:
    path.mkdir(mode=0o700, exist_ok=True)
    if USER:
        entry = pwd.getpwnam(USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def url(socket_dir: Path, port: int, database: str = "analytics") -> str:
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}:{port}/{database}"


@dataclass
class Pair:
    base: Path
    primary_dir: Path
    primary_socket: Path
    replica_dir: Path
    replica_socket: Path
    port: int

    @property
    def primary_url(self) -> str:
        return url(self.primary_socket, self.port)

    @property
    def replica_url(self) -> str:
        return url(self.replica_socket, self.port)

    def start_replica(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-l", str(self.base / "replica.log"), "-o",
                f"-k {self.replica_socket} -c listen_addresses='' -p {self.port}", "start"],
               pgdata=self.replica_dir, user=USER, timeout=60)

    def stop_replica(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.replica_dir, user=USER, timeout=60)

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        for data in (self.replica_dir, self.primary_dir):
            if (data / "postmaster.pid").exists():
                pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=data, user=USER, timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


def start_pair(base: Path, database: str = "analytics") -> Pair:
    """initdb + start a primary (pgserver's own way: trust auth, replication allowed over the
    socket), create ``database``, then ``pg_basebackup -R`` a standby and start it."""
    import pgserver
    import psycopg
    from pgserver._commands import pg_basebackup

    _own(base)
    primary = pgserver.get_server(base / "primary", cleanup_mode=None)
    info = primary.get_postmaster_info()
    socket_dir, port = Path(info.socket_dir), int(info.port)
    with psycopg.connect(url(socket_dir, port, "postgres").replace("postgres://",
                                                                    "postgresql://", 1),
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    pair = Pair(base, base / "primary", socket_dir, base / "replica", base / "rsock", port)
    _own(pair.replica_dir)
    _own(pair.replica_socket)
    pg_basebackup(["-D", str(pair.replica_dir), "-R", "-X", "stream", "-c", "fast",
                   "-h", str(socket_dir), "-p", str(port), "-U", "postgres"],
                  user=USER, timeout=120)
    pair.start_replica()
    return pair
