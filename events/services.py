"""The write path: validated batches of events and metric points into PostgreSQL, in bulk, in one
transaction each, then a compact live message to the project's channel group.

"Acknowledged means kept": these functions return only after the transaction has committed, so a
202 from the API is never followed by a loss. If PostgreSQL cannot take the write they raise
``ServiceUnavailable`` (503 with Retry-After) and the client retries; retries are idempotent for
events (the uuid is stored once per project).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import orjson
import psycopg
from asgiref.sync import sync_to_async
from psycopg_pool import PoolTimeout

from analytics_site.errors import ServiceUnavailable

from . import channels, db, enrich, freshness, live, partitions
from .models import PAGEVIEW_EVENTS
from .pointbatch import Columns, PointBatch
from .validation import EventItem, Parsed, Rejected, check_labels, parse_events, parse_points

logger = logging.getLogger(__name__)

_known_partitions: set[tuple[str, date]] = set()
_series_ids: OrderedDict[tuple[int, str, str], int] = OrderedDict()
_SERIES_CACHE_SIZE = 200_000
_salts: dict[date, str] = {}


@dataclass(frozen=True)
class IngestKey:
    """What the write path needs of an ingest key and its project."""

    id: int
    project_id: int
    allowed_origins: tuple[str, ...]
    rate_limit_per_s: int
    raw_retention_days: int


@dataclass(frozen=True)
class Client:
    ip: str
    user_agent: str


@dataclass
class Result:
    accepted: int
    stored: int
    rejected: list[Rejected] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "rejected": [r.as_dict() for r in self.rejected]}


_touched: dict[int, float] = {}
TOUCH_EVERY_S = 60


async def note_key_used(key_id: int) -> None:
    """Record that the key was used, at most once a minute per key and process, so the admin and
    the project page can show it without a write per request. Bookkeeping: never fails."""
    now = time.monotonic()
    if now - _touched.get(key_id, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
        return
    _touched[key_id] = now
    try:
        async with (await db.pool()).connection() as conn:
            await conn.execute("UPDATE projects_ingestkey SET last_used_at = now() WHERE id = %s",
                               [key_id])
    except (psycopg.OperationalError, PoolTimeout):
        pass


async def _store(tables: tuple[str, ...], days: set[date], write) -> int:
    """Run ``write(conn)`` on a pooled connection once the day partitions of ``tables`` for
    ``days`` exist.

    The known-partition cache can be stale if retention dropped one meanwhile: then forget it and
    try once more. Storage that cannot be reached becomes a 503 with Retry-After."""
    try:
        async with (await db.pool()).connection() as conn:
            for attempt in (1, 2):
                for table in tables:
                    await partitions.ensure_partitions_async(conn, table, days,
                                                             _known_partitions)
                try:
                    return await write(conn)
                except psycopg.errors.CheckViolation:  # "no partition of relation found for row"
                    if attempt == 2:
                        raise
                    _known_partitions.clear()
    except (psycopg.OperationalError, PoolTimeout) as exc:
        logger.warning("storage unavailable: %s", exc)
        raise ServiceUnavailable("Storage is unavailable; retry later.", retry_after=5) from exc
    raise AssertionError("unreachable")


async def _salt_of(conn, day: date) -> str:
    salt = _salts.get(day)
    if salt is None:
        row = await (await conn.execute(
            """INSERT INTO events_dailysalt (day, salt) VALUES (%s, %s)
               ON CONFLICT (day) DO UPDATE SET day = EXCLUDED.day RETURNING salt""",
            [day, secrets.token_hex(32)])).fetchone()
        salt = row[0]
        _salts.clear()
        _salts[day] = salt
    return salt


async def anonymous_visitor_id(*, scope: str, ip: str, user_agent: str) -> str:
    """A visitor id without cookies (Plausible's way): a hash of the day's salt, the site, the
    IP and the user agent. The salt is deleted after the day, so the id cannot be traced back
    to an IP later, and it changes every day."""
    day = datetime.now(UTC).date()
    try:
        async with (await db.pool()).connection() as conn:
            salt = await _salt_of(conn, day)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise ServiceUnavailable("Storage is unavailable; retry later.", retry_after=5) from exc
    digest = hashlib.sha256(f"{salt}|{scope}|{ip}|{user_agent}".encode()).hexdigest()
    return f"v_{digest[:32]}"


# -- events ---------------------------------------------------------------------------------------
# The batch travels as one JSON document (orjson-encoded, unpacked by PostgreSQL): much cheaper
# than adapting a dozen Python lists into arrays parameter by parameter.
INSERT_EVENTS = """
WITH input AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS t(
        uuid uuid, event text, distinct_id text, person_id text, session_id text,
        ts timestamptz, cts timestamptz, props jsonb, page_url text, path text, referrer text,
        referrer_domain text, country text, channel text, utm_source text, utm_medium text,
        utm_campaign text, utm_term text, utm_content text, source text, pv boolean)
), fresh AS (
    INSERT INTO events_eventseen (project_id, uuid, seen_at)
    SELECT %(project)s, uuid, %(now)s FROM input
    ON CONFLICT DO NOTHING
    RETURNING uuid
), stored AS (
    INSERT INTO events_event (project_id, uuid, event, distinct_id, person_id, session_id,
                              "timestamp", client_timestamp, received_at, properties, page_url,
                              path, referrer, referrer_domain, browser, os, device_type, ip_hash,
                              country, channel, utm_source, utm_medium, utm_campaign, utm_term,
                              utm_content, is_bot)
    SELECT %(project)s, i.uuid, i.event, i.distinct_id, i.person_id, i.session_id, i.ts, i.cts,
           %(now)s, i.props, i.page_url, i.path, i.referrer, i.referrer_domain,
           %(browser)s, %(os)s, %(device_type)s, %(ip_hash)s, i.country, i.channel, i.utm_source,
           i.utm_medium, i.utm_campaign, i.utm_term, i.utm_content, %(bot)s
    FROM input i JOIN fresh USING (uuid)
    RETURNING uuid, "timestamp", event, session_id, distinct_id, person_id, path, country,
              channel, utm_source, utm_medium, utm_campaign, utm_term, utm_content
), kept AS (
    SELECT s.*, i.source, i.pv FROM stored s JOIN input i USING (uuid)
), delta AS (
    -- This batch's share of the hourly rollup (events.rollups folds it in); only rows stored.
    INSERT INTO events_eventdelta (project_id, hour, event, count, sessions, distinct_ids)
    SELECT %(project)s, date_trunc('hour', "timestamp", 'UTC'), event, count(*),
           coalesce(array_agg(DISTINCT hashtextextended(session_id, 0))
                    FILTER (WHERE session_id IS NOT NULL), '{}'),
           array_agg(DISTINCT hashtextextended(distinct_id, 0))
    FROM kept GROUP BY 2, 3
), dims AS (
    -- Its share of the per-dimension rollups: a row per hour, dimension and value. The
    -- browser, OS and device are the request's: their rows are the hour's 'all' row under
    -- another name, aggregated once.
    INSERT INTO events_dimdelta (project_id, hour, dim, value, bot, events, pageviews, visitors,
                                 sessions)
    SELECT %(project)s, g.hour, n.dim, n.value, %(bot)s, g.events, g.pageviews, g.visitors,
           g.sessions
    FROM (
        SELECT date_trunc('hour', k."timestamp", 'UTC') AS hour, d.dim, d.value,
               count(*) AS events, count(*) FILTER (WHERE k.pv) AS pageviews,
               array_agg(DISTINCT hashtextextended(k.person_id, 0)) AS visitors,
               coalesce(array_agg(DISTINCT hashtextextended(k.session_id, 0))
                        FILTER (WHERE k.session_id IS NOT NULL), '{}') AS sessions
        FROM kept k CROSS JOIN LATERAL (VALUES
            ('all', ''), ('event', k.event), ('path', CASE WHEN k.pv THEN k.path END),
            ('referrer', k.source), ('country', k.country), ('channel', k.channel),
            ('utm_source', k.utm_source), ('utm_medium', k.utm_medium),
            ('utm_campaign', k.utm_campaign), ('utm_term', k.utm_term),
            ('utm_content', k.utm_content)) AS d(dim, value)
        WHERE d.value IS NOT NULL
        GROUP BY 1, 2, 3
    ) AS g CROSS JOIN LATERAL (VALUES
        (g.dim, g.value), ('browser', CASE WHEN g.dim = 'all' THEN %(browser)s END),
        ('os', CASE WHEN g.dim = 'all' THEN %(os)s END),
        ('device', CASE WHEN g.dim = 'all' THEN %(device_type)s END)) AS n(dim, value)
    WHERE n.value IS NOT NULL
), people AS (
    INSERT INTO events_persondelta (project_id, person_id, first_seen, last_seen, events,
                                    bot_events, properties, properties_once, properties_at,
                                    hours)
    SELECT %(project)s, k.person_id, min(k."timestamp"), max(k."timestamp"), count(*),
           CASE WHEN %(bot)s THEN count(*) ELSE 0 END,
           coalesce(p.value -> 'set', '{}'), coalesce(p.value -> 'once', '{}'),
           (p.value ->> 'at')::timestamptz,
           array_agg(DISTINCT events_hour_of(k."timestamp")
                     ORDER BY events_hour_of(k."timestamp"))
    FROM kept k LEFT JOIN jsonb_each(%(sets)s::jsonb) AS p ON p.key = k.person_id
    GROUP BY k.person_id, p.value
), numbered AS (
    -- Each event with a session, and how many of the batch's events its session has: most
    -- have one, and their session's share is the event itself (no per-session sorts).
    SELECT k.*, count(*) OVER (PARTITION BY session_id) AS n
    FROM kept k WHERE session_id IS NOT NULL
), sessions AS (
    INSERT INTO events_sessiondelta (project_id, session_id, started_at, ended_at, events,
                                     pageviews, bot, person_id, entry_at, entry_path, exit_at,
                                     exit_path, country, device_type, browser, os, channel,
                                     referrer_domain, utm_source, utm_campaign, pages, pages_at)
    SELECT %(project)s, session_id, "timestamp", "timestamp", 1::bigint,
           CASE WHEN pv THEN 1::bigint ELSE 0 END, %(bot)s, person_id,
           CASE WHEN pv THEN "timestamp" END, CASE WHEN pv THEN path END,
           CASE WHEN pv THEN "timestamp" END, CASE WHEN pv THEN path END, country,
           %(device_type)s, %(browser)s, %(os)s, channel, source, utm_source, utm_campaign,
           CASE WHEN pv AND path IS NOT NULL THEN ARRAY[path] END,
           CASE WHEN pv AND path IS NOT NULL THEN ARRAY["timestamp"] END
    FROM numbered WHERE n = 1
    UNION ALL
    SELECT %(project)s, session_id, min("timestamp"), max("timestamp"), count(*),
           count(*) FILTER (WHERE pv), %(bot)s,
           (array_agg(person_id ORDER BY "timestamp"))[1],
           min("timestamp") FILTER (WHERE pv),
           (array_agg(path ORDER BY "timestamp") FILTER (WHERE pv))[1],
           max("timestamp") FILTER (WHERE pv),
           (array_agg(path ORDER BY "timestamp" DESC) FILTER (WHERE pv))[1],
           (array_agg(country ORDER BY "timestamp") FILTER (WHERE country IS NOT NULL))[1],
           %(device_type)s, %(browser)s, %(os)s,
           (array_agg(channel ORDER BY "timestamp") FILTER (WHERE channel IS NOT NULL))[1],
           (array_agg(source ORDER BY "timestamp") FILTER (WHERE source IS NOT NULL))[1],
           (array_agg(utm_source ORDER BY "timestamp")
            FILTER (WHERE utm_source IS NOT NULL))[1],
           (array_agg(utm_campaign ORDER BY "timestamp")
            FILTER (WHERE utm_campaign IS NOT NULL))[1],
           (array_agg(path ORDER BY "timestamp") FILTER (WHERE pv AND path IS NOT NULL))[1:50],
           (array_agg("timestamp" ORDER BY "timestamp")
            FILTER (WHERE pv AND path IS NOT NULL))[1:50]
    FROM numbered WHERE n > 1 GROUP BY session_id
)
SELECT count(*) FROM stored
"""

IDENTIFY_EVENTS = {"$identify", "identify"}


def _aliases_in(items: list[EventItem]) -> dict[str, str]:
    """``identify`` events: anonymous id (``$anon_distinct_id``) → the identified distinct id."""
    links = {}
    for item in items:
        if item.event in IDENTIFY_EVENTS:
            anon = item.properties.get("$anon_distinct_id")
            if isinstance(anon, str) and anon and anon != item.distinct_id and len(anon) <= 200:
                links[anon] = item.distinct_id
    return links


async def _persons(conn, project_id: int, items: list[EventItem]) -> dict[str, str]:
    links = _aliases_in(items)
    if links:
        # With each new link, a marker for the people rollup: the fold then moves what it
        # already holds of the anonymous id into the person it now belongs to.
        await conn.execute(
            """WITH linked AS (
                   INSERT INTO events_personalias (project_id, distinct_id, person_id,
                                                   created_at)
                   SELECT %s, d, p, now() FROM unnest(%s::text[], %s::text[]) AS u(d, p)
                   ON CONFLICT (project_id, distinct_id) DO NOTHING
                   RETURNING project_id, distinct_id)
               INSERT INTO events_persondelta (project_id, person_id, first_seen, last_seen,
                                               events, bot_events, properties, properties_once)
               SELECT project_id, distinct_id, 'infinity', '-infinity', 0, 0, '{}', '{}'
               FROM linked""",
            [project_id, list(links), list(links.values())])
    ids = sorted({item.distinct_id for item in items})
    rows = await (await conn.execute(
        """SELECT distinct_id, person_id FROM events_personalias
           WHERE project_id = %s AND distinct_id = ANY(%s)""", [project_id, ids])).fetchall()
    return dict(rows)


async def ingest_events(*, key: IngestKey, items: list, sent_at: datetime | None,
                        client: Client, received_at: datetime | None = None) -> Result:
    received_at = received_at or datetime.now(UTC)
    oldest = received_at - timedelta(days=key.raw_retention_days)
    parsed: Parsed = parse_events(items, sent_at=sent_at, received_at=received_at, oldest=oldest)
    valid: list[EventItem] = parsed.items
    result = Result(accepted=len(items) - len(parsed.rejected), stored=0,
                    rejected=parsed.rejected)
    if not valid:
        return result
    agent = enrich.agent(client.user_agent)
    countries = _countries(valid, enrich.country_of(client.ip))
    persons: dict[str, str] = {}

    async def write(conn) -> int:
        # No transaction around these: each statement commits on its own (the connection is
        # in autocommit), and the batch is one statement, so stored whole or not at all. The
        # salt and identify links before it are idempotent. (BEGIN and COMMIT were two more
        # round trips.)
        salt = await _salt_of(conn, received_at.date())
        persons.update(await _persons(conn, key.project_id, valid))
        ip_hash = enrich.visitor_hash(salt=salt, project_id=key.project_id, ip=client.ip,
                                      user_agent=client.user_agent) if client.ip else None
        cursor = await conn.execute(INSERT_EVENTS, insert_params(
            key.project_id, valid, countries, persons, agent=agent, now=received_at,
            ip_hash=ip_hash))
        return (await cursor.fetchone())[0]

    days = {item.timestamp.astimezone(UTC).date() for item in valid}
    result.stored = await _store(("events_event",), days, write)
    if live.wanted(key.project_id):
        await live.publish(key.project_id, {
            "type": "live.events",
            "count": len(valid),
            "events": [_compact(i, persons.get(i.distinct_id, i.distinct_id))
                       for i in valid[-live.SAMPLE:]],
        })
    return result


def insert_params(project_id: int, items: list[EventItem], countries: list[str | None],
                  persons: dict[str, str], *, agent: enrich.Agent, now: datetime,
                  ip_hash: str | None) -> dict:
    """``INSERT_EVENTS``' parameters for a batch of valid events (``persons``: distinct id ->
    person, for those linked to another)."""
    rows = [_row(i, persons.get(i.distinct_id, i.distinct_id), country)
            for i, country in zip(items, countries, strict=True)]
    return {
        "project": project_id,
        "now": now,
        "rows": orjson.dumps(rows).decode(),
        "browser": agent.browser,
        "os": agent.os,
        "device_type": agent.device_type,
        "bot": agent.bot,
        "sets": orjson.dumps(_person_sets(items, persons)).decode(),
        "ip_hash": ip_hash,
    }


def _countries(items: list[EventItem], country: str | None) -> list[str | None]:
    """Each event's country: the request's, or that of an IP a server-side SDK put in ``$ip``,
    which is dropped here like the request's (no IP is stored)."""
    found = []
    for item in items:
        ip = item.properties.pop("$ip", None) if "$ip" in item.properties else None
        found.append(enrich.country_of(ip) if isinstance(ip, str) else country)
    return found


