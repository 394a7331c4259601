"""Run by ``tests/test_read_replicas.py`` in a process of its own, whose ``DATABASE_URL`` is a
primary and ``DATABASE_REPLICA_URLS`` its streaming replica (``tests/replica_servers.py``): data
written through the real write path, queries through ``events.query``, the replica paused,
stopped and started again. Prints one JSON line: where each answer was read and what it said."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")


def main() -> None:
    import django

    django.setup()
    import psycopg
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from psycopg import sql

    from events import freshness, rollups, selectors, services
    from events.query import Statement, execute, executor
    from events.query import replicas as replica_state
    from projects import services as projects
    from tests.replica_servers import Pair

    pair = Pair(**{k: (Path(v) if k != "port" else int(v))
                   for k, v in json.loads(os.environ["REPLICA_PAIR"]).items()})
    call_command("migrate", interactive=False, verbosity=0)
    owner = get_user_model().objects.create_user("replica-owner")
    project = projects.create_project(name="Replica", owner=owner)
    key = selectors.ingest_key_of(project)
    now = datetime.now(UTC).replace(second=0, microsecond=0)

    def write(minutes_ago: range, value: float) -> None:
        items = [{"name": "cpu", "value": value, "tags": {"host": "a"},
                  "timestamp": (now - timedelta(minutes=m)).isoformat()} for m in minutes_ago]
        result = asyncio.run(services.record_points(key=key, items=items))
        assert not result.rejected, result.rejected
        rollups.fold()

    def ask(start: str, end: str) -> dict:
        answer = execute(project, query="avg:cpu{}", start=start, end=end, step=60,
                         use_cache=False)
        values = {v for series in answer["data"] for _, v in series["points"] if v is not None}
        return {"read_from": answer["meta"]["read_from"], "values": sorted(values)}

    def lag() -> float | None:
        replica = replica_state.configured()[0]
        replica.measured_at = 0.0  # measure now, not from the 2 s cache
        return replica_state.lag(replica)

    def wait(check, seconds: float = 30.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError("timed out")

    replica_conn = psycopg.connect(pair.replica_url.replace("postgres://", "postgresql://", 1),
                                   autocommit=True)
    write(range(180, 120, -1), 10.0)  # three hours ago … 121 minutes ago: 10
    write(range(50, 0, -1), 30.0)  # the last 50 minutes: 30
    wait(lambda: lag() == 0.0)
    out = {"replica": replica_state.configured()[0].name,
           "past": ask("now-4h", "now-2h"), "now": ask("now-1h", "now")}

    # Replay paused and new data on the primary: the replica falls behind.
    replica_conn.execute("SELECT pg_wal_replay_pause()")
    time.sleep(0.5)
    write(range(60, 50, -1), 50.0)
    time.sleep(2.5)  # past REPLICA_MAX_LAG_S (1 s) and the lag's cache (2 s)
    out["lagging"] = {"lag_s": lag(), "now": ask("now-1h", "now"),
                      "past": ask("now-4h", "now-2h"), "status": replica_state.status()}
    replica_conn.execute("SELECT pg_wal_replay_resume()")
    wait(lambda: lag() == 0.0)
    out["caught_up"] = ask("now-1h", "now")
    replica_conn.close()

    # An erasure's position not yet replayed (one far ahead): the primary answers, however
    # little the lag; a position the replica has passed: the replica again.
    ahead = replica_state.lsn(replica_state._primary_lsn()) + (1 << 40)
    freshness.note_erasure_position(project.pk, f"{ahead >> 32:X}/{ahead & 0xFFFFFFFF:X}")
    out["erasure_ahead"] = {"lag_s": lag(), **ask("now-4h", "now-2h")}
    freshness.note_erasure_position(project.pk, replica_state._primary_lsn())
    write(range(1, 0, -1), 30.0)  # something to replay past it
    wait(lambda: lag() == 0.0)
    out["erasure_replayed"] = ask("now-4h", "now-2h")

    # The replica cut off in the middle of a computation: the answer is computed again on the
    # primary, and says so.
    def slow() -> dict:
        with executor.session() as session:
            row = session.one(Statement(sql.SQL("SELECT pg_sleep(1.5), pg_is_in_recovery()")))
        return {"in_recovery": row[1]}

    def cut() -> None:
        time.sleep(0.5)
        with psycopg.connect(pair.replica_url.replace("postgres://", "postgresql://", 1),
                             autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = 'analytics-replica-read'")

    cutter = threading.Thread(target=cut)
    cutter.start()
    body = executor.answer(kind="probe", project_id=project.pk, spec={"probe": 1},
                           reaches_now=False, compute=slow, use_cache=False)
    cutter.join()
    out["cut_mid_query"] = {"read_from": body["meta"]["read_from"],
                            "in_recovery": body["in_recovery"]}

    # The replica stopped: reads go to the primary, without an error.
    pair.stop_replica()
    out["stopped"] = {"now": ask("now-1h", "now"), "past": ask("now-4h", "now-2h"),
                      "status": replica_state.status()}
    pair.start_replica()
    time.sleep(replica_state.DOWN_FOR_S + 0.5)
    out["restarted"] = ask("now-4h", "now-2h")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
