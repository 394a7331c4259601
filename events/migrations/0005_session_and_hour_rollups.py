"""Rollups behind the analytics overview over long ranges.

- ``events_hourrollup``: per project and hour, all events together — count, page views, and the
  sets of session and distinct-id hashes — so unique users over a month merge 720 sets instead of
  one per event name and hour.
- ``events_sessionrollup``: one row per session — first and last event, events, page views — so
  session counts, bounce rate and durations read one row per session, not every event.

Both are fed like the others: per-batch deltas written with the events, folded by events.rollups.
"""

from django.db import migrations

CREATE = """
CREATE TABLE events_hourrollup (
    project_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    count bigint NOT NULL,
    pageviews bigint NOT NULL,
    sessions bigint[] NOT NULL,
    distinct_ids bigint[] NOT NULL,
    PRIMARY KEY (project_id, hour)
);

CREATE TABLE events_sessiondelta (
    project_id bigint NOT NULL,
    session_id text NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at timestamptz NOT NULL,
    events bigint NOT NULL,
    pageviews bigint NOT NULL
);

CREATE TABLE events_sessionrollup (
    project_id bigint NOT NULL,
    session_id text NOT NULL,
    started_at timestamptz NOT NULL,
    ended_at timestamptz NOT NULL,
    events bigint NOT NULL,
    pageviews bigint NOT NULL,
    PRIMARY KEY (project_id, session_id)
);
CREATE INDEX events_sessionrollup_started ON events_sessionrollup (project_id, started_at)
    INCLUDE (ended_at, events, pageviews);
"""

DROP = """
DROP TABLE IF EXISTS events_sessionrollup;
DROP TABLE IF EXISTS events_sessiondelta;
DROP TABLE IF EXISTS events_hourrollup;
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0004_rollup_last_value")]

    operations = [migrations.RunSQL(CREATE, DROP)]
