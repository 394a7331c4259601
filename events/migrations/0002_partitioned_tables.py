"""The partitioned tables behind the unmanaged models Event, EventSeen and MetricPoint.

Partitions (one a day) are created by events.partitions, ahead of time by a beat task and on
demand when a batch carries a day that has none yet.
"""

from django.db import migrations

CREATE = """
CREATE TABLE events_event (
    project_id bigint NOT NULL,
    uuid uuid NOT NULL,
    event text NOT NULL,
    distinct_id text NOT NULL,
    person_id text NOT NULL,
    session_id text,
    "timestamp" timestamptz NOT NULL,
    client_timestamp timestamptz,
    received_at timestamptz NOT NULL,
    properties jsonb NOT NULL DEFAULT '{}'::jsonb,
    page_url text,
    path text,
    referrer text,
    referrer_domain text,
    browser text,
    os text,
    device_type text,
    ip_hash text
) PARTITION BY RANGE ("timestamp");
-- The query engine reads a project's events over a time range, often for one event name.
CREATE INDEX events_event_project_time ON events_event (project_id, "timestamp");
CREATE INDEX events_event_project_name_time ON events_event (project_id, event, "timestamp");

CREATE TABLE events_eventseen (
    project_id bigint NOT NULL,
    uuid uuid NOT NULL,
    seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, uuid)
);
CREATE INDEX events_eventseen_seen_at ON events_eventseen USING brin (seen_at);

CREATE TABLE events_metricpoint (
    series_id bigint NOT NULL,
    "timestamp" timestamptz NOT NULL,
    value double precision NOT NULL
) PARTITION BY RANGE ("timestamp");
CREATE INDEX events_metricpoint_series_time ON events_metricpoint (series_id, "timestamp");
"""

DROP = """
DROP TABLE IF EXISTS events_metricpoint;
DROP TABLE IF EXISTS events_eventseen;
DROP TABLE IF EXISTS events_event;
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
