"""Query benchmark: the standard queries over 30 days of data, cold (no answer cache) and cached.

    .venv/bin/python bench/query.py [--scale 1.0] [--runs 30] [--reload] [--external]

Data (at --scale 1): 300 metric series (6 names x 50 hosts) with a point every 15 s for 30 days
(51.8 million points) and 10 million events (about 2 million sessions, 400,000 people) over the
same 30 days. It is loaded once into its own database and kept: without ``--external`` an
embedded PostgreSQL and Redis in ``var/bench-query/`` (reused by later runs; ``--reload`` loads
again); with ``--external`` the servers of ``DATABASE_URL`` / ``REDIS_URL``, database
``analytics_bench``. Loading uses set-based SQL straight into the partitioned tables, and builds
the 1-minute, 1-hour, name-level, hourly event, hour and session rollups in SQL with the sketch
keys of ``events.sketch.key_of`` (checked against it on a sample); a spot check then compares a
rollup answer with the raw answer for the same query.

Timed, each ``--runs`` times through ``events.query`` in this process (the engine's cache off for
"cold", on for "cached"; PostgreSQL's own buffers are warm either way):

- rollup_30d: ``avg:cpu.user{} by {host}``, 30 days, 1 h step (rollup_1h)
- raw_1h: ``avg:http.latency_ms{} by {host}``, the last hour of the loaded data, automatic step
  (raw points)
- overview_30d: the analytics overview for 30 days (and the 30 days before)
- sketch_30d: ``p95:http.latency_ms{}``, 30 days, 1 h step (merged sketches)
- cached: the rollup_30d query answered from Redis

Last line: {"rollup_30d_p95_ms", "raw_1h_p95_ms", "overview_30d_p95_ms", "sketch_30d_p95_ms",
"cached_p95_ms"}. Loopback only; the load is bounded by its size (minutes at --scale 1), each
timing phase by --runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DAYS = 30
METRICS = ("cpu.user", "cpu.system", "mem.used", "http.latency_ms", "http.requests",
           "queue.depth")
HOSTS = 50
EVENTS_AT_SCALE_1 = 10_000_000
POINT_INTERVAL_AT_SCALE_1 = 15  # seconds
EVENTS_PER_SESSION = 5
PEOPLE_AT_SCALE_1 = 400_000


def _reexec_embedded(args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATA_DIR"] = str(BASE_DIR / "var" / "bench-query")
    env["BENCH_INNER"] = "1"
    cmd = [sys.executable, "-m", "analytics_site.embedded", "exec", "--", sys.executable,
           __file__, *args]
    sys.exit(subprocess.call(cmd, cwd=BASE_DIR, env=env))


def _external_env() -> None:
    from urllib.parse import urlsplit

    import psycopg

    url = urlsplit(os.environ["DATABASE_URL"])
    admin = url._replace(scheme="postgresql", path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'analytics_bench'"
                            ).fetchone():
            conn.execute("CREATE DATABASE analytics_bench")
    os.environ["DATABASE_URL"] = url._replace(path="/analytics_bench").geturl()
    os.environ.setdefault("CACHE_KEY_PREFIX", "bench-query")


def _setup() -> None:
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# -- loading --------------------------------------------------------------------------------------
SKETCH_KEY_SQL = """
CREATE OR REPLACE FUNCTION pg_temp.sketch_key(v float8) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v > {min} THEN {offset} + ceil(ln(v) / ln({gamma}))::int
                WHEN v < -{min} THEN -({offset} + ceil(ln(-v) / ln({gamma}))::int)
                ELSE 0 END
