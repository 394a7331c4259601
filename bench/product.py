"""Product analytics benchmark: funnels, retention, paths, breakdowns, the event explorer and the
overview over 30 days of 10 million events from 2 million people, uncached and cached.

    .venv/bin/python bench/product.py [--runs 10] [--reload] [--external]

Data: 30 days, about 91,500 sessions a day from 2 million people (a returning tenth of them makes
30 % of the sessions; each of the others comes in turn, once or twice), 2-5 page views each over 40
paths, the sign-up funnel (``/pricing`` → ``signup_started`` → ``signup_completed`` → ``purchase``)
for some of the sessions that see the pricing page, a quarter of the people identified (their
anonymous id linked to a user id on a day of their own, so funnels and retention merge both),
campaigns and channels on landing pages, twelve countries, 3 % bot sessions. It is loaded once into
its own database and kept: without ``--external`` an embedded PostgreSQL and Redis in
``var/bench-product/`` (reused by later runs; ``--reload`` loads again); with ``--external`` the
servers of ``DATABASE_URL`` / ``REDIS_URL``, database ``analytics_bench_product``. Loading is
set-based SQL straight into the partitioned table, then every rollup the reports read (hourly event
and per-dimension rollups with their sketches, sessions, people) built in SQL as the fold would
have built them, and the paths per hour and day (``events.pathhours``).

Timed, each ``--runs`` times through ``events.query`` in this process after one untimed call,
with the answer cache off ("uncached") and on ("cached"; PostgreSQL's own buffers are warm either
way):

- funnel_3_steps_30d: page view of /pricing → signup_started → signup_completed, 30 days,
  conversion window 1 day, ordered
- retention_8_weeks: weekly cohorts by first event over 8 weeks, returning on any event
- paths_30d: the next three pages from /pricing, 30 days
- breakdown_30d: top pages for 30 days (page views, visitors, sessions)
- explorer_page: the newest 50 events (keyset page), then the next page
- overview_30d: the overview KPIs for 30 days and the 30 before

Last line: {"events", "people", "funnel_3_steps_30d_p95_ms", …, "overview_30d_p95_ms", and
each with "_cached_p95_ms"}. Loopback only; bounded by the load's size and --runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DAYS = 30
SESSIONS_PER_DAY = 91_500
PEOPLE = 2_000_000
RETURNING = 200_000
PATHS = ["/", "/pricing", "/docs", "/blog/", "/features", "/docs/getting-started", "/about",
         "/changelog", "/docs/api", "/integrations", "/customers", "/security", "/careers",
         "/contact", "/blog/launch-week", "/blog/postgres", "/blog/self-hosting", "/compare",
         "/docs/sdk/js", "/docs/sdk/python", "/docs/queries", "/docs/alerts", "/docs/faq",
         "/status", "/terms", "/privacy", "/partners", "/events", "/webinars", "/jobs/eng",
         "/jobs/design", "/press", "/brand", "/docs/self-host", "/docs/upgrade", "/templates",
         "/templates/saas", "/templates/shop", "/login", "/account"]
COUNTRIES = ["US", "US", "US", "DE", "DE", "GB", "GB", "FR", "IN", "IN", "BR", "CA", "NL", "JP",
             "ES", "PL", "AU"]


def _reexec_embedded(args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATA_DIR"] = str(BASE_DIR / "var" / "bench-product")
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
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = "
                            "'analytics_bench_product'").fetchone():
            conn.execute("CREATE DATABASE analytics_bench_product")
    os.environ["DATABASE_URL"] = url._replace(path="/analytics_bench_product").geturl()
    os.environ.setdefault("CACHE_KEY_PREFIX", "bench-product")


def _setup() -> None:
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _log(message: str) -> None:
    print(message, flush=True)


# -- loading --------------------------------------------------------------------------------------
# One row per session of the day: who, when, where from, on what.
SESSIONS_SQL = """
CREATE TEMP TABLE day_sessions AS
SELECT x.*,
       CASE WHEN x.person %% 4 = 0 AND %(day)s >= x.person %% 30
            THEN 'u' || x.person ELSE 'a' || x.person END AS distinct_id,
       (x.h3 %% 4) + 2 AS views
