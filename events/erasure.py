"""Erasing a person: every event of every id linked to them, and every trace of them in the
rollups, the sessions, the people and the identify links — as if they had never come.

One transaction, at one snapshot (repeatable read), while the rollup folder is held off by its
advisory lock: first the deltas already written are folded (so the rollups hold everything the
snapshot's events added), then the events are deleted and what they added is subtracted — event
counts per hour and event name, page views and events per dimension value, the person's and
their sessions' hashes from every set and sketch, their sessions and those sessions' hourly
statistics — and the person and links go. Data arriving meanwhile is not in the snapshot: it is
kept, and folded as usual. Hashes are also taken out of hourly rollups older than the raw events
(their counts stay: anonymous totals with no identifier left). Event ids stay in the dedup table
(``events_eventseen``: ids only), so an SDK retrying a deleted event cannot bring it back.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from projects.models import Project

from . import freshness, rollups
from .models import PAGEVIEW_EVENTS


@dataclass
class Erased:
    person_id: str
    ids: list[str]
    events: int
    sessions: int


_IDS = """
SELECT DISTINCT id FROM (
    SELECT %(person)s AS id
    UNION ALL SELECT distinct_id FROM events_personalias
    WHERE project_id = %(project)s AND person_id = %(person)s) AS i
"""

_COLLECT = """
CREATE TEMP TABLE erased ON COMMIT DROP AS
WITH gone AS (
    DELETE FROM events_event
    WHERE project_id = %(project)s AND distinct_id = ANY(%(ids)s)
    RETURNING "timestamp", event, session_id, distinct_id, person_id, path, referrer_domain,
              page_url, browser, os, device_type, country, channel, utm_source, utm_medium,
              utm_campaign, utm_term, utm_content, is_bot
)
SELECT * FROM gone
"""

# Each dimension's value of an erased event, as ingest gave it to the rollups.
_DIM_VALUES = """
SELECT date_trunc('hour', g."timestamp", 'UTC') AS hour, d.dim, d.value, g.is_bot AS bot,
       count(*) AS events, count(*) FILTER (WHERE g.event = ANY(%(pageviews)s)) AS pageviews
FROM erased g CROSS JOIN LATERAL (VALUES
    ('all', ''), ('event', g.event),
    ('path', CASE WHEN g.event = ANY(%(pageviews)s) THEN g.path END),
    ('referrer', CASE WHEN g.referrer_domain = regexp_replace(substring(g.page_url FROM
                      '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)'), '^www[.]', '')
                      THEN NULL ELSE g.referrer_domain END),
    ('browser', g.browser), ('os', g.os), ('device', g.device_type), ('country', g.country),
    ('channel', g.channel), ('utm_source', g.utm_source), ('utm_medium', g.utm_medium),
    ('utm_campaign', g.utm_campaign), ('utm_term', g.utm_term),
    ('utm_content', g.utm_content)) AS d(dim, value)
