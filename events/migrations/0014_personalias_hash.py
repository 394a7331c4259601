"""Identify links by the hash the rollups' sets and sketches hold: the reports resolve a small
exact set of hashes to people with one index lookup each."""

from django.db import migrations

CREATE = """
SET LOCAL statement_timeout = 0;
CREATE INDEX events_personalias_hash
    ON events_personalias (project_id, hashtextextended(distinct_id, 0)) INCLUDE (person_id);
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0013_person_admin")]

    operations = [migrations.RunSQL(CREATE, "DROP INDEX IF EXISTS events_personalias_hash")]
