"""Each session keeps its page views in order (up to 50: the path, and when), so paths read one
row per session instead of probing every session's events."""

from django.db import migrations

CREATE = """
SET LOCAL statement_timeout = 0;
ALTER TABLE events_sessiondelta ADD COLUMN pages text[], ADD COLUMN pages_at timestamptz[];
ALTER TABLE events_sessionrollup ADD COLUMN pages text[], ADD COLUMN pages_at timestamptz[];
CREATE INDEX events_sessionrollup_pages ON events_sessionrollup USING gin (pages);
"""

DROP = """
DROP INDEX IF EXISTS events_sessionrollup_pages;
ALTER TABLE events_sessionrollup DROP COLUMN pages, DROP COLUMN pages_at;
ALTER TABLE events_sessiondelta DROP COLUMN pages, DROP COLUMN pages_at;
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0014_personalias_hash")]

    operations = [migrations.RunSQL(CREATE, DROP)]