WHERE d.value IS NOT NULL
GROUP BY 1, 2, 3, 4
"""

_SUBTRACT = [
    # Hourly counts per event name, and the hour totals.
    """UPDATE events_eventrollup1h r SET count = r.count - x.n
       FROM (SELECT date_trunc('hour', "timestamp", 'UTC') AS hour, event, count(*) AS n
             FROM erased GROUP BY 1, 2) AS x
       WHERE r.project_id = %(project)s AND r.hour = x.hour AND r.event = x.event""",
    """UPDATE events_hourrollup r SET count = r.count - x.n, pageviews = r.pageviews - x.pv
       FROM (SELECT date_trunc('hour', "timestamp", 'UTC') AS hour, count(*) AS n,
                    count(*) FILTER (WHERE event = ANY(%(pageviews)s)) AS pv
             FROM erased GROUP BY 1) AS x
       WHERE r.project_id = %(project)s AND r.hour = x.hour""",
    # Per dimension value, hour and day.
    f"""UPDATE events_dimrollup1h r SET events = r.events - x.events,
                                       pageviews = r.pageviews - x.pageviews
       FROM ({_DIM_VALUES}) AS x
       WHERE r.project_id = %(project)s AND r.dim = x.dim AND r.bucket = x.hour
         AND r.value = x.value AND r.bot = x.bot""",  # noqa: S608 (constants)
    f"""UPDATE events_dimrollup1d r SET events = r.events - x.events,
                                       pageviews = r.pageviews - x.pageviews
       FROM (SELECT date_trunc('day', hour, 'UTC') AS day, dim, value, bot,
                    sum(events) AS events, sum(pageviews) AS pageviews
             FROM ({_DIM_VALUES}) AS h GROUP BY 1, 2, 3, 4) AS x
       WHERE r.project_id = %(project)s AND r.dim = x.dim AND r.bucket = x.day
         AND r.value = x.value AND r.bot = x.bot""",  # noqa: S608 (constants)
    # Their sessions, and those sessions' share of the hourly session statistics.
    """UPDATE events_sessionhour h SET sessions = h.sessions - x.sessions,
              with_pageviews = h.with_pageviews - x.with_pageviews,
              bounces = h.bounces - x.bounces, duration_sum = h.duration_sum - x.duration
       FROM (SELECT date_trunc('hour', started_at, 'UTC') AS hour, bot, count(*) AS sessions,
                    count(*) FILTER (WHERE pageviews > 0) AS with_pageviews,
                    count(*) FILTER (WHERE pageviews = 1 AND events = 1) AS bounces,
                    coalesce(sum(extract(epoch FROM ended_at - started_at)), 0) AS duration
             FROM events_sessionrollup
             WHERE project_id = %(project)s AND session_id = ANY(%(sessions)s)
             GROUP BY 1, 2) AS x
       WHERE h.project_id = %(project)s AND h.hour = x.hour AND h.bot = x.bot""",
    # The hours of paths those sessions were counted in are built again (events.pathhours).
    """DELETE FROM events_pathhour d USING events_sessionrollup s
       WHERE d.project_id = %(project)s AND s.project_id = %(project)s
         AND (s.session_id = ANY(%(sessions)s) OR s.person_id = ANY(%(ids)s))
         AND d.hour = date_trunc('hour', s.started_at, 'UTC')""",
    """DELETE FROM events_pathday d USING events_sessionrollup s
       WHERE d.project_id = %(project)s AND s.project_id = %(project)s
         AND (s.session_id = ANY(%(sessions)s) OR s.person_id = ANY(%(ids)s))
         AND d.day = (s.started_at AT TIME ZONE 'UTC')::date""",
    """DELETE FROM events_sessionrollup
       WHERE project_id = %(project)s
         AND (session_id = ANY(%(sessions)s) OR person_id = ANY(%(ids)s))""",
    # Their hashes, from every set and sketch, whatever its age.
    """UPDATE events_eventrollup1h SET
           distinct_ids = ARRAY(SELECT unnest(distinct_ids) EXCEPT SELECT unnest(%(hashes)s)
                                ORDER BY 1),
           sessions = ARRAY(SELECT unnest(sessions) EXCEPT SELECT unnest(%(session_hashes)s)
                            ORDER BY 1)
       WHERE project_id = %(project)s
         AND (distinct_ids && %(hashes)s OR sessions && %(session_hashes)s)""",
    """UPDATE events_hourrollup SET
           distinct_ids = ARRAY(SELECT unnest(distinct_ids) EXCEPT SELECT unnest(%(hashes)s)
                                ORDER BY 1),
           sessions = ARRAY(SELECT unnest(sessions) EXCEPT SELECT unnest(%(session_hashes)s)
                            ORDER BY 1)
       WHERE project_id = %(project)s
         AND (distinct_ids && %(hashes)s OR sessions && %(session_hashes)s)""",
    """UPDATE events_dimrollup1h SET
           visitors = ARRAY(SELECT unnest(visitors) EXCEPT SELECT unnest(%(hashes)s)
                            ORDER BY 1),
           sessions = ARRAY(SELECT unnest(sessions) EXCEPT SELECT unnest(%(session_hashes)s)
                            ORDER BY 1)
       WHERE project_id = %(project)s
         AND (visitors && %(hashes)s OR sessions && %(session_hashes)s)""",
    """UPDATE events_dimrollup1d SET
           visitors = ARRAY(SELECT unnest(visitors) EXCEPT SELECT unnest(%(hashes)s)
                            ORDER BY 1),
           sessions = ARRAY(SELECT unnest(sessions) EXCEPT SELECT unnest(%(session_hashes)s)
                            ORDER BY 1)
       WHERE project_id = %(project)s
         AND (visitors && %(hashes)s OR sessions && %(session_hashes)s)""",
    # Rows that held nothing but them.
    "DELETE FROM events_eventrollup1h WHERE project_id = %(project)s AND count <= 0",
    "DELETE FROM events_hourrollup WHERE project_id = %(project)s AND count <= 0",
    "DELETE FROM events_dimrollup1h WHERE project_id = %(project)s AND events <= 0",
    "DELETE FROM events_dimrollup1d WHERE project_id = %(project)s AND events <= 0",
    "DELETE FROM events_sessionhour WHERE project_id = %(project)s AND sessions <= 0",
    # The person and their links.
    "DELETE FROM events_person WHERE project_id = %(project)s AND person_id = ANY(%(ids)s)",
    """DELETE FROM events_personalias
       WHERE project_id = %(project)s
         AND (distinct_id = ANY(%(ids)s) OR person_id = ANY(%(ids)s))""",
]


def resolve_person(project_id: int, person_or_id: str) -> str:
    """The person an id belongs to (itself when it is not linked)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT person_id FROM events_personalias "
                       "WHERE project_id = %s AND distinct_id = %s", [project_id, person_or_id])
        row = cursor.fetchone()
    return row[0] if row else person_or_id