$$"""

VALUE_SQL = """CASE s.name
    WHEN 'cpu.user' THEN 35 + 20 * sin(extract(epoch FROM ts) / 13751.0 + s.id) + 10 * random()
    WHEN 'cpu.system' THEN 8 + 4 * random()
    WHEN 'mem.used' THEN 2e9 + 1e8 * sin(extract(epoch FROM ts) / 86400.0) + 1e7 * random()
    WHEN 'http.latency_ms' THEN 20 + 15 * random() + 900 * power(random(), 12)
    WHEN 'http.requests' THEN floor(50 + 40 * random())
    ELSE floor(10 * power(random(), 3)) END"""


def _log(message: str) -> None:
    print(message, flush=True)


def load(project, scale: float, start: datetime) -> None:
    from django.db import connection

    from events import partitions, sketch
    from events.models import MetricSeries

    interval = POINT_INTERVAL_AT_SCALE_1 / scale
    events_per_day = int(EVENTS_AT_SCALE_1 * scale / DAYS)
    people = max(10, int(PEOPLE_AT_SCALE_1 * scale))
    partitions.ensure_partitions(start=start.date() - timedelta(days=1), days=DAYS + 3)
    MetricSeries.objects.bulk_create([
        MetricSeries(project=project, name=name,
                     tags={"host": f"web-{h:02d}", "env": "prod" if h % 5 else "staging",
                           "service": "api" if h % 2 else "web"},
                     tags_key=json.dumps({"env": "prod" if h % 5 else "staging",
                                          "host": f"web-{h:02d}",
                                          "service": "api" if h % 2 else "web"},
                                         separators=(",", ":")))
        for name in METRICS for h in range(HOSTS)])
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")  # a day of data is one statement
        cursor.execute(SKETCH_KEY_SQL.format(min=sketch.MIN_MAGNITUDE, offset=sketch.OFFSET,
                                             gamma=repr(sketch.GAMMA)))
        sample = [random.lognormvariate(2, 3) * random.choice((1, -1)) for _ in range(2000)]
        cursor.execute("SELECT pg_temp.sketch_key(v) FROM unnest(%s::float8[]) "
                       "WITH ORDINALITY AS u(v, i) ORDER BY i", [sample])
        sql_keys = [r[0] for r in cursor.fetchall()]
        mismatches = sum(a != sketch.key_of(v) for a, v in zip(sql_keys, sample, strict=True))
        assert mismatches <= 2, f"{mismatches} sketch keys differ between SQL and Python"
        for day in range(DAYS + 1):
            day_start = start + timedelta(days=day)
            day_end = min(day_start + timedelta(days=1), datetime.now(UTC))
            if day_start >= day_end:
                break
            began = time.perf_counter()
            window = {"project": project.pk, "a": day_start, "b": day_end}
            cursor.execute(f"""
                INSERT INTO events_metricpoint (series_id, "timestamp", value)
                SELECT s.id, ts, {VALUE_SQL}
                FROM events_metricseries s,
                     generate_series(%(a)s::timestamptz, %(b)s::timestamptz
                                     - interval '1 microsecond',
                                     make_interval(secs => %(step)s)) AS ts
                WHERE s.project_id = %(project)s""",  # noqa: S608 - constant SQL
                           {**window, "step": interval})
            points = cursor.rowcount
            _rollup_metrics(cursor, window)
            cursor.execute("""
                INSERT INTO events_event (project_id, uuid, event, distinct_id, person_id,
                    session_id, "timestamp", received_at, properties, page_url, path,
                    referrer, referrer_domain, browser, os, device_type)
                SELECT %(project)s, gen_random_uuid(), x.event, x.person, x.person, x.session,
                       x.ts, x.ts,
                       CASE WHEN x.event = 'purchase'
                            THEN jsonb_build_object('amount', round((random() * 200)::numeric, 2))
                            ELSE '{}'::jsonb END,
                       'https://shop.example' || x.path, x.path,
                       CASE WHEN x.step = 0 AND x.sid %% 3 = 0
                            THEN 'https://www.google.com/' END,
                       CASE WHEN x.step = 0 AND x.sid %% 3 = 0 THEN 'google.com' END,
                       (ARRAY['Chrome', 'Firefox', 'Safari', 'Edge'])[1 + x.sid %% 4],
                       (ARRAY['Windows', 'Mac OS X', 'Linux', 'iOS', 'Android'])[1 + x.sid %% 5],
                       (ARRAY['desktop', 'desktop', 'mobile', 'tablet'])[1 + x.sid %% 4]
                FROM (
                    SELECT i / %(per)s AS sid, i %% %(per)s AS step,
                           's' || %(day)s || '-' || (i / %(per)s) AS session,
                           'p' || (hashint8(%(day)s * 1000000 + i / %(per)s) %% %(people)s)
                               AS person,
                           %(a)s::timestamptz
                             + make_interval(secs => (hashint8(i / %(per)s) & 65535)
                                                     * 86000.0 / 65536 + (i %% %(per)s) * 40)
                             AS ts,
                           (ARRAY['page_view', 'page_view', 'click', 'page_view',
                                  'signup', 'purchase'])[1 + (i %% %(per)s)
                                  + CASE WHEN i %% %(per)s = %(per)s - 1
                                         THEN (i / %(per)s) %% 2 ELSE 0 END] AS event,
                           (ARRAY['/', '/pricing', '/docs', '/blog', '/checkout'])
                               [1 + (hashint8(i) & 3)] AS path
                    FROM generate_series(0, %(n)s - 1) AS i) AS x
                WHERE x.ts < %(b)s""",
                           {**window, "n": events_per_day, "per": EVENTS_PER_SESSION,
                            "day": day, "people": people})
            events = cursor.rowcount
            _rollup_events(cursor, window)
            _log(f"  day {day + 1:2d}/{DAYS + 1}: {points:,} points, {events:,} events "
                 f"in {time.perf_counter() - began:.1f} s")
        cursor.execute("ANALYZE")


def _rollup_metrics(cursor, window: dict) -> None:
    cursor.execute("""
        INSERT INTO events_metricrollup1m (series_id, bucket, count, sum, min, max, sketch_keys,
                                           sketch_counts, last_at, last)
        SELECT a.series_id, a.bucket, a.count, a.sum, a.min, a.max, k.keys, k.counts,
               a.last_at, a.last
        FROM (SELECT p.series_id, date_trunc('minute', p."timestamp") AS bucket,
                     count(*) AS count, sum(p.value) AS sum, min(p.value) AS min,
                     max(p.value) AS max, max(p."timestamp") AS last_at,
                     (array_agg(p.value ORDER BY p."timestamp" DESC))[1] AS last
              FROM events_metricpoint p JOIN events_metricseries s ON s.id = p.series_id
              WHERE s.project_id = %(project)s AND p."timestamp" >= %(a)s
                AND p."timestamp" < %(b)s
              GROUP BY 1, 2) AS a
        JOIN (SELECT series_id, bucket, array_agg(k ORDER BY k) AS keys,
                     array_agg(c ORDER BY k) AS counts
              FROM (SELECT p.series_id, date_trunc('minute', p."timestamp") AS bucket,
                           pg_temp.sketch_key(p.value) AS k, count(*) AS c
                    FROM events_metricpoint p JOIN events_metricseries s ON s.id = p.series_id
                    WHERE s.project_id = %(project)s AND p."timestamp" >= %(a)s
                      AND p."timestamp" < %(b)s
                    GROUP BY 1, 2, 3) AS kc
              GROUP BY 1, 2) AS k USING (series_id, bucket)""", window)
    cursor.execute("""
        INSERT INTO events_metricrollup1h (series_id, bucket, count, sum, min, max, sketch_keys,
                                           sketch_counts, last_at, last)
        SELECT a.series_id, a.bucket, a.count, a.sum, a.min, a.max, k.keys, k.counts,
               a.last_at, a.last
        FROM (SELECT r.series_id, date_trunc('hour', r.bucket) AS bucket,
                     sum(r.count)::bigint AS count, sum(r.sum) AS sum, min(r.min) AS min,
                     max(r.max) AS max, max(r.last_at) AS last_at,
                     (array_agg(r.last ORDER BY r.last_at DESC))[1] AS last
              FROM events_metricrollup1m r JOIN events_metricseries s ON s.id = r.series_id
              WHERE s.project_id = %(project)s AND r.bucket >= %(a)s AND r.bucket < %(b)s
              GROUP BY 1, 2) AS a
        JOIN (SELECT series_id, bucket, array_agg(k ORDER BY k) AS keys,
                     array_agg(c ORDER BY k) AS counts
              FROM (SELECT r.series_id, date_trunc('hour', r.bucket) AS bucket, u.k,
                           sum(u.c)::bigint AS c
                    FROM events_metricrollup1m r JOIN events_metricseries s ON s.id = r.series_id
                    CROSS JOIN LATERAL unnest(r.sketch_keys, r.sketch_counts) AS u(k, c)
                    WHERE s.project_id = %(project)s AND r.bucket >= %(a)s AND r.bucket < %(b)s
                    GROUP BY 1, 2, 3) AS kc
              GROUP BY 1, 2) AS k USING (series_id, bucket)""", window)


def _rollup_names(project) -> None:
    """The name-level hourly rollup, merged from the loaded series-level hourly rollups."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("DELETE FROM events_metricnamerollup1h WHERE project_id = %s",
                       [project.pk])
        cursor.execute("""
            INSERT INTO events_metricnamerollup1h (project_id, name, bucket, count, sum, min,
                max, sketch_keys, sketch_counts, last_at, last)
            SELECT a.project_id, a.name, a.bucket, a.count, a.sum, a.min, a.max, k.keys,
                   k.counts, a.last_at, a.last
            FROM (SELECT s.project_id, s.name, r.bucket, sum(r.count)::bigint AS count,
                         sum(r.sum) AS sum, min(r.min) AS min, max(r.max) AS max,
                         max(r.last_at) AS last_at,
                         (array_agg(r.last ORDER BY r.last_at DESC))[1] AS last
                  FROM events_metricrollup1h r JOIN events_metricseries s ON s.id = r.series_id
                  WHERE s.project_id = %(project)s GROUP BY 1, 2, 3) AS a
            JOIN (SELECT project_id, name, bucket, array_agg(k ORDER BY k) AS keys,
                         array_agg(c ORDER BY k) AS counts
                  FROM (SELECT s.project_id, s.name, r.bucket, u.k, sum(u.c)::bigint AS c
                        FROM events_metricrollup1h r
                        JOIN events_metricseries s ON s.id = r.series_id
                        CROSS JOIN LATERAL unnest(r.sketch_keys, r.sketch_counts) AS u(k, c)
                        WHERE s.project_id = %(project)s GROUP BY 1, 2, 3, 4) AS kc
                  GROUP BY 1, 2, 3) AS k USING (project_id, name, bucket)""",
                       {"project": project.pk})
        cursor.execute("ANALYZE events_metricnamerollup1h")


