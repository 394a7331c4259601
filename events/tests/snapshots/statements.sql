-- metric avg by host, 30 days hourly (1 h rollup) [1/2] reads events_metricseries (resolution raw)
SELECT id, tags FROM events_metricseries WHERE project_id = %s AND name = %s;

-- metric avg by host, 30 days hourly (1 h rollup) [2/2] reads events_metricrollup1h (resolution 3600)
SELECT g.grp, extract(epoch FROM t."bucket")::bigint AS b, sum(t.sum) / nullif(sum(t.count), 0)
        FROM "events_metricrollup1h" AS t
        JOIN unnest(%(ids)s::bigint[], %(grps)s::int[]) AS g(series_id, grp) USING (series_id)
        WHERE t."bucket" >= %(start)s AND t."bucket" < %(end)s GROUP BY 1, 2;

-- metric avg by host, 12 hosts: top 10 and other in one statement [1/2] reads events_metricseries (resolution raw)
SELECT id, tags FROM events_metricseries WHERE project_id = %s AND name = %s AND tags @> %s::jsonb;

-- metric avg by host, 12 hosts: top 10 and other in one statement [2/2] reads events_metricrollup1h (resolution 3600)
WITH cells AS (
            SELECT g.grp, extract(epoch FROM t."bucket")::bigint AS b, sum(t.count)::bigint AS n, sum(t.sum) AS s, min(t.min) AS lo, max(t.max) AS hi, NULL::timestamptz AS at, NULL::float8 AS v
        FROM "events_metricrollup1h" AS t
        JOIN unnest(%(ids)s::bigint[], %(grps)s::int[]) AS g(series_id, grp) USING (series_id)
        WHERE t."bucket" >= %(start)s AND t."bucket" < %(end)s GROUP BY 1, 2
        ), ranked AS (
            SELECT grp, row_number() OVER (ORDER BY sum(s) / nullif(sum(n), 0) DESC NULLS LAST, grp) AS r
            FROM cells GROUP BY grp
        )
        SELECT CASE WHEN r.r <= %(limit)s THEN c.grp ELSE  -1 END AS grp,
               min(r.r) AS r, c.b, sum(s) / nullif(sum(n), 0)
        FROM cells c JOIN ranked r USING (grp)
        GROUP BY 1, c.b;

-- metric p95 of every series, 30 days hourly (name-level rollup, sketches read here) [1/2] reads events_metricseries (resolution raw)
SELECT id, tags FROM events_metricseries WHERE project_id = %s AND name = %s;

-- metric p95 of every series, 30 days hourly (name-level rollup, sketches read here) [2/2] reads events_metricnamerollup1h (resolution 3600)
SELECT extract(epoch FROM t."bucket")::bigint AS b, t.sketch_keys, t.sketch_counts, t.min, t.max
            FROM events_metricnamerollup1h AS t CROSS JOIN (SELECT 0 AS grp) AS g
            WHERE t.project_id = %(project)s AND t.name = %(name)s
              AND t.bucket >= %(start)s AND t.bucket < %(end)s;

-- metric p95 by host, a day by minute (1 min rollup, sketches merged in SQL) [1/2] reads events_metricseries (resolution raw)
SELECT id, tags FROM events_metricseries WHERE project_id = %s AND name = %s;

-- metric p95 by host, a day by minute (1 min rollup, sketches merged in SQL) [2/2] reads events_metricrollup1m (resolution 60)
WITH scanned AS MATERIALIZED (
            SELECT g.grp, extract(epoch FROM date_bin(make_interval(secs => 300), t."bucket", TIMESTAMPTZ '1970-01-01 00:00:00+00'))::bigint AS b, t.sketch_keys, t.sketch_counts, t.min, t.max
        FROM "events_metricrollup1m" AS t
        JOIN unnest(%(ids)s::bigint[], %(grps)s::int[]) AS g(series_id, grp) USING (series_id)
        WHERE t."bucket" >= %(start)s AND t."bucket" < %(end)s
        ), bounds AS (
            SELECT grp, b, min(min) AS lo, max(max) AS hi FROM scanned GROUP BY grp, b
        ), q AS (
        SELECT grp, b, min(k) FILTER (WHERE running >= greatest(1, ceil(0.95 * total))) AS k
        FROM (SELECT grp, b, k,
                     sum(c) OVER (PARTITION BY grp, b ORDER BY k)::float8 AS running,
                     sum(c) OVER (PARTITION BY grp, b)::float8 AS total
              FROM (
            SELECT grp, b, u.k, sum(u.c) AS c
            FROM scanned CROSS JOIN LATERAL unnest(sketch_keys, sketch_counts) AS u(k, c)
            GROUP BY 1, 2, 3) AS cells) AS ranked
        GROUP BY grp, b)
        SELECT q.grp, q.b, q.k, bounds.lo, bounds.hi
        FROM q JOIN bounds ON bounds.grp = q.grp AND bounds.b = q.b;