FROM (
    SELECT sk, 's' || sk AS session_id,
           CASE WHEN h1 %% 10 < 3 THEN h2 %% %(returning)s
                ELSE %(returning)s + (%(newcomers)s + count(*) FILTER (WHERE h1 %% 10 >= 3)
                                      OVER (ORDER BY sk) - 1) %% (%(people)s - %(returning)s)
                END AS person,
           %(a)s::timestamptz + make_interval(secs => h3 %% 86000) AS started,
           h1 %% 100 < 3 AS bot, h3, h4, h5, h6
    FROM (SELECT %(day)s::bigint * 1000000 + n AS sk,
                 hashint8(%(day)s::bigint * 1000000 + n) & 2147483647 AS h1,
                 hashint8(%(day)s::bigint * 7000003 + n) & 2147483647 AS h2,
                 hashint8(%(day)s::bigint * 5000011 + n * 3) & 2147483647 AS h3,
                 hashint8(%(day)s::bigint * 3000017 + n * 5) & 2147483647 AS h4,
                 hashint8(%(day)s::bigint * 2000029 + n * 7) & 2147483647 AS h5,
                 hashint8(%(day)s::bigint * 1000033 + n * 11) & 2147483647 AS h6
          FROM generate_series(0, %(sessions)s - 1) AS n) AS h
) AS x
"""

# The page views: slot 0 lands from a source, the rest move inside the site.
PAGEVIEWS_SQL = """
CREATE TEMP TABLE day_views AS
SELECT s.*, k,
       (%(paths)s::text[])[1 + least(39, floor(40 * power(
            ((hashint8(s.sk * 10 + k) & 2147483647) %% 10000) / 10000.0, 2.2))::int)] AS path,
       s.started + make_interval(secs => k * 45 + (hashint8(s.sk * 20 + k) & 31)) AS ts
FROM day_sessions s, generate_series(0, 4) AS k
WHERE k < s.views
"""

INSERT_SQL = """
INSERT INTO events_event (project_id, uuid, event, distinct_id, person_id, session_id,
    "timestamp", received_at, properties, page_url, path, referrer, referrer_domain, browser, os,
    device_type, country, channel, utm_source, utm_medium, utm_campaign, is_bot)
SELECT %(project)s, gen_random_uuid(), e.event, e.distinct_id, e.distinct_id, e.session_id,
       e.ts, e.ts, e.props, 'https://app.example' || e.path || coalesce(e.query, ''), e.path,
       e.referrer, e.referrer_domain,
       CASE WHEN e.bot THEN 'Googlebot' ELSE (ARRAY['Chrome', 'Chrome', 'Safari', 'Firefox',
            'Edge'])[1 + e.h5 %% 5] END,
       CASE WHEN e.bot THEN NULL ELSE (ARRAY['Windows', 'Mac OS X', 'iOS', 'Android',
            'Linux'])[1 + (e.h5 / 5) %% 5] END,
       CASE WHEN e.bot THEN 'bot' ELSE (ARRAY['desktop', 'desktop', 'mobile', 'mobile',
            'tablet'])[1 + (e.h5 / 25) %% 5] END,
       (%(countries)s::text[])[1 + (e.h5 / 125) %% %(n_countries)s],
       e.channel, e.utm_source, e.utm_medium, e.utm_campaign, e.bot
