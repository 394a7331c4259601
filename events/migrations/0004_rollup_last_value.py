"""The latest value per rollup bucket (and when it was taken), for the ``last`` aggregation."""

from django.db import migrations

CREATE = """
ALTER TABLE events_metricdelta ADD COLUMN last_at timestamptz, ADD COLUMN last double precision;
ALTER TABLE events_metricrollup1m ADD COLUMN last_at timestamptz,
                                  ADD COLUMN last double precision;
ALTER TABLE events_metricrollup1h ADD COLUMN last_at timestamptz,
                                  ADD COLUMN last double precision;
"""

DROP = """
ALTER TABLE events_metricrollup1h DROP COLUMN last_at, DROP COLUMN last;
ALTER TABLE events_metricrollup1m DROP COLUMN last_at, DROP COLUMN last;
ALTER TABLE events_metricdelta DROP COLUMN last_at, DROP COLUMN last;
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0003_rollups")]

    operations = [migrations.RunSQL(CREATE, DROP)]