-- metric last hour raw, filtered [1/2] reads events_metricseries (resolution raw)
SELECT id, tags FROM events_metricseries WHERE project_id = %s AND name = %s AND tags @> %s::jsonb;

-- metric last hour raw, filtered [2/2] reads events_metricpoint (resolution raw)
SELECT g.grp, extract(epoch FROM date_bin(make_interval(secs => 10), t."timestamp", TIMESTAMPTZ '1970-01-01 00:00:00+00'))::bigint AS b, avg(t.value)
        FROM "events_metricpoint" AS t
        JOIN unnest(%(ids)s::bigint[], %(grps)s::int[]) AS g(series_id, grp) USING (series_id)
        WHERE t."timestamp" >= %(start)s AND t."timestamp" < %(end)s GROUP BY 1, 2;

-- events count by name, 7 days hourly (event rollup) [1/2] reads events_eventrollup1h (resolution 3600)
SELECT * FROM (SELECT jsonb_build_array("r"."event")::text AS grp, 0::bigint AS b, sum(r.count) FROM events_eventrollup1h r WHERE "r".project_id = %(project)s AND r.hour >= %(start)s AND r.hour < %(end)s AND "r"."event" = ANY('{purchase,signup}') GROUP BY 1, 2) AS ranked ORDER BY 3 DESC NULLS LAST, 1 LIMIT 11;

-- events count by name, 7 days hourly (event rollup) [2/2] reads events_eventrollup1h (resolution 3600)
SELECT jsonb_build_array("r"."event")::text AS grp, extract(epoch FROM r.hour)::bigint AS b, sum(r.count) FROM events_eventrollup1h r WHERE "r".project_id = %(project)s AND r.hour >= %(start)s AND r.hour < %(end)s AND "r"."event" = ANY('{purchase,signup}') GROUP BY 1, 2;

-- events unique users by day in Berlin (rollup with identify links) [1/1] reads events_eventrollup1h (resolution 3600)
WITH aliases AS (
    SELECT hashtextextended(distinct_id, 0) AS dh, hashtextextended(person_id, 0) AS ph
    FROM events_personalias WHERE project_id = %(project)s) SELECT NULL::text AS grp, extract(epoch FROM (date_bin(make_interval(days => 1), (r.hour AT TIME ZONE 'Europe/Berlin'), TIMESTAMP '1970-01-01') AT TIME ZONE 'Europe/Berlin'))::bigint AS b, count(DISTINCT coalesce(a.ph, h)) FROM events_eventrollup1h r LEFT JOIN LATERAL unnest(r.distinct_ids) AS h ON true LEFT JOIN aliases a ON a.dh = h WHERE "r".project_id = %(project)s AND r.hour >= %(start)s AND r.hour < %(end)s GROUP BY 1, 2;

-- events numeric property by browser, raw, top groups [1/2] reads events_event (resolution raw)
SELECT * FROM (SELECT jsonb_build_array("e"."browser")::text AS grp, 0::bigint AS b, sum((CASE WHEN jsonb_typeof(e.properties -> 'amount') = 'number' THEN (e.properties ->> 'amount')::float8 END)) FROM events_event e WHERE "e".project_id = %(project)s AND e."timestamp" >= %(start)s AND e."timestamp" < %(end)s AND "e"."event" = 'purchase' AND ("e".properties ->> 'plan') = 'pro' GROUP BY 1, 2) AS ranked ORDER BY 3 DESC NULLS LAST, 1 LIMIT 4;