FROM (
    SELECT v.distinct_id, v.session_id, v.ts, v.path, v.bot, v.h5, 'page_view' AS event,
           jsonb_build_object('title', v.path) AS props,
           CASE WHEN v.k = 0 THEN src.query END AS query,
           CASE WHEN v.k = 0 THEN src.referrer END AS referrer,
           CASE WHEN v.k = 0 THEN src.domain END AS referrer_domain,
           CASE WHEN v.k = 0 THEN src.channel END AS channel,
           CASE WHEN v.k = 0 THEN src.utm_source END AS utm_source,
           CASE WHEN v.k = 0 THEN src.utm_medium END AS utm_medium,
           CASE WHEN v.k = 0 THEN src.utm_campaign END AS utm_campaign
    FROM day_views v
    JOIN (VALUES (0, 35, NULL, 'https://www.google.com/', 'google.com', 'organic_search', NULL,
                  NULL, NULL),
                 (35, 50, NULL, NULL, NULL, 'direct', NULL, NULL, NULL),
                 (50, 60, '?utm_source=twitter&utm_campaign=launch', 'https://t.co/x',
                  't.co', 'social', 'twitter', NULL, 'launch'),
                 (60, 70, '?utm_source=newsletter&utm_medium=email&utm_campaign=weekly', NULL,
                  NULL, 'email', 'newsletter', 'email', 'weekly'),
                 (70, 80, '?utm_source=google&utm_medium=cpc&utm_campaign=brand',
                  'https://www.google.com/', 'google.com', 'paid_search', 'google', 'cpc',
                  'brand'),
                 (80, 92, NULL, 'https://github.com/', 'github.com', 'referral', NULL, NULL,
                  NULL),
                 (92, 100, NULL, 'https://news.ycombinator.com/', 'news.ycombinator.com',
                  'social', NULL, NULL, NULL))
         AS src(lo, hi, query, referrer, domain, channel, utm_source, utm_medium, utm_campaign)
         ON v.h6 %% 100 >= src.lo AND v.h6 %% 100 < src.hi
    UNION ALL
    -- The sign-up funnel, for some of the sessions that saw /pricing.
    SELECT f.distinct_id, f.session_id, f.last + make_interval(secs => 30 * n.step), '/signup',
           f.bot, f.h5, n.event,
           CASE WHEN n.event = 'purchase' THEN jsonb_build_object('amount', 49, 'plan', 'team')
                ELSE jsonb_build_object('plan', (ARRAY['starter', 'team', 'business'])
                                                [1 + f.h4 %% 3]) END,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM (SELECT distinct_id, session_id, bot, h4, h5, max(ts) AS last
          FROM day_views GROUP BY 1, 2, 3, 4, 5
          HAVING bool_or(path = '/pricing')) AS f
    JOIN (VALUES (1, 'signup_started', 40), (2, 'signup_completed', 20),
                 (3, 'purchase', 6)) AS n(step, event, pct)
         ON f.h4 %% 100 < n.pct
) AS e
"""


def load(project, start: datetime) -> None:
    from django.db import connection

    from events import partitions

    partitions.ensure_partitions(start=start.date() - timedelta(days=1), days=DAYS + 3)
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        newcomers = 0  # sessions of the others so far: each of them comes in turn
        for day in range(DAYS):
            began = time.perf_counter()
            a = start + timedelta(days=day)
            params = {"project": project.pk, "day": day, "a": a, "sessions": SESSIONS_PER_DAY,
                      "people": PEOPLE, "returning": RETURNING, "paths": PATHS,
                      "countries": COUNTRIES, "n_countries": len(COUNTRIES),
                      "newcomers": newcomers}
            cursor.execute("DROP TABLE IF EXISTS day_sessions, day_views")
            cursor.execute(SESSIONS_SQL, params)
            cursor.execute("SELECT count(*) FROM day_sessions WHERE person >= %s", [RETURNING])
            newcomers += cursor.fetchone()[0]
            cursor.execute(PAGEVIEWS_SQL, params)
            cursor.execute(INSERT_SQL, params)
            _log(f"  day {day + 1:2d}/{DAYS}: {cursor.rowcount:,} events in "
                 f"{time.perf_counter() - began:.1f} s")
        cursor.execute("""
            INSERT INTO events_personalias (project_id, distinct_id, person_id, created_at)
            SELECT %s, 'a' || n, 'u' || n, now()
            FROM generate_series(0, %s - 1, 4) AS n""", [project.pk, PEOPLE])
        _log(f"  {cursor.rowcount:,} identify links")


ROLLUPS = [
    ("hourly event rollups", """
        INSERT INTO events_eventrollup1h (project_id, hour, event, count, sessions, distinct_ids)
        SELECT project_id, date_trunc('hour', "timestamp", 'UTC'), event, count(*),
               coalesce(array_agg(DISTINCT hashtextextended(session_id, 0))
                        FILTER (WHERE session_id IS NOT NULL), '{}'),
               array_agg(DISTINCT hashtextextended(distinct_id, 0))
        FROM events_event WHERE project_id = %(project)s GROUP BY 1, 2, 3"""),
    ("hour rollup", """
        INSERT INTO events_hourrollup (project_id, hour, count, pageviews, sessions,
                                       distinct_ids)
        SELECT project_id, date_trunc('hour', "timestamp", 'UTC'), count(*),
               count(*) FILTER (WHERE event IN ('page_view', '$pageview')),
               coalesce(array_agg(DISTINCT hashtextextended(session_id, 0))
                        FILTER (WHERE session_id IS NOT NULL), '{}'),
               array_agg(DISTINCT hashtextextended(distinct_id, 0))
        FROM events_event WHERE project_id = %(project)s GROUP BY 1, 2"""),
    ("session rollup", """
        INSERT INTO events_sessionrollup (project_id, session_id, started_at, ended_at, events,
            pageviews, bot, person_id, entry_at, entry_path, exit_at, exit_path, country,
            device_type, browser, os, channel, referrer_domain, utm_source, utm_campaign, pages,
            pages_at)
        SELECT project_id, session_id, min("timestamp"), max("timestamp"), count(*),
               count(*) FILTER (WHERE event = 'page_view'), bool_or(is_bot),
               (array_agg(person_id ORDER BY "timestamp"))[1],
               min("timestamp") FILTER (WHERE event = 'page_view'),
               (array_agg(path ORDER BY "timestamp") FILTER (WHERE event = 'page_view'))[1],
               max("timestamp") FILTER (WHERE event = 'page_view'),
               (array_agg(path ORDER BY "timestamp" DESC)
                FILTER (WHERE event = 'page_view'))[1],
               min(country), min(device_type), min(browser), min(os), min(channel),
               min(referrer_domain), min(utm_source), min(utm_campaign),
               (array_agg(path ORDER BY "timestamp") FILTER (WHERE event = 'page_view'))[1:50],
               (array_agg("timestamp" ORDER BY "timestamp")
                FILTER (WHERE event = 'page_view'))[1:50]
        FROM events_event WHERE project_id = %(project)s GROUP BY 1, 2"""),
    ("session hours", """
        INSERT INTO events_sessionhour (project_id, hour, bot, sessions, with_pageviews,
                                        bounces, duration_sum)
        SELECT project_id, date_trunc('hour', started_at, 'UTC'), bot, count(*),
               count(*) FILTER (WHERE pageviews > 0),
               count(*) FILTER (WHERE pageviews = 1 AND events = 1),
               coalesce(sum(extract(epoch FROM ended_at - started_at)), 0)
        FROM events_sessionrollup WHERE project_id = %(project)s GROUP BY 1, 2, 3"""),
    ("people", """
        INSERT INTO events_person (project_id, person_id, first_seen, last_seen, events,
                                   bot_events, properties, properties_at, active_hours)
        SELECT e.project_id, coalesce(a.person_id, e.person_id), min(e."timestamp"),
               max(e."timestamp"), count(*), count(*) FILTER (WHERE e.is_bot),
               CASE WHEN coalesce(a.person_id, e.person_id) LIKE 'u%%'
                    THEN jsonb_build_object('plan', 'team', 'email',
                         coalesce(a.person_id, e.person_id) || '@example.com')
                    ELSE '{}' END, NULL,
               array_agg(DISTINCT events_hour_of(e."timestamp")
                         ORDER BY events_hour_of(e."timestamp"))
        FROM events_event e LEFT JOIN events_personalias a
             ON a.project_id = e.project_id AND a.distinct_id = e.person_id
        WHERE e.project_id = %(project)s GROUP BY 1, 2"""),
]

# The per-dimension rollups, hour and day, as the fold builds them (KMV sketches cut at k).
DIMS_SQL = """
INSERT INTO {table} (project_id, dim, bucket, value, bot, events, pageviews, visitors, sessions)
SELECT project_id, dim, bucket, value, bot, count(*), count(*) FILTER (WHERE pv),
       (array_agg(DISTINCT vh ORDER BY vh))[1:CASE WHEN dim = 'all' THEN 2048 ELSE 512 END],
       (array_agg(DISTINCT sh ORDER BY sh))[1:CASE WHEN dim = 'all' THEN 2048 ELSE 512 END]
