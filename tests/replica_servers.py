"""A PostgreSQL primary and a streaming replica of it, from the binaries of the ``pgserver`` wheel
(the ones the embedded servers use), over Unix sockets in a folder of their own: for the read
replica tests (``tests/test_read_replicas.py``), their probe and ``bench/scale.py``. The replica
is ``analytics_site.embedded.Replica``, the one ``make run REPLICA=1`` starts."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from analytics_site.embedded import PG_USER, Replica, own_folder, postgres_url


@dataclass
class Pair:
    base: Path
    primary_dir: Path
    primary_socket: Path
    replica_dir: Path
    replica_socket: Path
    port: int

    @property
    def replica(self) -> Replica:
        return Replica(self.replica_dir, self.replica_socket, self.port)

    @property
    def primary_url(self) -> str:
        return postgres_url(self.primary_socket, self.port)

    @property
    def replica_url(self) -> str:
        return self.replica.url

    def start_replica(self) -> None:
        self.replica.start()

    def stop_replica(self) -> None:
        self.replica.stop()

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        self.replica.stop("immediate")
        if (self.primary_dir / "postmaster.pid").exists():
            pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.primary_dir, user=PG_USER,
                   timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


def start_pair(base: Path, database: str = "analytics") -> Pair:
    """initdb + start a primary (pgserver's own way: trust auth, replication allowed over the
    socket), create ``database``, then ``pg_basebackup -R`` a standby and start it."""
    import pgserver
    import psycopg

    own_folder(base)
    primary = pgserver.get_server(base / "primary", cleanup_mode=None)
    info = primary.get_postmaster_info()
    socket_dir, port = Path(info.socket_dir), int(info.port)
    with psycopg.connect(postgres_url(socket_dir, port, "postgres").replace(
            "postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    pair = Pair(base, base / "primary", socket_dir, base / "replica", base / "rsock", port)
    pair.replica.create(socket_dir)
    pair.replica.start()
    return pair
