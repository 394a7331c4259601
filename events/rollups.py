"""Rollups: metric series per 1 minute and per 1 hour; events per hour and event name, per hour
(all events), per session, per hour and day and dimension value (with sketches of the people and
sessions), and per person.

The write path stores, beside each batch and in the same transaction, the batch's partial
aggregates (``events_metricdelta``, ``events_eventdelta``). ``fold()`` moves them into the rollup
tables: in one transaction it deletes a slice of deltas and adds them into the buckets they fall
in (count and sum add, min and max compare, sketches and hash sets merge). So

- every stored item is counted once: a delta is gone exactly when its sums are in;
- late data updates the old bucket it belongs to, like any other;
- nothing rescans raw rows, and concurrent batches never wait on a rollup row.

Beat runs ``fold()`` every 2 s (task ``events.fold_rollups``); an advisory lock keeps one folder
at a time, so a slow run is skipped over rather than doubled. Retention of the rollup tables is in
``events.retention``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import orjson
import psycopg
from django.db import IntegrityError, connection, transaction
from psycopg import sql

from . import freshness, live, partitions
from .models import PAGEVIEW_EVENTS

logger = logging.getLogger(__name__)

LOCK_ID = 0x726F6C6C  # "roll": pg_try_advisory_xact_lock key of the folder
SLICE = 20_000  # deltas per transaction

# A metric rollup row taking in more of the same bucket (1 minute, 1 hour, name-level).
_MERGE_METRIC = """
        count = r.count + EXCLUDED.count,
        sum = r.sum + EXCLUDED.sum,
        min = LEAST(r.min, EXCLUDED.min),
        max = GREATEST(r.max, EXCLUDED.max),
        last = CASE WHEN r.last_at IS NULL OR EXCLUDED.last_at >= r.last_at
                    THEN EXCLUDED.last ELSE r.last END,
        last_at = GREATEST(r.last_at, EXCLUDED.last_at),
        (sketch_keys, sketch_counts) = (
            SELECT keys, counts FROM events_sketch_merge(
                r.sketch_keys, r.sketch_counts, EXCLUDED.sketch_keys, EXCLUDED.sketch_counts))"""

FOLD_METRICS = sql.SQL("""
WITH taken AS (
    DELETE FROM events_metricdelta
    WHERE ctid = ANY(ARRAY(SELECT ctid FROM events_metricdelta LIMIT %(slice)s))
    RETURNING *
), by_key AS (
    SELECT series_id, minute, date_trunc('hour', minute, 'UTC') AS hour, k, sum(c)::bigint AS c
    FROM taken, unnest(sketch_keys, sketch_counts) AS u(k, c)
    GROUP BY series_id, minute, k
), minutes AS (
    INSERT INTO events_metricrollup1m AS r
        (series_id, bucket, count, sum, min, max, sketch_keys, sketch_counts, last_at, last)
    SELECT a.series_id, a.minute, a.count, a.sum, a.min, a.max, s.keys, s.counts, a.last_at,
           a.last
    FROM (SELECT series_id, minute, sum(count)::bigint AS count, sum(sum) AS sum,
                 min(min) AS min, max(max) AS max, max(last_at) AS last_at,
                 (array_agg(last ORDER BY last_at DESC NULLS LAST))[1] AS last
          FROM taken GROUP BY series_id, minute) AS a
    JOIN (SELECT series_id, minute, array_agg(k ORDER BY k) AS keys,
                 array_agg(c ORDER BY k) AS counts
          FROM by_key GROUP BY series_id, minute) AS s USING (series_id, minute)
    ON CONFLICT (series_id, bucket) DO UPDATE SET
{merge}
    RETURNING 1
), hours AS (
    INSERT INTO events_metricrollup1h AS r
        (series_id, bucket, count, sum, min, max, sketch_keys, sketch_counts, last_at, last)
    SELECT a.series_id, a.hour, a.count, a.sum, a.min, a.max, s.keys, s.counts, a.last_at,
           a.last
    FROM (SELECT series_id, date_trunc('hour', minute, 'UTC') AS hour,
                 sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
                 max(last_at) AS last_at,
                 (array_agg(last ORDER BY last_at DESC NULLS LAST))[1] AS last
          FROM taken GROUP BY 1, 2) AS a
    JOIN (SELECT series_id, hour, array_agg(k ORDER BY k) AS keys,
                 array_agg(c ORDER BY k) AS counts
          FROM (SELECT series_id, hour, k, sum(c)::bigint AS c
                FROM by_key GROUP BY series_id, hour, k) AS h
          GROUP BY series_id, hour) AS s USING (series_id, hour)
    ON CONFLICT (series_id, bucket) DO UPDATE SET
{merge}
    RETURNING 1
), named AS (
    SELECT s.project_id, s.name, date_trunc('hour', t.minute, 'UTC') AS hour, t.count, t.sum,
           t.min, t.max, t.last_at, t.last, t.sketch_keys, t.sketch_counts
    FROM taken t JOIN events_metricseries s ON s.id = t.series_id
), names AS (
    INSERT INTO events_metricnamerollup1h AS r
        (project_id, name, bucket, count, sum, min, max, sketch_keys, sketch_counts, last_at,
         last)
    SELECT a.project_id, a.name, a.hour, a.count, a.sum, a.min, a.max, s.keys, s.counts,
           a.last_at, a.last
    FROM (SELECT project_id, name, hour, sum(count)::bigint AS count, sum(sum) AS sum,
                 min(min) AS min, max(max) AS max, max(last_at) AS last_at,
                 (array_agg(last ORDER BY last_at DESC NULLS LAST))[1] AS last
          FROM named GROUP BY project_id, name, hour) AS a
    JOIN (SELECT project_id, name, hour, array_agg(k ORDER BY k) AS keys,
                 array_agg(c ORDER BY k) AS counts
          FROM (SELECT n.project_id, n.name, n.hour, u.k, sum(u.c)::bigint AS c
                FROM named n, unnest(n.sketch_keys, n.sketch_counts) AS u(k, c)
                GROUP BY 1, 2, 3, 4) AS h
          GROUP BY project_id, name, hour) AS s USING (project_id, name, hour)
    ON CONFLICT (project_id, name, bucket) DO UPDATE SET
{merge}
    RETURNING 1
)
SELECT (SELECT count(*) FROM taken), (SELECT count(*) FROM minutes), (SELECT count(*) FROM hours),
       (SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_array(project_id, name)), '[]')
        FROM named)
