"""Existing people's active hours, from the hourly sets of ids (``events_hourrollup``: what
retention read until now, so its answers do not change), a project per transaction and outside
the migration's own, so that ingestion (which only appends deltas) never waits for it. Hours the
fold adds meanwhile are kept (a union, not an overwrite); deltas written before the column existed
are given the hours of their first and last event by the fold."""

from django.db import migrations

FILL = """
WITH aliases AS MATERIALIZED (
    SELECT hashtextextended(distinct_id, 0) AS dh, hashtextextended(person_id, 0) AS ph
    FROM events_personalias WHERE project_id = %(project)s
), hours AS (
    SELECT coalesce(a.ph, u.h) AS ph,
           array_agg(DISTINCT events_hour_of(r.hour) ORDER BY events_hour_of(r.hour)) AS hs
    FROM events_hourrollup r CROSS JOIN LATERAL unnest(r.distinct_ids) AS u(h)
    LEFT JOIN aliases a ON a.dh = u.h
    WHERE r.project_id = %(project)s
    GROUP BY 1
)
UPDATE events_person p SET active_hours = events_hours_union(p.active_hours, h.hs)
FROM hours h
WHERE p.project_id = %(project)s AND h.ph = hashtextextended(p.person_id, 0)
"""


def fill(apps, schema_editor):
    from django.db import transaction

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT project_id FROM events_person ORDER BY 1")
        projects = [row[0] for row in cursor.fetchall()]
    for project in projects:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 0")
            cursor.execute(FILL, {"project": project})


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("events", "0018_person_active_hours")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