FROM (SELECT e.project_id, date_trunc({grain}, e."timestamp", 'UTC') AS bucket, e.is_bot AS bot,
             e.event = 'page_view' AS pv, hashtextextended(e.person_id, 0) AS vh,
             hashtextextended(e.session_id, 0) AS sh, d.dim, d.value
      FROM events_event e CROSS JOIN LATERAL (VALUES
          ('all', ''), ('event', e.event),
          ('path', CASE WHEN e.event = 'page_view' THEN e.path END),
          ('referrer', e.referrer_domain), ('browser', e.browser), ('os', e.os),
          ('device', e.device_type), ('country', e.country), ('channel', e.channel),
          ('utm_source', e.utm_source), ('utm_medium', e.utm_medium),
          ('utm_campaign', e.utm_campaign)) AS d(dim, value)
      WHERE e.project_id = %(project)s AND e."timestamp" >= %(a)s AND e."timestamp" < %(b)s
        AND d.value IS NOT NULL) AS x
GROUP BY 1, 2, 3, 4, 5
"""


DAYS_SQL = """
INSERT INTO events_dimrollup1d (project_id, dim, bucket, value, bot, events, pageviews,
                                visitors, sessions)
SELECT d.project_id, d.dim, d.day, d.value, d.bot, d.events, d.pageviews,
       (SELECT (array_agg(DISTINCT h ORDER BY h))[1:d.k]
        FROM events_dimrollup1h x, unnest(x.visitors) AS u(h)
        WHERE x.project_id = d.project_id AND x.dim = d.dim AND x.value = d.value
          AND x.bot = d.bot AND x.bucket >= d.day AND x.bucket < d.day + interval '1 day'),
       (SELECT (array_agg(DISTINCT h ORDER BY h))[1:d.k]
        FROM events_dimrollup1h x, unnest(x.sessions) AS u(h)
        WHERE x.project_id = d.project_id AND x.dim = d.dim AND x.value = d.value
          AND x.bot = d.bot AND x.bucket >= d.day AND x.bucket < d.day + interval '1 day')