""").format(merge=sql.SQL(_MERGE_METRIC))

FOLD_EVENTS = """
WITH taken AS (
    DELETE FROM events_eventdelta
    WHERE ctid = ANY(ARRAY(SELECT ctid FROM events_eventdelta LIMIT %(slice)s))
    RETURNING *
), totals AS (
    SELECT project_id, hour, event, sum(count)::bigint AS count
    FROM taken GROUP BY project_id, hour, event
), session_sets AS (  -- (the deltas sorted by row first: their hashes need no sort by row)
    SELECT project_id, hour, event, array_agg(DISTINCT h ORDER BY h) AS hashes
    FROM (SELECT * FROM taken ORDER BY project_id, hour, event) AS t, unnest(t.sessions) AS u(h)
    GROUP BY project_id, hour, event
), distinct_id_sets AS (
    SELECT project_id, hour, event, array_agg(DISTINCT h ORDER BY h) AS hashes
    FROM (SELECT * FROM taken ORDER BY project_id, hour, event) AS t,
         unnest(t.distinct_ids) AS u(h)
    GROUP BY project_id, hour, event
), hours AS (
    INSERT INTO events_eventrollup1h AS r
        (project_id, hour, event, count, sessions, distinct_ids)
    SELECT t.project_id, t.hour, t.event, t.count, coalesce(s.hashes, '{}'),
           coalesce(d.hashes, '{}')
    FROM totals t
    LEFT JOIN session_sets s USING (project_id, hour, event)
    LEFT JOIN distinct_id_sets d USING (project_id, hour, event)
    ON CONFLICT (project_id, hour, event) DO UPDATE SET
        count = r.count + EXCLUDED.count,
        sessions = events_hash_union(r.sessions, EXCLUDED.sessions),
        distinct_ids = events_hash_union(r.distinct_ids, EXCLUDED.distinct_ids)
    RETURNING 1
), hour_totals AS (
    SELECT project_id, hour, sum(count)::bigint AS count,
           coalesce(sum(count) FILTER (WHERE event = ANY(%(pageviews)s)), 0)::bigint AS pageviews
    FROM taken GROUP BY project_id, hour
), hour_sessions AS (  -- an hour's sets: the union of its events' (far fewer hashes)
    SELECT project_id, hour, array_agg(DISTINCT h ORDER BY h) AS hashes
    FROM (SELECT * FROM session_sets ORDER BY project_id, hour) AS t, unnest(t.hashes) AS u(h)
    GROUP BY project_id, hour
), hour_distinct_ids AS (
    SELECT project_id, hour, array_agg(DISTINCT h ORDER BY h) AS hashes
    FROM (SELECT * FROM distinct_id_sets ORDER BY project_id, hour) AS t,
         unnest(t.hashes) AS u(h)
    GROUP BY project_id, hour
), whole_hours AS (
    INSERT INTO events_hourrollup AS r
        (project_id, hour, count, pageviews, sessions, distinct_ids)
    SELECT t.project_id, t.hour, t.count, t.pageviews, coalesce(s.hashes, '{}'),
           coalesce(d.hashes, '{}')
    FROM hour_totals t
    LEFT JOIN hour_sessions s USING (project_id, hour)
    LEFT JOIN hour_distinct_ids d USING (project_id, hour)
    ON CONFLICT (project_id, hour) DO UPDATE SET
        count = r.count + EXCLUDED.count,
        pageviews = r.pageviews + EXCLUDED.pageviews,
        sessions = events_hash_union(r.sessions, EXCLUDED.sessions),
        distinct_ids = events_hash_union(r.distinct_ids, EXCLUDED.distinct_ids)
    RETURNING 1
)
SELECT (SELECT count(*) FROM taken), (SELECT count(*) FROM hours),
       (SELECT coalesce(jsonb_agg(DISTINCT project_id), '[]') FROM taken)