-- events numeric property by browser, raw, top groups [2/2] reads events_event (resolution raw)
SELECT CASE WHEN jsonb_build_array("e"."browser")::text = ANY( E'{"[\\"Firefox\\"]","[\\"Chrome\\"]","[\\"Safari\\"]"}') THEN jsonb_build_array("e"."browser")::text END AS grp, extract(epoch FROM date_bin(make_interval(secs => 3600), e."timestamp", TIMESTAMPTZ '1970-01-01 00:00:00+00'))::bigint AS b, sum((CASE WHEN jsonb_typeof(e.properties -> 'amount') = 'number' THEN (e.properties ->> 'amount')::float8 END)) FROM events_event e WHERE "e".project_id = %(project)s AND e."timestamp" >= %(start)s AND e."timestamp" < %(end)s AND "e"."event" = 'purchase' AND ("e".properties ->> 'plan') = 'pro' GROUP BY 1, 2;

-- analytics overview (per period: counts, people, sessions) [1/4] reads events_personalias (resolution raw)
SELECT EXISTS (SELECT 1 FROM events_personalias WHERE project_id = %(project)s);

-- analytics overview (per period: counts, people, sessions) [2/4] reads events_eventrollup1h (resolution raw)
WITH edges AS (
    SELECT e.event, e.distinct_id FROM events_event e
    WHERE e.project_id = %(project)s
      AND ((e."timestamp" >= %(start)s AND e."timestamp" < %(a)s)
           OR (e."timestamp" >= %(b)s AND e."timestamp" < %(end)s))), by_name AS (
    SELECT event, sum(n)::bigint AS n FROM (
        SELECT event, count AS n FROM events_eventrollup1h
        WHERE project_id = %(project)s AND hour >= %(a)s AND hour < %(b)s
        UNION ALL
        SELECT event, 1 FROM edges) AS u
    GROUP BY event
)
SELECT (SELECT coalesce(sum(n), 0) FROM by_name),
       (SELECT coalesce(sum(n), 0) FROM by_name WHERE event = ANY(%(pageviews)s)),
       (SELECT event FROM by_name ORDER BY n DESC, event LIMIT 1),
       (SELECT n FROM by_name ORDER BY n DESC, event LIMIT 1);

-- analytics overview (per period: counts, people, sessions) [3/4] reads events_hourrollup (resolution raw)
SELECT count(DISTINCT coalesce(a.ph, x.h))
FROM (SELECT unnest(distinct_ids) AS h FROM events_hourrollup
      WHERE project_id = %(project)s AND hour >= %(a)s AND hour < %(b)s
      UNION ALL
      SELECT hashtextextended(distinct_id, 0) FROM (
    SELECT e.event, e.distinct_id FROM events_event e
    WHERE e.project_id = %(project)s
      AND ((e."timestamp" >= %(start)s AND e."timestamp" < %(a)s)
           OR (e."timestamp" >= %(b)s AND e."timestamp" < %(end)s))) AS edges) AS x
LEFT JOIN (
    SELECT hashtextextended(distinct_id, 0) AS dh, hashtextextended(person_id, 0) AS ph
    FROM events_personalias WHERE project_id = %(project)s) AS a ON a.dh = x.h;

-- analytics overview (per period: counts, people, sessions) [4/4] reads events_sessionhour (resolution raw)
SELECT sum(sessions)::bigint, sum(with_pageviews)::bigint, sum(bounces)::bigint,
       sum(duration_sum)::float8 FROM (
    SELECT sessions, with_pageviews, bounces, duration_sum FROM events_sessionhour
    WHERE project_id = %(project)s AND hour >= %(a)s AND hour < %(b)s
    UNION ALL
    SELECT 1, (pageviews > 0)::int, (pageviews = 1 AND events = 1)::int,
           extract(epoch FROM ended_at - started_at)::float8
    FROM events_sessionrollup
    WHERE project_id = %(project)s
      AND ((started_at >= %(start)s AND started_at < %(a)s)
           OR (started_at >= %(b)s AND started_at < %(end)s))) AS s;

-- analytics top pages [1/1] reads events_event (resolution raw)
SELECT e.path AS value, count(*) AS events,
               count(DISTINCT coalesce(a.person_id, e.distinct_id)) AS users, count(DISTINCT e.session_id) AS sessions
        FROM events_event e LEFT JOIN events_personalias a ON a.project_id = e.project_id AND a.distinct_id = e.distinct_id
        WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s
          AND e."timestamp" < %(end)s AND e.path IS NOT NULL
          AND e.event = ANY(%(pageviews)s)
        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %(limit)s;