def _row(item: EventItem, person: str, country: str | None) -> dict:
    """One event as the INSERT reads it: what the client sent plus what ingest derives (path,
    referrer domain, country, UTM fields, channel)."""
    properties = item.properties
    referrer_domain = enrich.domain_of(item.referrer)
    utm = channels.utm_of(item.page_url, properties)
    pageview = item.event in PAGEVIEW_EVENTS
    source = channels.external_host(item.page_url, referrer_domain)
    return {
        "uuid": item.uuid, "event": item.event, "distinct_id": item.distinct_id,
        "person_id": person, "session_id": item.session_id, "ts": item.timestamp,
        "cts": item.client_timestamp, "props": properties, "page_url": item.page_url,
        "path": enrich.path_of(item.page_url), "referrer": item.referrer,
        "referrer_domain": referrer_domain, "country": country,
        "channel": channels.channel_of(utm["utm_source"], utm["utm_medium"], source, pageview),
        "source": source, "pv": pageview, **utm,
    }


def _person_sets(items: list[EventItem], persons: dict[str, str]) -> dict:
    """Per person, the properties this batch sets (``$set``, later events winning) and sets
    once (``$set_once``, earlier winning), and the time of the last ``$set``."""
    found: dict[str, dict] = {}
    for item in sorted((i for i in items if "$set" in i.properties
                        or "$set_once" in i.properties), key=lambda i: i.timestamp):
        person = persons.get(item.distinct_id, item.distinct_id)
        entry = found.setdefault(person, {"set": {}, "once": {}, "at": None})
        values, once = item.properties.get("$set"), item.properties.get("$set_once")
        if isinstance(values, dict) and values:
            entry["set"].update(values)
            entry["at"] = item.timestamp.isoformat()
        if isinstance(once, dict):
            for name, value in once.items():
                entry["once"].setdefault(name, value)
    return found


