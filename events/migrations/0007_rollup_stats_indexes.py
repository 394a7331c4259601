"""Covering indexes for the rollups' plain aggregates: a count, sum, avg, min, max or last over
many series reads the index alone (index-only scan), not the wide rows with their sketches."""

from django.db import migrations

CREATE = """
CREATE INDEX events_metricrollup1h_stats ON events_metricrollup1h (series_id, bucket)
    INCLUDE (count, sum, min, max, last_at, last);
CREATE INDEX events_metricrollup1m_stats ON events_metricrollup1m (series_id, bucket)
    INCLUDE (count, sum, min, max, last_at, last);
"""

DROP = """
DROP INDEX IF EXISTS events_metricrollup1m_stats;
DROP INDEX IF EXISTS events_metricrollup1h_stats;
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0006_metric_name_rollup")]

    operations = [migrations.RunSQL(CREATE, DROP)]