"""

FOLD_SESSIONS = """
WITH taken AS (
    DELETE FROM events_sessiondelta
    WHERE ctid = ANY(ARRAY(SELECT ctid FROM events_sessiondelta LIMIT %(slice)s))
    RETURNING *
), incoming AS (
    SELECT project_id, session_id, min(started_at) AS started_at, max(ended_at) AS ended_at,
           sum(events)::bigint AS events, sum(pageviews)::bigint AS pageviews, bool_or(bot) AS bot,
           (array_agg(person_id ORDER BY started_at))[1] AS person_id,
           min(entry_at) AS entry_at,
           (array_agg(entry_path ORDER BY entry_at) FILTER (WHERE entry_at IS NOT NULL))[1]
               AS entry_path,
           max(exit_at) AS exit_at,
           (array_agg(exit_path ORDER BY exit_at DESC) FILTER (WHERE exit_at IS NOT NULL))[1]
               AS exit_path,
           (array_agg(country ORDER BY started_at) FILTER (WHERE country IS NOT NULL))[1]
               AS country,
           (array_agg(device_type ORDER BY started_at))[1] AS device_type,
           (array_agg(browser ORDER BY started_at))[1] AS browser,
           (array_agg(os ORDER BY started_at))[1] AS os,
           (array_agg(channel ORDER BY started_at) FILTER (WHERE channel IS NOT NULL))[1]
               AS channel,
           (array_agg(referrer_domain ORDER BY started_at)
            FILTER (WHERE referrer_domain IS NOT NULL))[1] AS referrer_domain,
           (array_agg(utm_source ORDER BY started_at) FILTER (WHERE utm_source IS NOT NULL))[1]
               AS utm_source,
           (array_agg(utm_campaign ORDER BY started_at)
            FILTER (WHERE utm_campaign IS NOT NULL))[1] AS utm_campaign
    FROM taken GROUP BY project_id, session_id
), incoming_pages AS (  -- the page views of the slice's deltas, in order, the first 50
    SELECT project_id, session_id, (array_agg(p ORDER BY at))[1:50] AS pages,
           (array_agg(at ORDER BY at))[1:50] AS pages_at
    FROM taken, unnest(taken.pages, taken.pages_at) AS u(p, at)
    GROUP BY project_id, session_id
), before AS (  -- the statement's snapshot: the sessions as they were before this fold
    SELECT r.* FROM events_sessionrollup r JOIN incoming i USING (project_id, session_id)
), merged AS (
    INSERT INTO events_sessionrollup AS r
        (project_id, session_id, started_at, ended_at, events, pageviews, bot, person_id,
         entry_at, entry_path, exit_at, exit_path, country, device_type, browser, os, channel,
         referrer_domain, utm_source, utm_campaign, pages, pages_at)
    SELECT i.*, coalesce(p.pages, '{}'), coalesce(p.pages_at, '{}')
    FROM incoming i LEFT JOIN incoming_pages p USING (project_id, session_id)
    ON CONFLICT (project_id, session_id) DO UPDATE SET
        started_at = LEAST(r.started_at, EXCLUDED.started_at),
        ended_at = GREATEST(r.ended_at, EXCLUDED.ended_at),
        events = r.events + EXCLUDED.events,
        pageviews = r.pageviews + EXCLUDED.pageviews,
        bot = r.bot OR EXCLUDED.bot,
        person_id = CASE WHEN EXCLUDED.started_at < r.started_at THEN EXCLUDED.person_id
                         ELSE r.person_id END,
        (entry_at, entry_path) = (
            SELECT CASE WHEN r.entry_at IS NULL OR EXCLUDED.entry_at < r.entry_at
                        THEN EXCLUDED.entry_at ELSE r.entry_at END,
                   CASE WHEN r.entry_at IS NULL OR EXCLUDED.entry_at < r.entry_at
                        THEN EXCLUDED.entry_path ELSE r.entry_path END),
        (exit_at, exit_path) = (
            SELECT CASE WHEN r.exit_at IS NULL OR EXCLUDED.exit_at >= r.exit_at
                        THEN EXCLUDED.exit_at ELSE r.exit_at END,
                   CASE WHEN r.exit_at IS NULL OR EXCLUDED.exit_at >= r.exit_at
                        THEN EXCLUDED.exit_path ELSE r.exit_path END),
        country = CASE WHEN EXCLUDED.started_at < r.started_at
                       THEN coalesce(EXCLUDED.country, r.country)
                       ELSE coalesce(r.country, EXCLUDED.country) END,
        channel = CASE WHEN EXCLUDED.started_at < r.started_at
                       THEN coalesce(EXCLUDED.channel, r.channel)
                       ELSE coalesce(r.channel, EXCLUDED.channel) END,
        referrer_domain = CASE WHEN EXCLUDED.started_at < r.started_at
                               THEN coalesce(EXCLUDED.referrer_domain, r.referrer_domain)
                               ELSE coalesce(r.referrer_domain, EXCLUDED.referrer_domain) END,
        utm_source = CASE WHEN EXCLUDED.started_at < r.started_at
                          THEN coalesce(EXCLUDED.utm_source, r.utm_source)
                          ELSE coalesce(r.utm_source, EXCLUDED.utm_source) END,
        utm_campaign = CASE WHEN EXCLUDED.started_at < r.started_at
                            THEN coalesce(EXCLUDED.utm_campaign, r.utm_campaign)
                            ELSE coalesce(r.utm_campaign, EXCLUDED.utm_campaign) END,
        (pages, pages_at) = (  -- (kept as they are when no page view came: no merge to sort)
            SELECT coalesce(array_agg(p ORDER BY t), r.pages),
                   coalesce(array_agg(t ORDER BY t), r.pages_at)
            FROM (SELECT p, t FROM (
                      SELECT * FROM unnest(r.pages, r.pages_at) AS a(p, t)
                      UNION ALL
                      SELECT * FROM unnest(EXCLUDED.pages, EXCLUDED.pages_at) AS b(p, t)) AS u
                  WHERE cardinality(EXCLUDED.pages) > 0
                  ORDER BY t LIMIT 50) AS z),
        device_type = coalesce(r.device_type, EXCLUDED.device_type),
        browser = coalesce(r.browser, EXCLUDED.browser),
        os = coalesce(r.os, EXCLUDED.os)
    RETURNING r.*
), contributions AS (
    SELECT project_id, date_trunc('hour', started_at, 'UTC') AS hour, bot, 1 AS sessions,
           (pageviews > 0)::int AS with_pageviews,
           (pageviews = 1 AND events = 1)::int AS bounces,
           extract(epoch FROM ended_at - started_at)::float8 AS duration
    FROM merged
    UNION ALL
    SELECT project_id, date_trunc('hour', started_at, 'UTC'), bot, -1, -(pageviews > 0)::int,
           -(pageviews = 1 AND events = 1)::int,
           -extract(epoch FROM ended_at - started_at)::float8
    FROM before
), hours AS (
    INSERT INTO events_sessionhour AS h
        (project_id, hour, bot, sessions, with_pageviews, bounces, duration_sum)
    SELECT project_id, hour, bot, sum(sessions), sum(with_pageviews), sum(bounces),
           sum(duration)
    FROM contributions GROUP BY project_id, hour, bot
    ON CONFLICT (project_id, hour, bot) DO UPDATE SET
        sessions = h.sessions + EXCLUDED.sessions,
        with_pageviews = h.with_pageviews + EXCLUDED.with_pageviews,
        bounces = h.bounces + EXCLUDED.bounces,
        duration_sum = h.duration_sum + EXCLUDED.duration_sum
    RETURNING 1
), changed AS (  -- the hours of paths (events.pathhours) whose sessions changed: built again
    SELECT project_id, date_trunc('hour', started_at, 'UTC') AS hour FROM merged
    UNION SELECT project_id, date_trunc('hour', started_at, 'UTC') FROM before
), unbuilt AS (
    DELETE FROM events_pathhour d USING changed c
    WHERE d.project_id = c.project_id AND d.hour = c.hour
    RETURNING 1
), unbuilt_days AS (
    DELETE FROM events_pathday d USING changed c
    WHERE d.project_id = c.project_id AND d.day = (c.hour AT TIME ZONE 'UTC')::date
    RETURNING 1
)
SELECT (SELECT count(*) FROM taken), (SELECT count(*) FROM merged)
"""

# Sketch sizes (KMV): the k smallest hashes of each row. Exact up to k distinct people or
# sessions per row; beyond, an estimate within about 1/sqrt(k).
SKETCH_K = 512
SKETCH_K_ALL = 2048
_K = sql.SQL("CASE WHEN {dim} = 'all' THEN {big} ELSE {k} END")


def _k(dim: str) -> sql.Composed:
    return _K.format(dim=sql.SQL(dim), big=sql.Literal(SKETCH_K_ALL), k=sql.Literal(SKETCH_K))


def _dim_upsert(table: str, source: str, bucket: str) -> sql.Composed:
    return sql.SQL("""
    INSERT INTO {table} AS r
        (project_id, dim, bucket, value, bot, events, pageviews, visitors, sessions)
    SELECT project_id, dim, {bucket}, value, bot, events, pageviews, vis[1:{k}], ses[1:{k}]
    FROM {source}
    ON CONFLICT (project_id, dim, bucket, value, bot) DO UPDATE SET
        events = r.events + EXCLUDED.events,
        pageviews = r.pageviews + EXCLUDED.pageviews,
        visitors = events_kmv_union(r.visitors, EXCLUDED.visitors, {rk}),
        sessions = events_kmv_union(r.sessions, EXCLUDED.sessions, {rk})
    RETURNING 1""").format(table=sql.Identifier(table), source=sql.Identifier(source),
                           bucket=sql.SQL(bucket), k=_k("dim"), rk=_k("r.dim"))


FOLD_DIMS = sql.SQL("""
WITH taken AS (
    DELETE FROM events_dimdelta
    WHERE ctid = ANY(ARRAY(SELECT ctid FROM events_dimdelta LIMIT %(slice)s))
    RETURNING *
), totals AS (
    SELECT project_id, dim, hour, value, bot, sum(events)::bigint AS events,
           sum(pageviews)::bigint AS pageviews
    FROM taken GROUP BY 1, 2, 3, 4, 5
), vis AS (  -- (the deltas sorted by row before their hashes are unnested: no sort of those)
    SELECT project_id, dim, hour, value, bot, array_agg(DISTINCT h ORDER BY h) AS hs
    FROM (SELECT * FROM taken ORDER BY project_id, dim, hour, value, bot) AS t,
         unnest(t.visitors) AS u(h)
    GROUP BY 1, 2, 3, 4, 5
), ses AS (
    SELECT project_id, dim, hour, value, bot, array_agg(DISTINCT h ORDER BY h) AS hs
    FROM (SELECT * FROM taken ORDER BY project_id, dim, hour, value, bot) AS t,
         unnest(t.sessions) AS u(h)
    GROUP BY 1, 2, 3, 4, 5
), hourly AS (
    SELECT t.*, coalesce(v.hs, '{{}}') AS vis, coalesce(s.hs, '{{}}') AS ses
    FROM totals t LEFT JOIN vis v USING (project_id, dim, hour, value, bot)
    LEFT JOIN ses s USING (project_id, dim, hour, value, bot)
), by_day AS (  -- the hours' sets, each without repeats already: far fewer hashes to sort.
    -- (A day's sets are right only because ``hourly`` keeps its sets whole: the k cap is
    -- applied when they are stored, below, not there.)
    SELECT project_id, dim, date_trunc('day', hour, 'UTC') AS day, value, bot, events,
           pageviews, vis, ses
    FROM hourly ORDER BY project_id, dim, day, value, bot
), dvis AS (
    SELECT project_id, dim, day, value, bot, array_agg(DISTINCT h ORDER BY h) AS hs
    FROM by_day, unnest(vis) AS u(h) GROUP BY 1, 2, 3, 4, 5
), dses AS (
    SELECT project_id, dim, day, value, bot, array_agg(DISTINCT h ORDER BY h) AS hs
    FROM by_day, unnest(ses) AS u(h) GROUP BY 1, 2, 3, 4, 5
), daily AS (
    SELECT t.project_id, t.dim, t.day, t.value, t.bot, t.events, t.pageviews,
           coalesce(v.hs, '{{}}') AS vis, coalesce(s.hs, '{{}}') AS ses
    FROM (SELECT project_id, dim, day, value, bot, sum(events)::bigint AS events,
                 sum(pageviews)::bigint AS pageviews
          FROM by_day GROUP BY 1, 2, 3, 4, 5) AS t
    LEFT JOIN dvis v USING (project_id, dim, day, value, bot)
    LEFT JOIN dses s USING (project_id, dim, day, value, bot)
), hours AS ({hours}
), days AS ({days}
)
SELECT (SELECT count(*) FROM taken), (SELECT count(*) FROM hours),
       (SELECT coalesce(jsonb_agg(DISTINCT project_id), '[]') FROM taken)