def _rollup_sessions(project) -> None:
    """The hour and session rollups of the loaded events (one statement each)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("DELETE FROM events_hourrollup WHERE project_id = %s", [project.pk])
        cursor.execute("""
            INSERT INTO events_hourrollup (project_id, hour, count, pageviews, sessions,
                                           distinct_ids)
            SELECT project_id, date_trunc('hour', "timestamp", 'UTC'), count(*),
                   count(*) FILTER (WHERE event IN ('page_view', '$pageview')),
                   coalesce(array_agg(DISTINCT hashtextextended(session_id, 0))
                            FILTER (WHERE session_id IS NOT NULL), '{}'),
                   array_agg(DISTINCT hashtextextended(distinct_id, 0))
            FROM events_event WHERE project_id = %s GROUP BY 1, 2""", [project.pk])
        cursor.execute("DELETE FROM events_sessionrollup WHERE project_id = %s", [project.pk])
        cursor.execute("""
            INSERT INTO events_sessionrollup (project_id, session_id, started_at, ended_at,
                                              events, pageviews)
            SELECT project_id, session_id, min("timestamp"), max("timestamp"), count(*),
                   count(*) FILTER (WHERE event IN ('page_view', '$pageview'))
            FROM events_event WHERE project_id = %s AND session_id IS NOT NULL
            GROUP BY 1, 2""", [project.pk])
        cursor.execute("DELETE FROM events_sessionhour WHERE project_id = %s", [project.pk])
        cursor.execute("""
            INSERT INTO events_sessionhour (project_id, hour, sessions, with_pageviews, bounces,
                                            duration_sum)
            SELECT project_id, date_trunc('hour', started_at, 'UTC'), count(*),
                   count(*) FILTER (WHERE pageviews > 0),
                   count(*) FILTER (WHERE pageviews = 1 AND events = 1),
                   coalesce(sum(extract(epoch FROM ended_at - started_at)), 0)
            FROM events_sessionrollup WHERE project_id = %s GROUP BY 1, 2""", [project.pk])
        cursor.execute("ANALYZE events_hourrollup")
        cursor.execute("ANALYZE events_sessionrollup")
        cursor.execute("ANALYZE events_sessionhour")


def _rollup_events(cursor, window: dict) -> None:
    cursor.execute("""
        INSERT INTO events_eventrollup1h (project_id, hour, event, count, sessions, distinct_ids)
        SELECT project_id, date_trunc('hour', "timestamp", 'UTC'), event, count(*),
               coalesce(array_agg(DISTINCT hashtextextended(session_id, 0))
                        FILTER (WHERE session_id IS NOT NULL), '{}'),
               array_agg(DISTINCT hashtextextended(distinct_id, 0))
        FROM events_event
        WHERE project_id = %(project)s AND "timestamp" >= %(a)s AND "timestamp" < %(b)s
        GROUP BY 1, 2, 3""", window)


# -- timing ---------------------------------------------------------------------------------------
def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 1)


def _time(label: str, runs: int, call) -> float:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        answer = call()
        samples.append((time.perf_counter() - began) * 1000)
    meta = answer.get("meta", {}) if isinstance(answer, dict) else {}
    _log(f"  {label:<14} p50 {statistics.median(samples):7.1f} ms   p95 {_p95(samples):7.1f} ms"
         f"   ({meta.get('table', 'raw events')}, {meta.get('series', '-')} series, "
         f"cached {meta.get('cached', '-')})")
    return _p95(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--external", action="store_true")
    args = parser.parse_args()
    if args.external:
        _external_env()
    elif not os.environ.get("BENCH_INNER"):
        _reexec_embedded(sys.argv[1:])
    _setup()

    from django.contrib.auth import get_user_model

    from events.models import Event, MetricSeries
    from events.query import analytics, execute
    from projects import services
    from projects.models import Project

    owner, _ = get_user_model().objects.get_or_create(username="bench")
    project = Project.objects.filter(slug="bench-query").first()
    expected_events = int(EVENTS_AT_SCALE_1 * args.scale / DAYS) * DAYS
    loaded = (project is not None and MetricSeries.objects.filter(project=project).count()
              == len(METRICS) * HOSTS
              and Event.objects.filter(project=project).count() >= expected_events * 0.9)
    start = (datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
             - timedelta(days=DAYS))
    if args.reload or not loaded:
        if project is not None:
            project.delete()
            from django.db import connection

            from events.models import DATA_TABLES
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE " + ", ".join(DATA_TABLES))
        project = services.create_project(name="Bench Query", owner=owner, slug="bench-query")
        project.raw_retention_days = DAYS + 1
        project.minute_rollup_retention_days = DAYS + 1
        project.save()
        _log(f"loading {DAYS} days at scale {args.scale} ...")
        began = time.perf_counter()
        load(project, args.scale, start)
        _log(f"loaded in {time.perf_counter() - began:.0f} s")
    if not _count("SELECT count(*) FROM events_metricnamerollup1h"):
        began = time.perf_counter()
        _rollup_names(project)
        _log(f"name-level rollup built in {time.perf_counter() - began:.0f} s")
    if not _count("SELECT count(*) FROM events_sessionrollup"):
        began = time.perf_counter()
        _rollup_sessions(project)
        _log(f"hour and session rollups built in {time.perf_counter() - began:.0f} s")
    points = _count("SELECT count(*) FROM events_metricpoint")
    events = _count("SELECT count(*) FROM events_event")
    _log(f"data: {points:,} metric points in {len(METRICS) * HOSTS} series, {events:,} events, "
         f"over {DAYS} days")

    month = {"start": "now-30d", "end": "now", "step": "1h"}
    check = {q: execute(project, query="sum:http.requests{host:web-07}", start=start.isoformat(),
                        end=(start + timedelta(days=1)).isoformat(), step="1h", use_cache=False,
                        table=q)["data"][0]["points"] for q in ("raw", "1h")}
    assert check["raw"] == check["1h"], "rollup and raw answers differ"
    _log("spot check: a day of sum:http.requests from rollup_1h equals raw")

    runs = args.runs
    # The last hour of the loaded data (which may have been loaded a while ago), at raw step.
    data_end = datetime.fromisoformat(_scalar('SELECT max("timestamp") FROM events_metricpoint'))
    last_hour = data_end - timedelta(hours=1)
    figures = {
        "rollup_30d_p95_ms": _time("rollup_30d", runs, lambda: execute(
            project, query="avg:cpu.user{} by {host}", use_cache=False, **month)),
        "raw_1h_p95_ms": _time("raw_1h", runs, lambda: execute(
            project, query="avg:http.latency_ms{} by {host}", start=last_hour.isoformat(),
            end=data_end.isoformat(), use_cache=False)),
        "overview_30d_p95_ms": _time("overview_30d", max(3, runs // 3), lambda: analytics.overview(
            project.pk, analytics.window("now-30d", "now"), use_cache=False)),
        "sketch_30d_p95_ms": _time("sketch_30d", runs, lambda: execute(
            project, query="p95:http.latency_ms{}", use_cache=False, **month)),
    }
    execute(project, query="avg:cpu.user{} by {host}", **month)
    figures["cached_p95_ms"] = _time("cached", runs, lambda: execute(
        project, query="avg:cpu.user{} by {host}", **month))
    print(json.dumps(figures))


def _scalar(statement: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchone()[0].isoformat()


def _count(statement: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchone()[0]


if __name__ == "__main__":
    main()
