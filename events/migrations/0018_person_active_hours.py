"""Each person's active hours on their row of the people rollup (``events_person.active_hours``:
the sorted UTC hours, as hours since 1970, in which any id linked to them sent an event), kept by
the fold like the rest of the row — so a retention table reads one row per person instead of
resolving every hour's ids through the identify links.

Existing rows are filled from the hourly sets of ids (``events_hourrollup``), which is what
retention read until now, so its answers do not change."""

from django.db import migrations

CREATE = """
SET LOCAL statement_timeout = 0;
ALTER TABLE events_person ADD COLUMN active_hours integer[] NOT NULL DEFAULT '{}';
ALTER TABLE events_persondelta ADD COLUMN hours integer[] NOT NULL DEFAULT '{}';

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

WITH aliases AS MATERIALIZED (
    SELECT project_id, hashtextextended(distinct_id, 0) AS dh,
           hashtextextended(person_id, 0) AS ph
    FROM events_personalias
), hours AS (
    SELECT r.project_id, coalesce(a.ph, u.h) AS ph,
           array_agg(DISTINCT floor(extract(epoch FROM r.hour) / 3600)::int
                     ORDER BY floor(extract(epoch FROM r.hour) / 3600)::int) AS hs
    FROM events_hourrollup r CROSS JOIN LATERAL unnest(r.distinct_ids) AS u(h)
    LEFT JOIN aliases a ON a.project_id = r.project_id AND a.dh = u.h
    GROUP BY 1, 2
)
UPDATE events_person p SET active_hours = h.hs
FROM hours h
WHERE h.project_id = p.project_id AND h.ph = hashtextextended(p.person_id, 0);
"""

DROP = """
ALTER TABLE events_person DROP COLUMN IF EXISTS active_hours;
ALTER TABLE events_persondelta DROP COLUMN IF EXISTS hours;
DROP FUNCTION IF EXISTS events_hours_union(integer[], integer[]);
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0017_path_hours")]

    operations = [migrations.RunSQL(CREATE, DROP)]
