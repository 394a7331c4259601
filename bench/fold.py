"""Rollup fold benchmark: what folding the deltas of bench-shaped event batches costs PostgreSQL,
statement by statement (``events.rollups``: events, sessions, dimensions, people).

    .venv/bin/python bench/fold.py [--batches 20] [--runs 3]

Against ``DATABASE_URL`` (without it, the embedded servers, started as ``make run`` would). In
one transaction that is rolled back at the end — so a running worker never sees the deltas and
nothing stays behind but a "Bench fold" project — it stores ``--batches`` batches of 1,000 events
through the write path's own statement (``events.services.INSERT_EVENTS``; the events of
``bench/ingest.py``: 5,000 people, four sessions each, half of them page views) and folds them,
then as many again, and times each fold statement over one slice of the second lot's deltas
(most of them merged into sessions and people that exist), ``--runs`` times, each run undone with
a savepoint. Bounded by the batches and runs; loopback only.

Last line: {"events", "runs", "<statement>_ms" (the median of the runs) for each statement,
"total_ms", "fold_us_per_event"}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")

AGENT = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36"
STATEMENTS = ("FOLD_EVENTS", "FOLD_SESSIONS", "FOLD_DIMS", "FOLD_PEOPLE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=20, help="batches of 1,000 events")
    parser.add_argument("--runs", type=int, default=3, help="timed folds of each statement")
    args = parser.parse_args()

    import django

    django.setup()
    import orjson
    import psycopg
    from django.conf import settings
    from ingest import event_batch

    from events import enrich, partitions, rollups, services
    from events.models import PAGEVIEW_EVENTS
    from events.validation import parse_events
    from projects import services as projects

    owner, _ = projects.get_or_create_user(username="bench", email="bench@example.com")
    project = projects.create_project(name="Bench fold", owner=owner, timezone_name="UTC")
    now = datetime.now(UTC)
    partitions.ensure_partitions(start=now.date(), days=1)
    db = settings.DATABASES["default"]
    rng = random.Random(1)
    timings: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    with psycopg.connect(dbname=db["NAME"], user=db.get("USER") or None,
                         password=db.get("PASSWORD") or None, host=db.get("HOST") or None,
                         port=db.get("PORT") or None) as conn:
        def store(batches: int) -> None:
            for _ in range(batches):
                _, body = event_batch(rng, 1000)
                items = parse_events(orjson.loads(body)["events"], sent_at=None,
                                     received_at=now, oldest=now - timedelta(days=1)).items
                conn.execute(services.INSERT_EVENTS, services.insert_params(
                    project.pk, items, [None] * len(items), {}, agent=enrich.agent(AGENT),
                    now=now, ip_hash=None))

        # One transaction (the connection is not autocommit). The rollups first hold as many
        # batches before: most sessions and people of the timed slice are then merged into
        # rows that exist, as in a fold under steady traffic.
        store(args.batches)
        rollups.fold_all_pending(conn.cursor())
        store(args.batches)
        events = args.batches * 1000
        for _ in range(args.runs):
            for name in STATEMENTS:
                with conn.transaction(force_rollback=True):
                    began = time.perf_counter()
                    conn.execute(getattr(rollups, name),
                                 {"slice": 10 * events, "pageviews": list(PAGEVIEW_EVENTS)})
                    timings[name].append((time.perf_counter() - began) * 1000)
        conn.rollback()
    found = {"events": events, "runs": args.runs}
    for name, values in timings.items():
        found[f"{name.lower()}_ms"] = round(statistics.median(values), 1)
        print(f"{name}: {', '.join(f'{v:.0f}' for v in values)} ms", file=sys.stderr)
    total = sum(found[f"{name.lower()}_ms"] for name in STATEMENTS)
    found["total_ms"] = round(total, 1)
    found["fold_us_per_event"] = round(total * 1000 / events, 1)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