def _compact(item: EventItem, person: str) -> dict:
    return {"uuid": str(item.uuid), "event": item.event, "distinct_id": item.distinct_id,
            "person_id": person, "timestamp": item.timestamp.isoformat(),
            "path": enrich.path_of(item.page_url), "properties": item.properties}


# -- metric points --------------------------------------------------------------------------------
async def _series_ids_for(conn, project_id: int, labels: list[tuple[str, str, dict]]
                          ) -> tuple[np.ndarray, bool]:
    """The series id of each label (name, tags_key, tags), created if new; and whether any
    was."""
    ids = np.empty(len(labels), np.int64)
    created = 0
    missing = []
    for n, (name, key, _tags) in enumerate(labels):
        series_id = _series_ids.get((project_id, name, key))
        if series_id is None:
            missing.append((name, key, n))
        else:
            ids[n] = series_id
    # Sorted, and committed on their own before the points: concurrent batches that create
    # overlapping new series then take the unique-index locks in one order and never deadlock.
    if missing:
        missing.sort()
        # (name, tags_key) pairs as one JSON text: psycopg dumps a list as an array element by
        # element in Python (~20 % of a web process taking 2,000 new series a request)
        pairs = orjson.dumps([(name, key) for name, key, _ in missing]).decode()
        async with conn.transaction():
            created = (await conn.execute(
                """INSERT INTO events_metricseries (project_id, name, tags, tags_key, created_at)
                   SELECT %s, u.e->>0, (u.e->>1)::jsonb, u.e->>1, now()
                   FROM json_array_elements(%s::json) WITH ORDINALITY AS u(e, i)
                   ORDER BY u.i
                   ON CONFLICT (project_id, name, tags_key) DO NOTHING""",
                [project_id, pairs])).rowcount
        rows = await (await conn.execute(
            """SELECT s.id, s.name, s.tags_key FROM events_metricseries s
               JOIN (SELECT e->>0 AS n, e->>1 AS k FROM json_array_elements(%s::json) AS u(e))
                    AS u ON s.name = u.n AND s.tags_key = u.k
               WHERE s.project_id = %s""", [pairs, project_id])).fetchall()
        found = {(name, key): series_id for series_id, name, key in rows}
        for name, key, n in missing:
            ids[n] = found[(name, key)]
            _series_ids[(project_id, name, key)] = int(ids[n])
        while len(_series_ids) > _SERIES_CACHE_SIZE:
            _series_ids.popitem(last=False)
    return ids, created > 0


