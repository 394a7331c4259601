"""Rollup tables and the deltas that feed them (see events.rollups).

Each stored batch writes its own partial aggregates into a delta table in the same transaction as
its rows (append-only, so concurrent batches never contend); a worker folds the deltas into the
rollups every few seconds, deleting them in the same transaction, so each delta counts once.

Metric rollups keep count, sum, min, max and a DDSketch (events.sketch) as two parallel arrays.
Event rollups keep, per hour and event name, the count and the sets of session and distinct-id
hashes (``hashtextextended(text, 0)``), so unique sessions and users merge exactly over any range
and identities linked later by ``identify`` resolve at query time.
"""

from django.db import migrations

CREATE = """
CREATE TABLE events_metricdelta (
    series_id bigint NOT NULL,
    minute timestamptz NOT NULL,
    count bigint NOT NULL,
    sum double precision NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    sketch_keys int[] NOT NULL,
    sketch_counts bigint[] NOT NULL
);

CREATE TABLE events_metricrollup1m (
    series_id bigint NOT NULL,
    bucket timestamptz NOT NULL,
    count bigint NOT NULL,
    sum double precision NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    sketch_keys int[] NOT NULL,
    sketch_counts bigint[] NOT NULL,
    PRIMARY KEY (series_id, bucket)
) PARTITION BY RANGE (bucket);

CREATE TABLE events_metricrollup1h (
    series_id bigint NOT NULL,
    bucket timestamptz NOT NULL,
    count bigint NOT NULL,
    sum double precision NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    sketch_keys int[] NOT NULL,
    sketch_counts bigint[] NOT NULL,
    PRIMARY KEY (series_id, bucket)
);

CREATE TABLE events_eventdelta (
    project_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    event text NOT NULL,
    count bigint NOT NULL,
    sessions bigint[] NOT NULL,
    distinct_ids bigint[] NOT NULL
);

CREATE TABLE events_eventrollup1h (
    project_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    event text NOT NULL,
    count bigint NOT NULL,
    sessions bigint[] NOT NULL,
    distinct_ids bigint[] NOT NULL,
    PRIMARY KEY (project_id, hour, event)
);

-- Sum two sketches bucket by bucket; keys stay sorted.
CREATE FUNCTION events_sketch_merge(int[], bigint[], int[], bigint[],
                                    OUT keys int[], OUT counts bigint[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(k ORDER BY k), array_agg(c ORDER BY k)
    FROM (SELECT k, sum(c)::bigint AS c
          FROM (SELECT * FROM unnest($1, $2) AS a(k, c)
                UNION ALL
                SELECT * FROM unnest($3, $4) AS b(k, c)) AS u
          GROUP BY k) AS s
$$;

-- The union of two sorted sets of hashes, sorted.
CREATE FUNCTION events_hash_union(bigint[], bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT h ORDER BY h), '{}')
    FROM unnest($1 || $2) AS u(h)
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS events_hash_union(bigint[], bigint[]);
DROP FUNCTION IF EXISTS events_sketch_merge(int[], bigint[], int[], bigint[]);
DROP TABLE IF EXISTS events_eventrollup1h;
DROP TABLE IF EXISTS events_eventdelta;
DROP TABLE IF EXISTS events_metricrollup1h;
DROP TABLE IF EXISTS events_metricrollup1m;
DROP TABLE IF EXISTS events_metricdelta;
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0002_partitioned_tables")]

    operations = [migrations.RunSQL(CREATE, DROP)]