def erase_person(*, project: Project, person_id: str) -> Erased:
    """Delete every event of the person ``person_id`` (or of the person an id of theirs belongs
    to) and every trace of them; returns what went."""
    person = resolve_person(project.pk, person_id)
    params = {"project": project.pk, "person": person,
              "pageviews": list(PAGEVIEW_EVENTS)}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [rollups.LOCK_ID])
    try:
        outer = connection.in_atomic_block
        with transaction.atomic(), connection.cursor() as cursor:
            if not outer:  # one snapshot for the fold and the delete (see the docstring)
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            rollups.fold_all_pending(cursor)
            cursor.execute(_IDS, params)
            ids = sorted(row[0] for row in cursor.fetchall())
            params["ids"] = ids
            cursor.execute(_COLLECT, params)
            cursor.execute("SELECT count(*), coalesce(array_agg(DISTINCT session_id) "
                           "FILTER (WHERE session_id IS NOT NULL), '{}') FROM erased")
            events, sessions = cursor.fetchone()
            cursor.execute(
                "SELECT coalesce(array_agg(DISTINCT session_id), '{}') FROM events_sessionrollup "
                "WHERE project_id = %(project)s AND person_id = ANY(%(ids)s)", params)
            sessions = sorted(set(sessions) | set(cursor.fetchone()[0]))
            cursor.execute(
                "SELECT coalesce(array_agg(DISTINCT hashtextextended(i, 0)), '{}') "
                "FROM unnest(%s::text[]) AS u(i)", [ids])
            params["hashes"] = cursor.fetchone()[0]
            cursor.execute(
                "SELECT coalesce(array_agg(DISTINCT hashtextextended(s, 0)), '{}') "
                "FROM unnest(%s::text[]) AS u(s)", [sessions])
            params["session_hashes"] = cursor.fetchone()[0]
            params["sessions"] = sessions
            for statement in _SUBTRACT:
                cursor.execute(statement, params)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [rollups.LOCK_ID])
    freshness.bump(project.pk)
    freshness.bump_erasures(project.pk)
    transaction.on_commit(lambda: _note_position(project.pk))
    return Erased(person, ids, events, len(sessions))


def _note_position(project_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        freshness.note_erasure_position(project_id, cursor.fetchone()[0])