FROM (SELECT project_id, dim, date_trunc('day', bucket, 'UTC') AS day, value, bot,
             sum(events) AS events, sum(pageviews) AS pageviews,
             CASE WHEN dim = 'all' THEN 2048 ELSE 512 END AS k
      FROM events_dimrollup1h WHERE project_id = %(project)s
      GROUP BY 1, 2, 3, 4, 5) AS d
"""


SESSION_PAGES_SQL = """
UPDATE events_sessionrollup r SET pages = p.pages, pages_at = p.pages_at
FROM (SELECT session_id,
             (array_agg(path ORDER BY "timestamp") FILTER (WHERE event = 'page_view'))[1:50]
                 AS pages,
             (array_agg("timestamp" ORDER BY "timestamp")
              FILTER (WHERE event = 'page_view'))[1:50] AS pages_at
      FROM events_event WHERE project_id = %(project)s GROUP BY 1) AS p
WHERE r.project_id = %(project)s AND r.session_id = p.session_id
"""


def finish_rollups(project) -> None:
    """What a load that stopped early, or a schema newer than the load, still lacks: the day
    rollups, the sessions' page lists, the statistics."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("SET work_mem = '256MB'")
        began = time.perf_counter()
        cursor.execute("SELECT count(*) FROM events_dimrollup1d")
        if not cursor.fetchone()[0]:
            cursor.execute(DAYS_SQL, {"project": project.pk})
            _log(f"  day rollups: {cursor.rowcount:,} rows in "
                 f"{time.perf_counter() - began:.0f} s")
        cursor.execute("SELECT EXISTS (SELECT 1 FROM events_sessionrollup "
                       "WHERE pages IS NOT NULL)")
        if not cursor.fetchone()[0]:
            cursor.execute(SESSION_PAGES_SQL, {"project": project.pk})
            _log(f"  session pages: {cursor.rowcount:,} sessions in "
                 f"{time.perf_counter() - began:.0f} s")
        cursor.execute("SELECT EXISTS (SELECT 1 FROM events_pathhour)")
        if not cursor.fetchone()[0]:
            from events import pathhours

            began = time.perf_counter()
            built = pathhours.build_due()
            _log(f"  path hours: {len(built)} hours in {time.perf_counter() - began:.0f} s")
        cursor.execute("VACUUM ANALYZE")


