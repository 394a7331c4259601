"""Page paths pre-aggregated per hour and per day of the sessions' start: for every page a
session saw, the (step, page, next page) pairs that follow its first view of it (and precede it),
so a path report over a month reads a few thousand rows instead of every session that saw the
start page.

``events_pathrollup1h`` holds, per project, hour, bot flag, origin page and direction, the
sessions per (step, page, next page) for steps 0 to ``MAX_STEPS - 1``, by the same definition as
``events.query.paths`` (reloads collapse, paths follow the first view of the origin, ``(end)``
after the last page). ``events_pathhour`` says which hours are built. An hour is built once its
sessions are likely over (``GRACE`` after its end); a day (``events_pathrollup1d``, marked in
``events_pathday``) once all its hours are, by adding them up. A fold that changes a session of a
built hour, or an erasure, takes the hour and its day out and the next build makes them again —
until then readers compute that hour from the session rollup, so an answer is never stale.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from .rollups import LOCK_ID

MAX_STEPS = 5
GRACE = timedelta(hours=2)
END = "(end)"

# Each session of the hours once: its page list with reloads collapsed; each page at its first
# position; both directions; the pairs from there, read off the array.
BUILD = """
INSERT INTO events_pathrollup1h
    (project_id, hour, bot, origin, direction, step, value, next, sessions)
SELECT %(project)s, s.hour, s.bot, o.origin, d.direction, g.step,
       s.c[o.at + d.direction * g.step],
       coalesce(s.c[o.at + d.direction * (g.step + 1)], %(end)s), count(*)
FROM (SELECT date_trunc('hour', r.started_at, 'UTC') AS hour, r.bot,
             ARRAY(SELECT u.value FROM unnest(r.pages) WITH ORDINALITY AS u(value, i)
                   WHERE u.value IS DISTINCT FROM r.pages[u.i - 1] ORDER BY u.i) AS c
      FROM events_sessionrollup r
      WHERE r.project_id = %(project)s AND r.started_at >= %(start)s
        AND r.started_at < %(end_at)s AND cardinality(r.pages) > 0
      OFFSET 0) AS s
CROSS JOIN LATERAL (SELECT u.value AS origin, min(u.i)::int AS at
                    FROM unnest(s.c) WITH ORDINALITY AS u(value, i)
                    WHERE u.value IS NOT NULL GROUP BY u.value) AS o
CROSS JOIN (VALUES (1), (-1)) AS d(direction)
CROSS JOIN generate_series(0, %(steps)s - 1) AS g(step)
WHERE o.at + d.direction * g.step BETWEEN 1 AND cardinality(s.c)
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""

# Hours whose sessions are over and that are not built: from the hourly session statistics (a
# row per project and hour), not from the sessions themselves.
DUE = """
SELECT h.project_id, h.hour FROM events_sessionhour h
WHERE h.hour < %(before)s AND h.sessions > 0
  AND NOT EXISTS (SELECT 1 FROM events_pathhour d
                  WHERE d.project_id = h.project_id AND d.hour = h.hour)
GROUP BY 1, 2 ORDER BY 2 DESC, 1
"""


# Days over (by GRACE) and not built whose every hour with sessions is built.
DUE_DAYS = """
SELECT project_id, day FROM (
    SELECT h.project_id, (h.hour AT TIME ZONE 'UTC')::date AS day,
           bool_and(EXISTS (SELECT 1 FROM events_pathhour x
                            WHERE x.project_id = h.project_id AND x.hour = h.hour)) AS built
    FROM events_sessionhour h
    WHERE h.hour < %(before)s AND h.sessions > 0 {project}
    GROUP BY 1, 2) AS t
WHERE built AND NOT EXISTS (SELECT 1 FROM events_pathday d
                            WHERE d.project_id = t.project_id AND d.day = t.day)
ORDER BY 2 DESC, 1
"""

ROLL_DAY = """
INSERT INTO events_pathrollup1d
    (project_id, day, bot, origin, direction, step, value, next, sessions)
SELECT project_id, %(day)s, bot, origin, direction, step, value, next, sum(sessions)
FROM events_pathrollup1h
WHERE project_id = %(project)s AND hour >= %(start)s AND hour < %(end)s
GROUP BY project_id, bot, origin, direction, step, value, next
"""


def build(project_id: int, hours: list[datetime]) -> int:
    """Make these hours' rows again (one transaction); returns how many. Holds the fold's lock,
    so no fold changes their sessions between the read and the mark."""
    if not hours:
        return 0
    rows = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("DELETE FROM events_pathrollup1h WHERE project_id = %s "
                       "AND hour = ANY(%s)", [project_id, hours])
        for start, end in _stretches(hours):
            cursor.execute(BUILD, {"project": project_id, "start": start, "end_at": end,
                                   "end": END, "steps": MAX_STEPS})
            rows += cursor.rowcount
        cursor.execute("INSERT INTO events_pathhour (project_id, hour, built_at) "
                       "SELECT %s, unnest(%s::timestamptz[]), now() "
                       "ON CONFLICT (project_id, hour) DO UPDATE SET built_at = now()",
                       [project_id, hours])
    return rows


def _stretches(hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Consecutive hours joined: [(start, end), …]."""
    out: list[tuple[datetime, datetime]] = []
    for hour in sorted(hours):
        if out and out[-1][1] == hour:
            out[-1] = (out[-1][0], hour + timedelta(hours=1))
        else:
            out.append((hour, hour + timedelta(hours=1)))
    return out


def roll_day(project_id: int, day) -> bool:
    """Add up a day whose hours are all built (checked again under the fold's lock); False if
    one of them was taken out meanwhile."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
        cursor.execute(sql_due_days(one=True), {"before": start + timedelta(days=1),
                                                "project": project_id, "start": start})
        if not cursor.fetchall():
            return False
        cursor.execute("DELETE FROM events_pathrollup1d WHERE project_id = %s AND day = %s",
                       [project_id, day])
        cursor.execute(ROLL_DAY, {"project": project_id, "day": day, "start": start,
                                  "end": start + timedelta(days=1)})
        cursor.execute("INSERT INTO events_pathday (project_id, day, built_at) "
                       "VALUES (%s, %s, now()) ON CONFLICT (project_id, day) "
                       "DO UPDATE SET built_at = now()", [project_id, day])
    return True


def sql_due_days(*, one: bool = False) -> str:
    return DUE_DAYS.format(project="AND h.project_id = %(project)s AND h.hour >= %(start)s"
                           if one else "")


def build_due(*, now: datetime | None = None, batch: int = 24) -> list[tuple[int, str]]:
    """Build every hour that is over (by ``GRACE``) and not built, newest first, ``batch``
    hours a transaction, then every day whose hours are all built; returns (project, hour) of
    each hour built."""
    now = now or datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute(DUE, {"before": now - GRACE - timedelta(hours=1)})
        due = cursor.fetchall()
    by_project: dict[int, list[datetime]] = {}
    for project_id, hour in due:
        by_project.setdefault(project_id, []).append(hour)
    for project_id, hours in by_project.items():
        for n in range(0, len(hours), batch):
            build(project_id, hours[n:n + batch])
    last_day = (now - GRACE).replace(hour=0, minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(sql_due_days(), {"before": last_day})
        days = cursor.fetchall()
    for project_id, day in days:
        roll_day(project_id, day)
    return [(project_id, hour.isoformat()) for project_id, hour in due]