-- analytics sessions [1/1] reads events_sessionrollup (resolution raw)
WITH s AS (
            SELECT extract(epoch FROM ended_at - started_at) AS duration, pageviews AS pages
            FROM events_sessionrollup
            WHERE project_id = %(project)s AND started_at >= %(start)s
              AND started_at < %(end)s)
        SELECT 'duration', CASE WHEN duration >= 0 AND duration < 10 THEN '0-10s' WHEN duration >= 10 AND duration < 30 THEN '10-30s' WHEN duration >= 30 AND duration < 60 THEN '30-60s' WHEN duration >= 60 AND duration < 180 THEN '1-3m' WHEN duration >= 180 AND duration < 600 THEN '3-10m' WHEN duration >= 600 AND duration < 1800 THEN '10-30m' WHEN duration >= 1800 THEN '30m+' END, count(*) FROM s
        GROUP BY 2
        UNION ALL
        SELECT 'pages', CASE WHEN pages BETWEEN 1 AND 1 THEN '1' WHEN pages BETWEEN 2 AND 2 THEN '2' WHEN pages BETWEEN 3 AND 3 THEN '3' WHEN pages BETWEEN 4 AND 4 THEN '4' WHEN pages BETWEEN 5 AND 9 THEN '5-9' WHEN pages >= 10 THEN '10+' END, count(*) FROM s
        WHERE pages > 0 GROUP BY 2
        UNION ALL
        SELECT 'totals', NULL, count(*) FROM s
        UNION ALL
        SELECT 'avg_duration', NULL, round(avg(duration) * 1000) FROM s
        UNION ALL
        SELECT 'avg_pages', NULL, round(avg(pages) FILTER (WHERE pages > 0) * 1000) FROM s;

-- analytics users [1/1] reads events_event (resolution raw)
WITH identified AS (
            SELECT person_id AS person FROM events_personalias WHERE project_id = %(project)s
            UNION
            SELECT DISTINCT distinct_id FROM events_event
            WHERE project_id = %(project)s AND event IN ('$identify', 'identify')
              AND "timestamp" >= %(start)s AND "timestamp" < %(end)s
        ), people AS (
            SELECT coalesce(a.person_id, e.distinct_id) AS person, min(e."timestamp") AS first_seen,
                   max(e."timestamp") AS last_seen, count(*) AS events
            FROM events_event e LEFT JOIN events_personalias a ON a.project_id = e.project_id AND a.distinct_id = e.distinct_id
            WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s
              AND e."timestamp" < %(end)s
            GROUP BY 1
        )
        SELECT p.person, p.first_seen, p.last_seen, p.events, count(*) OVER () AS total
        FROM people p JOIN identified i USING (person)
        WHERE p.events >= %(min_events)s
          AND (%(search)s = '' OR strpos(lower(p.person), lower(%(search)s)) > 0)
        ORDER BY events ASC, p.person
        LIMIT %(limit)s OFFSET %(offset)s;

-- catalog metric names [1/1] reads events_metricseries (resolution raw)
SELECT name, count(*) FROM events_metricseries WHERE project_id = %(project)s AND strpos(upper(name), upper(%(search)s)) > 0 GROUP BY name ORDER BY name LIMIT %(limit)s;

-- catalog live window [1/1] reads events_metricpoint (resolution raw)
SELECT count(*) FILTER (WHERE w), avg(value) FILTER (WHERE w),
                  min(value) FILTER (WHERE w), max(value) FILTER (WHERE w),
                  percentile_disc(0.95) WITHIN GROUP (ORDER BY value) FILTER (WHERE w),
                  sum(value) FILTER (WHERE "timestamp" > %(now)s - interval '1 second'),
                  count(*) FILTER (WHERE "timestamp" > %(now)s - interval '1 second'),
                  sum(value) FILTER (WHERE "timestamp" > %(now)s - interval '5 seconds'),
                  count(*) FILTER (WHERE "timestamp" > %(now)s - interval '5 seconds'),
                  sum(value) FILTER (WHERE "timestamp" > %(now)s - interval '60 seconds'),
                  count(*) FILTER (WHERE "timestamp" > %(now)s - interval '60 seconds')
           FROM (SELECT value, "timestamp", "timestamp" > %(start)s AS w
                 FROM events_metricpoint
                 WHERE series_id = ANY(%(ids)s) AND "timestamp" > %(from)s
                   AND "timestamp" <= %(now)s) AS recent;