""").format(hours=_dim_upsert("events_dimrollup1h", "hourly", "hour"),
            days=_dim_upsert("events_dimrollup1d", "daily", "day"))

# People: each delta's person resolved through identify links made since it was written; a new
# link's marker (a delta of the anonymous id) also moves what the rollup holds of that id into
# its person. Properties: ``$set`` in time order (the newer wins), ``$set_once`` only where a
# property is not set yet. Active hours (what retention reads): the union of all of them.
FOLD_PEOPLE = """
WITH taken AS (
    DELETE FROM events_persondelta
    WHERE ctid = ANY(ARRAY(SELECT ctid FROM events_persondelta LIMIT %(slice)s))
    RETURNING *
), links AS (
    SELECT DISTINCT t.project_id, t.person_id AS from_id, a.person_id AS to_id
    FROM taken t JOIN events_personalias a
         ON a.project_id = t.project_id AND a.distinct_id = t.person_id
    WHERE a.person_id <> t.person_id
), moved AS (
    DELETE FROM events_person p USING links l
    WHERE p.project_id = l.project_id AND p.person_id = l.from_id
    RETURNING l.to_id, p.*
), incoming AS (
    SELECT t.project_id, coalesce(l.to_id, t.person_id) AS person_id, t.first_seen,
           t.last_seen, t.events, t.bot_events, t.properties, t.properties_once,
           t.properties_at,
           CASE WHEN cardinality(t.hours) > 0 OR t.events = 0 THEN t.hours
                -- written before deltas carried their hours: those of the first and last event
                WHEN events_hour_of(t.first_seen) = events_hour_of(t.last_seen)
                THEN ARRAY[events_hour_of(t.first_seen)]
                ELSE ARRAY[events_hour_of(t.first_seen), events_hour_of(t.last_seen)]
           END AS hours
    FROM taken t LEFT JOIN links l ON l.project_id = t.project_id AND l.from_id = t.person_id
    UNION ALL
    SELECT project_id, to_id, first_seen, last_seen, events, bot_events, properties, '{}',
           properties_at, active_hours
    FROM moved
), hours AS (
    SELECT project_id, person_id, array_agg(DISTINCT h ORDER BY h) AS hours
    FROM incoming, unnest(incoming.hours) AS u(h) GROUP BY project_id, person_id
), grouped AS (
    SELECT project_id, person_id, min(first_seen) AS first_seen, max(last_seen) AS last_seen,
           sum(events)::bigint AS events, sum(bot_events)::bigint AS bot_events,
           coalesce((SELECT jsonb_object_agg(k, v ORDER BY at NULLS FIRST)
                     FROM unnest(array_agg(properties), array_agg(properties_at)) AS u(p, at),
                          jsonb_each(u.p) AS e(k, v)), '{}') AS set_part,
           coalesce((SELECT jsonb_object_agg(k, v ORDER BY at DESC NULLS LAST)
                     FROM unnest(array_agg(properties_once), array_agg(properties_at))
                          AS u(p, at),
                          jsonb_each(u.p) AS e(k, v)), '{}') AS once_part,
           max(properties_at) AS properties_at
    FROM incoming GROUP BY project_id, person_id
), updated AS (
    -- The people the rollup holds, merged by a join. (An upsert's ON CONFLICT clause sees only
    -- the inserted row, so it had to find each person's two parts in ``grouped`` again: a scan
    -- of the slice's people per person.) A row ``moved`` deletes is not theirs to update: the
    -- person it held is inserted again below.
    UPDATE events_person r SET
        first_seen = LEAST(r.first_seen, g.first_seen),
        last_seen = GREATEST(r.last_seen, g.last_seen),
        events = r.events + g.events,
        bot_events = r.bot_events + g.bot_events,
        properties = CASE WHEN r.properties_at IS NULL OR g.properties_at >= r.properties_at
                          THEN (g.once_part || r.properties) || g.set_part
                          ELSE (g.once_part || g.set_part) || r.properties END,
        properties_at = GREATEST(r.properties_at, g.properties_at),
        active_hours = events_hours_union(r.active_hours, coalesce(h.hours, '{}'))
    FROM grouped g LEFT JOIN hours h USING (project_id, person_id)
    WHERE r.project_id = g.project_id AND r.person_id = g.person_id
      AND NOT EXISTS (SELECT 1 FROM moved m
                      WHERE m.project_id = g.project_id AND m.person_id = g.person_id)
    RETURNING 1
), inserted AS (  -- and the others: only the fold writes this table, under its lock
    INSERT INTO events_person
        (project_id, person_id, first_seen, last_seen, events, bot_events, properties,
         properties_at, active_hours)
    SELECT g.project_id, g.person_id, g.first_seen, g.last_seen, g.events, g.bot_events,
           g.once_part || g.set_part, g.properties_at, coalesce(h.hours, '{}')
    FROM grouped g LEFT JOIN hours h USING (project_id, person_id)
    WHERE NOT EXISTS (SELECT 1 FROM events_person p
                      WHERE p.project_id = g.project_id AND p.person_id = g.person_id)
       OR EXISTS (SELECT 1 FROM moved m
                  WHERE m.project_id = g.project_id AND m.person_id = g.person_id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM taken),
       (SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted)
"""


@dataclass
class FoldReport:
    metric_deltas: int = 0
    minute_buckets: int = 0
    hour_buckets: int = 0
    event_deltas: int = 0
    event_buckets: int = 0
    session_deltas: int = 0
    sessions: int = 0
    dim_deltas: int = 0
    person_deltas: int = 0
    skipped: bool = False


def _ensure_minute_partitions() -> None:
    with connection.cursor() as cursor:
        cursor.execute("""SELECT DISTINCT (minute AT TIME ZONE 'UTC')::date
                          FROM events_metricdelta""")
        days = {row[0] for row in cursor.fetchall()}
    have = partitions.existing_partitions()["events_metricrollup1m"]
    for day in sorted(days - have):
        partitions.ensure_partitions(start=day, days=1)


def _fold_slice(cursor) -> tuple:
    """One slice of every delta table into its rollups, in the caller's transaction."""
    cursor.execute(FOLD_METRICS, {"slice": SLICE})
    metric_deltas, minutes, hours, names = cursor.fetchone()
    cursor.execute(FOLD_EVENTS, {"slice": SLICE, "pageviews": list(PAGEVIEW_EVENTS)})
    event_deltas, event_buckets, event_projects = cursor.fetchone()
    cursor.execute(FOLD_SESSIONS, {"slice": SLICE})
    session_deltas, sessions = cursor.fetchone()
    cursor.execute(FOLD_DIMS, {"slice": SLICE})
    dim_deltas, _, dim_projects = cursor.fetchone()
    cursor.execute(FOLD_PEOPLE, {"slice": SLICE})
    person_deltas, _ = cursor.fetchone()
    return (metric_deltas, minutes, hours, names, event_deltas, event_buckets, event_projects,
            session_deltas, sessions, dim_deltas, dim_projects, person_deltas)


def fold_all_pending(cursor) -> None:
    """Every pending delta folded in the caller's transaction, which holds the fold's lock
    (``LOCK_ID``): a person's erasure first makes the rollups hold all it will subtract."""
    _ensure_minute_partitions()
    while True:
        counts = _fold_slice(cursor)
        if max(counts[0], counts[4], counts[7], counts[9], counts[11]) < SLICE:
            return


def fold(*, max_seconds: float = 10.0) -> FoldReport:
    """Fold pending deltas into the rollups, a slice per transaction, until none are left or
    ``max_seconds`` have passed. Returns what it did; ``skipped`` if another fold holds the lock.
    """
    report = FoldReport()
    deadline = time.monotonic() + max_seconds
    ensured = False
    while True:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_ID])
                if not cursor.fetchone()[0]:
                    report.skipped = True
                    return report
                (metric_deltas, minutes, hours, names, event_deltas, event_buckets,
                 event_projects, session_deltas, sessions, dim_deltas, dim_projects,
                 person_deltas) = _fold_slice(cursor)
        except IntegrityError as exc:
            # The write path makes the minute partitions of the days it stores; a delta of a
            # day without one (written before it did, or whose partition retention dropped) is
            # found here: make them all from the pending days (a scan of the deltas) and try
            # again, once.
            if ensured or not isinstance(exc.__cause__, psycopg.errors.CheckViolation):
                raise
            _ensure_minute_partitions()
            ensured = True
            continue
        report.metric_deltas += metric_deltas
        report.minute_buckets += minutes
        report.hour_buckets += hours
        report.event_deltas += event_deltas
        report.event_buckets += event_buckets
        report.session_deltas += session_deltas
        report.sessions += sessions
        report.dim_deltas += dim_deltas
        report.person_deltas += person_deltas
        _announce(_json(names), sorted({*_json(event_projects), *_json(dim_projects)}))
        drained = max(metric_deltas, event_deltas, session_deltas, dim_deltas,
                      person_deltas) < SLICE
        if drained or time.monotonic() > deadline:
            return report


def _json(value):
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _announce(names: list, event_projects: list) -> None:
    """Tell each project's live pages what the rollups now hold (after the commit): panels
    reading those metrics or events ask again. Best effort, like every live message."""
    changed: dict[int, dict] = {}
    for project_id, name in names:
        changed.setdefault(project_id, {"names": [], "events": False})["names"].append(name)
    for project_id in event_projects:
        changed.setdefault(project_id, {"names": [], "events": False})["events"] = True
    if not changed:
        return
    for project_id in changed:
        try:
            freshness.bump(project_id)
        except Exception:
            logger.warning("data version bump failed for project %s", project_id, exc_info=True)
    for project_id, what in changed.items():
        live.publish_sync(project_id, {"type": "live.folded", "names": sorted(what["names"])[:200],
                                       "events": what["events"]})