async def record_points(*, key: IngestKey, items: list,
                        received_at: datetime | None = None) -> Result:
    """JSON points (dicts) of one request."""
    received_at = received_at or datetime.now(UTC)
    parsed = parse_points(items, received_at=received_at,
                          oldest=received_at - timedelta(days=key.raw_retention_days))
    return await _store_points(key, parsed.items, parsed.rejected)


async def record_columns(*, key: IngestKey, columns: Columns,
                         received_at: datetime | None = None) -> Result:
    """Points a decoder put in columns (names and tags checked; ``Columns.finish`` does the
    rest); rejected indexes are the decoder's point numbers."""
    received_at = received_at or datetime.now(UTC)
    batch, rejected = columns.finish(
        received_at=received_at, oldest=received_at - timedelta(days=key.raw_retention_days),
        bad_labels=check_labels(columns))
    return await _store_points(key, batch, rejected)


async def _store_points(key: IngestKey, batch: PointBatch, rejected: list[Rejected]) -> Result:
    result = Result(accepted=len(batch), stored=0, rejected=rejected)
    if not len(batch):
        return result

    created = False

    async def write(conn) -> int:
        nonlocal created
        series, new = await _series_ids_for(conn, key.project_id, batch.labels)
        created = created or new
        async with conn.transaction():
            cursor = conn.cursor()
            async with cursor.copy('COPY events_metricpoint (series_id, "timestamp", value)'
                                   " FROM STDIN (FORMAT BINARY)") as copy:
                await copy.write(batch.points_copy(series))
            async with cursor.copy(
                "COPY events_metricdelta (series_id, minute, count, sum, min, max, sketch_keys,"
                " sketch_counts, last_at, last) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                await copy.write(batch.deltas_copy(series))
        return len(batch)

    # The minute rollup's partitions too: the fold then finds the days of the deltas ready.
    try:
        result.stored = await _store(("events_metricpoint", "events_metricrollup1m"),
                                     batch.days(), write)
    finally:
        if created:  # committed (even if the points were not): the engine's kept series lists
            # are out of date — said once the connection is back in the pool
            await sync_to_async(freshness.bump_series, thread_sensitive=False)(key.project_id)
    if live.wanted(key.project_id):
        latest, truncated = batch.latest(live.SAMPLE)
        await live.publish(key.project_id, {"type": "live.points", "count": len(batch),
                                            "latest": latest, "truncated": truncated})
    return result
