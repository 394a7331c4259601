"""Hourly rollup of each metric name over all its series: the answer to an unfiltered,
ungrouped metric query (``p95:http.latency_ms{}``) over long ranges, without merging every
series' sketch at query time."""

from django.db import migrations

CREATE = """
CREATE TABLE events_metricnamerollup1h (
    project_id bigint NOT NULL,
    name text NOT NULL,
    bucket timestamptz NOT NULL,
    count bigint NOT NULL,
    sum double precision NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    sketch_keys int[] NOT NULL,
    sketch_counts bigint[] NOT NULL,
    last_at timestamptz,
    last double precision,
    PRIMARY KEY (project_id, name, bucket)
);
"""

DROP = "DROP TABLE IF EXISTS events_metricnamerollup1h;"


class Migration(migrations.Migration):
    dependencies = [("events", "0005_session_and_hour_rollups")]

    operations = [migrations.RunSQL(CREATE, DROP)]