def build_rollups(project, start: datetime) -> None:
    from django.db import connection
    from psycopg import sql

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("SET work_mem = '256MB'")
        for name, statement in ROLLUPS:
            began = time.perf_counter()
            cursor.execute(statement, {"project": project.pk})
            _log(f"  {name}: {cursor.rowcount:,} rows in {time.perf_counter() - began:.0f} s")
        began = time.perf_counter()
        for day in range(DAYS + 1):
            window = {"project": project.pk, "a": start + timedelta(days=day),
                      "b": start + timedelta(days=day + 1)}
            cursor.execute(sql.SQL(DIMS_SQL).format(table=sql.Identifier("events_dimrollup1h"),
                                                    grain=sql.Literal("hour")), window)
        _log(f"  hour dimension rollups in {time.perf_counter() - began:.0f} s")
    # A day's sketch is the k smallest of its hours' sketches (a KMV sketch of a union).
    finish_rollups(project)


# -- timing ---------------------------------------------------------------------------------------
def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 1)


def _time(label: str, runs: int, call) -> float:
    call()  # once untimed: the first call also reads the report's rows into PostgreSQL's buffers
    samples = []
    answer = None
    for _ in range(runs):
        began = time.perf_counter()
        answer = call()
        samples.append((time.perf_counter() - began) * 1000)
    meta = answer.get("meta", {}) if isinstance(answer, dict) else {}
    _log(f"  {label:<22} p50 {statistics.median(samples):7.1f} ms   p95 {_p95(samples):7.1f} ms"
         f"   (cached {meta.get('cached', '-')})")
    return _p95(samples)


