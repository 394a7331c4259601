"""Each person's active hours on their row of the people rollup (``events_person.active_hours``:
the sorted UTC hours, as hours since 1970 (``events_hour_of``), in which any id linked to them
sent an event), kept by the fold like the rest of the row — so a retention table reads one row per
person instead of resolving every hour's ids through the identify links.

The columns only (instant: a constant default); the next migration fills existing rows."""

from django.db import migrations

CREATE = """
ALTER TABLE events_person ADD COLUMN active_hours integer[] NOT NULL DEFAULT '{}';
ALTER TABLE events_persondelta ADD COLUMN hours integer[] NOT NULL DEFAULT '{}';

-- The hour a moment falls in, as whole hours since 1970 (UTC).
CREATE FUNCTION events_hour_of(timestamptz) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT floor(date_part('epoch', $1) / 3600)::integer
$$;

-- The union of two sorted sets of hours, sorted; the common cases (nothing new, or only hours
-- after the last one held) without a sort.
CREATE FUNCTION events_hours_union(integer[], integer[]) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN cardinality($2) = 0 THEN $1
        WHEN cardinality($1) = 0 THEN $2
        WHEN $2[1] > $1[cardinality($1)] THEN $1 || $2
        WHEN $2 <@ $1 THEN $1
        ELSE (SELECT array_agg(DISTINCT h ORDER BY h) FROM unnest($1 || $2) AS u(h)) END
$$;
"""

DROP = """
ALTER TABLE events_person DROP COLUMN IF EXISTS active_hours;
ALTER TABLE events_persondelta DROP COLUMN IF EXISTS hours;
DROP FUNCTION IF EXISTS events_hours_union(integer[], integer[]);
DROP FUNCTION IF EXISTS events_hour_of(timestamptz);
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0017_path_hours")]

    operations = [migrations.RunSQL(CREATE, DROP)]
