"""Per-hour session statistics by the hour a session started: sessions, sessions with page views,
bounces and the sum of durations, kept exact as sessions grow (each fold takes a changed
session's old contribution out of its hour and puts the new one in)."""

from django.db import migrations

CREATE = """
CREATE TABLE events_sessionhour (
    project_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    sessions bigint NOT NULL,
    with_pageviews bigint NOT NULL,
    bounces bigint NOT NULL,
    duration_sum double precision NOT NULL,
    PRIMARY KEY (project_id, hour)
);
INSERT INTO events_sessionhour (project_id, hour, sessions, with_pageviews, bounces,
                                duration_sum)
SELECT project_id, date_trunc('hour', started_at, 'UTC'), count(*),
       count(*) FILTER (WHERE pageviews > 0), count(*) FILTER (WHERE pageviews = 1 AND events = 1),
       coalesce(sum(extract(epoch FROM ended_at - started_at)), 0)
FROM events_sessionrollup GROUP BY 1, 2;
"""

DROP = "DROP TABLE IF EXISTS events_sessionhour;"


class Migration(migrations.Migration):
    dependencies = [("events", "0007_rollup_stats_indexes")]

    operations = [migrations.RunSQL(CREATE, DROP)]