def reports(project, use_cache: bool) -> dict:
    """The six reports, each a call of the read path."""
    from events.query import analytics as overview
    from events.query import explorer, funnels, paths, retention
    from events.query.filters import Filters

    tz = project.timezone
    month = overview.window("now-30d", "now", tz=tz)
    eight_weeks = overview.window("now-56d", "now", tz=tz)
    none = Filters()
    steps = funnels.parse_steps([{"event": "page_view", "filters": ["path:/pricing"]},
                                 {"event": "signup_started"}, {"event": "signup_completed"}])
    return {
        "funnel_3_steps_30d": lambda: funnels.funnel(
            project.pk, month, steps=steps, window_s=86400, order="ordered", filters=none,
            use_cache=use_cache),
        "retention_8_weeks": lambda: retention.retention(
            project.pk, eight_weeks, period="week", cohort_event=None, return_event=None,
            filters=none, use_cache=use_cache),
        "paths_30d": lambda: paths.paths(project.pk, month, start="/pricing", kind="pages",
                                         direction="next", depth=3, filters=none,
                                         use_cache=use_cache),
        "breakdown_30d": lambda: overview.breakdown(project.pk, "top-pages", month, 10,
                                                    use_cache=use_cache),
        "explorer_page": lambda: _two_pages(explorer, project, use_cache),
        "overview_30d": lambda: overview.overview(project.pk, month, use_cache=use_cache),
    }


def _two_pages(explorer, project, use_cache: bool) -> dict:
    from events.query import analytics as overview
    from events.query.filters import Filters

    span = overview.window("now-30d", "now", tz=project.timezone)
    first = explorer.events_page(project.pk, span, filters=Filters(), limit=50,
                                 use_cache=use_cache)
    return explorer.events_page(project.pk, span, filters=Filters(), limit=50,
                                after=first["next"], use_cache=use_cache)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--external", action="store_true")
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--only", help="time one report (funnel_3_steps_30d, …)")
    args = parser.parse_args()
    if args.external:
        _external_env()
    elif not os.environ.get("BENCH_INNER"):
        _reexec_embedded(sys.argv[1:])
    _setup()

    from django.contrib.auth import get_user_model
    from django.db import connection

    from events.models import DATA_TABLES, Event
    from projects import services
    from projects.models import Project

    owner, _ = get_user_model().objects.get_or_create(username="bench")
    project = Project.objects.filter(slug="bench-product").first()
    loaded = project is not None and Event.objects.filter(project=project).exists()
    start = (datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
             - timedelta(days=DAYS))
    if args.reload or not loaded:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE events_personalias, " + ", ".join(DATA_TABLES))
        if project is None:  # the bench's own database: only this project's data in it
            project = services.create_project(name="Bench Product", owner=owner,
                                              slug="bench-product")
        project.raw_retention_days = DAYS + 1
        project.minute_rollup_retention_days = DAYS + 1
        project.save()
        _log(f"loading {DAYS} days ...")
        began = time.perf_counter()
        load(project, start)
        build_rollups(project, start)
        _log(f"loaded in {time.perf_counter() - began:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM events_dimrollup1d), EXISTS (SELECT 1 "
                       "FROM events_sessionrollup WHERE pages IS NOT NULL), "
                       "EXISTS (SELECT 1 FROM events_pathhour)")
        if not all(cursor.fetchone()):
            finish_rollups(project)
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")  # the summary scans every event
        cursor.execute("SELECT count(*), count(DISTINCT person_id) FROM events_event")
        events, ids = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM events_person")
        people = cursor.fetchone()[0]
    _log(f"data: {events:,} events, {ids:,} ids, {people:,} people over {DAYS} days")
    if args.load_only:
        return

    figures = {"events": events, "people": people}
    uncached = reports(project, use_cache=False)
    cached = reports(project, use_cache=True)
    if args.only:
        uncached = {args.only: uncached[args.only]}
        cached = {args.only: cached[args.only]}
    for name, call in uncached.items():
        try:
            figures[f"{name}_p95_ms"] = _time(name, args.runs, call)
        except Exception as exc:  # a report over the query timeout: say so, time the rest
            _log(f"  {name}: {type(exc).__name__}: {exc}")
            figures[f"{name}_p95_ms"] = None
    for name, call in cached.items():
        if figures.get(f"{name}_p95_ms") is None:
            continue
        figures[f"{name}_cached_p95_ms"] = _time(f"{name} (cached)", args.runs, call)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
