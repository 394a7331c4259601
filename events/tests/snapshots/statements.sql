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
            SELECT g.grp, extract(epoch FROM t."bucket")::bigint AS b, sum(t.count::float8) AS n, sum(t.sum) AS s, min(t.min) AS lo, max(t.max) AS hi, NULL::timestamptz AS at, NULL::float8 AS v
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

-- analytics overview (per period: counts, people, sessions) [1/3] reads events_personalias (resolution raw)
SELECT EXISTS (SELECT 1 FROM events_personalias WHERE project_id = %(project)s);

-- analytics overview (per period: counts, people, sessions) [2/3] reads events_dimrollup1d (resolution 86400)
WITH parts AS (
        SELECT r.value, r.events, r.pageviews, r.visitors, r.sessions FROM events_dimrollup1d r
        WHERE r.project_id = %(project)s AND r.dim = 'event' AND NOT "r".bot
          AND r.bucket >= %(d0)s AND r.bucket < %(d1)s
        UNION ALL
        SELECT r.value, r.events, r.pageviews, r.visitors, r.sessions FROM events_dimrollup1h r
        WHERE r.project_id = %(project)s AND r.dim = 'event' AND NOT "r".bot
          AND ((r.bucket >= %(h0)s AND r.bucket < %(d0)s)
               OR (r.bucket >= %(d1)s AND r.bucket < %(h1)s))
        UNION ALL
        SELECT e.event, count(*), count(*) FILTER (WHERE e.event = ANY(%(pageviews)s)),
               array_agg(DISTINCT hashtextextended(e.person_id, 0)), coalesce(array_agg(DISTINCT hashtextextended(e.session_id, 0))
                                                   FILTER (WHERE e.session_id IS NOT NULL), '{}')
        FROM events_event e
        WHERE e.project_id = %(project)s
          AND ((e."timestamp" >= %(start)s AND e."timestamp" < %(h0)s)
               OR (e."timestamp" >= %(h1)s AND e."timestamp" < %(end)s))
          AND NOT "e".is_bot AND e.event IS NOT NULL
        GROUP BY 1),
        everyone AS (
        SELECT r.value, r.events, r.pageviews, r.visitors, r.sessions FROM events_dimrollup1d r
        WHERE r.project_id = %(project)s AND r.dim = 'all' AND NOT "r".bot
          AND r.bucket >= %(d0)s AND r.bucket < %(d1)s
        UNION ALL
        SELECT r.value, r.events, r.pageviews, r.visitors, r.sessions FROM events_dimrollup1h r
        WHERE r.project_id = %(project)s AND r.dim = 'all' AND NOT "r".bot
          AND ((r.bucket >= %(h0)s AND r.bucket < %(d0)s)
               OR (r.bucket >= %(d1)s AND r.bucket < %(h1)s))
        UNION ALL
        SELECT '', count(*), count(*) FILTER (WHERE e.event = ANY(%(pageviews)s)),
               array_agg(DISTINCT hashtextextended(e.person_id, 0)), coalesce(array_agg(DISTINCT hashtextextended(e.session_id, 0))
                                                   FILTER (WHERE e.session_id IS NOT NULL), '{}')
        FROM events_event e
        WHERE e.project_id = %(project)s
          AND ((e."timestamp" >= %(start)s AND e."timestamp" < %(h0)s)
               OR (e."timestamp" >= %(h1)s AND e."timestamp" < %(end)s))
          AND NOT "e".is_bot AND '' IS NOT NULL
        GROUP BY 1),
        by_event AS (SELECT value, sum(events)::bigint AS n, sum(pageviews)::bigint AS pv
                     FROM parts GROUP BY value),
        visitors AS (
        SELECT v.value, CASE WHEN s.n < 2048 THEN (SELECT count(DISTINCT coalesce(hashtextextended(a.person_id, 0), x)) FROM unnest(s.hs) AS x LEFT JOIN events_personalias a ON a.project_id = %(project)s AND hashtextextended(a.distinct_id, 0) = x)
                             ELSE events_kmv_estimate(s.n, s.mx, 2048) END AS n
        FROM (SELECT DISTINCT value FROM "everyone") AS v
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, max(h) AS mx, array_agg(h) AS hs FROM (
                SELECT DISTINCT u.h FROM "everyone" p, unnest(p."visitors") AS u(h)
                WHERE p.value IS NOT DISTINCT FROM v.value ORDER BY u.h LIMIT 2048) AS l) AS s
        )
        SELECT (SELECT coalesce(sum(n), 0) FROM by_event),
               (SELECT coalesce(sum(pv), 0) FROM by_event),
               (SELECT value FROM by_event ORDER BY n DESC, value LIMIT 1),
               (SELECT n FROM by_event ORDER BY n DESC, value LIMIT 1),
               (SELECT coalesce(sum(n), 0) FROM visitors);

-- analytics overview (per period: counts, people, sessions) [3/3] reads events_sessionhour (resolution raw)
SELECT sum(sessions)::bigint, sum(with_pageviews)::bigint, sum(bounces)::bigint,
                   sum(duration_sum)::float8 FROM (
                SELECT sessions, with_pageviews, bounces, duration_sum FROM events_sessionhour r
                WHERE project_id = %(project)s AND hour >= %(h0)s AND hour < %(h1)s AND NOT "r".bot
                UNION ALL
                SELECT 1, (pageviews > 0)::int, (pageviews = 1 AND events = 1)::int,
                       extract(epoch FROM ended_at - started_at)::float8
                FROM events_sessionrollup r
                WHERE project_id = %(project)s AND NOT "r".bot
                  AND ((started_at >= %(start)s AND started_at < %(h0)s)
                       OR (started_at >= %(h1)s AND started_at < %(end)s))) AS s;

-- analytics top pages [1/1] reads events_dimrollup1d (resolution 86400)
WITH parts AS (
        SELECT r.value, r.events, r.pageviews, r.visitors, r.sessions FROM events_dimrollup1d r
        WHERE r.project_id = %(project)s AND r.dim = 'path' AND NOT "r".bot
          AND r.bucket >= %(d0)s AND r.bucket < %(d1)s
        UNION ALL
        SELECT r.value, r.events, r.pageviews, r.visitors, r.sessions FROM events_dimrollup1h r
        WHERE r.project_id = %(project)s AND r.dim = 'path' AND NOT "r".bot
          AND ((r.bucket >= %(h0)s AND r.bucket < %(d0)s)
               OR (r.bucket >= %(d1)s AND r.bucket < %(h1)s))
        UNION ALL
        SELECT e."path", count(*), count(*) FILTER (WHERE e.event = ANY(%(pageviews)s)),
               array_agg(DISTINCT hashtextextended(e.person_id, 0)), coalesce(array_agg(DISTINCT hashtextextended(e.session_id, 0))
                                                   FILTER (WHERE e.session_id IS NOT NULL), '{}')
        FROM events_event e
        WHERE e.project_id = %(project)s
          AND ((e."timestamp" >= %(start)s AND e."timestamp" < %(h0)s)
               OR (e."timestamp" >= %(h1)s AND e."timestamp" < %(end)s))
          AND NOT "e".is_bot AND e."path" IS NOT NULL AND e.event = ANY(%(pageviews)s)
        GROUP BY 1),
        ranked AS (
            SELECT value, sum(events)::bigint AS events, sum(pageviews)::bigint AS pageviews
            FROM parts  GROUP BY value ORDER BY pageviews DESC, events DESC, value LIMIT %(limit)s
        ), top AS (SELECT p.* FROM parts p JOIN ranked USING (value)),
        visitors AS (
        SELECT v.value, CASE WHEN s.n < 512 THEN (SELECT count(DISTINCT coalesce(hashtextextended(a.person_id, 0), x)) FROM unnest(s.hs) AS x LEFT JOIN events_personalias a ON a.project_id = %(project)s AND hashtextextended(a.distinct_id, 0) = x)
                             ELSE events_kmv_estimate(s.n, s.mx, 512) END AS n
        FROM (SELECT DISTINCT value FROM "top") AS v
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, max(h) AS mx, array_agg(h) AS hs FROM (
                SELECT DISTINCT u.h FROM "top" p, unnest(p."visitors") AS u(h)
                WHERE p.value IS NOT DISTINCT FROM v.value ORDER BY u.h LIMIT 512) AS l) AS s
        ), sessions AS (
        SELECT v.value, CASE WHEN s.n < 512 THEN s.n
                             ELSE events_kmv_estimate(s.n, s.mx, 512) END AS n
        FROM (SELECT DISTINCT value FROM "top") AS v
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, max(h) AS mx, array_agg(h) AS hs FROM (
                SELECT DISTINCT u.h FROM "top" p, unnest(p."sessions") AS u(h)
                WHERE p.value IS NOT DISTINCT FROM v.value ORDER BY u.h LIMIT 512) AS l) AS s
        )
        SELECT r.value, r.events, r.pageviews, coalesce(v.n, 0), coalesce(s.n, 0)
        FROM ranked r LEFT JOIN visitors v USING (value) LEFT JOIN sessions s USING (value)
        ORDER BY r.pageviews DESC, r.events DESC, r.value;

-- analytics countries, filtered (raw events) [1/1] reads events_event (resolution raw)
WITH parts AS (
        SELECT e."country" AS value, count(*) AS events,
               count(*) FILTER (WHERE e.event = ANY(%(pageviews)s)) AS pageviews,
               array_agg(DISTINCT hashtextextended(e.person_id, 0)) AS visitors,
               coalesce(array_agg(DISTINCT hashtextextended(e.session_id, 0)) FILTER (WHERE e.session_id IS NOT NULL),
                        '{}') AS sessions
        FROM events_event e
        WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s
          AND e."timestamp" < %(end)s AND e."country" IS NOT NULL AND NOT "e".is_bot AND "e"."utm_source" = 'google' AND "e".distinct_id = ANY(ARRAY(SELECT p.person_id FROM events_person p WHERE p.project_id = %(project)s AND (p.properties ->> 'plan') = 'pro' UNION ALL SELECT l.distinct_id FROM events_personalias l JOIN events_person p ON p.project_id = l.project_id AND p.person_id = l.person_id WHERE l.project_id = %(project)s AND (p.properties ->> 'plan') = 'pro'))
        GROUP BY 1),
        ranked AS (
            SELECT value, sum(events)::bigint AS events, sum(pageviews)::bigint AS pageviews
            FROM parts  GROUP BY value ORDER BY events DESC, value LIMIT %(limit)s
        ), top AS (SELECT p.* FROM parts p JOIN ranked USING (value)),
        visitors AS (
        SELECT v.value, CASE WHEN s.n < 512 THEN (SELECT count(DISTINCT coalesce(hashtextextended(a.person_id, 0), x)) FROM unnest(s.hs) AS x LEFT JOIN events_personalias a ON a.project_id = %(project)s AND hashtextextended(a.distinct_id, 0) = x)
                             ELSE events_kmv_estimate(s.n, s.mx, 512) END AS n
        FROM (SELECT DISTINCT value FROM "top") AS v
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, max(h) AS mx, array_agg(h) AS hs FROM (
                SELECT DISTINCT u.h FROM "top" p, unnest(p."visitors") AS u(h)
                WHERE p.value IS NOT DISTINCT FROM v.value ORDER BY u.h LIMIT 512) AS l) AS s
        ), sessions AS (
        SELECT v.value, CASE WHEN s.n < 512 THEN s.n
                             ELSE events_kmv_estimate(s.n, s.mx, 512) END AS n
        FROM (SELECT DISTINCT value FROM "top") AS v
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, max(h) AS mx, array_agg(h) AS hs FROM (
                SELECT DISTINCT u.h FROM "top" p, unnest(p."sessions") AS u(h)
                WHERE p.value IS NOT DISTINCT FROM v.value ORDER BY u.h LIMIT 512) AS l) AS s
        )
        SELECT r.value, r.events, r.pageviews, coalesce(v.n, 0), coalesce(s.n, 0)
        FROM ranked r LEFT JOIN visitors v USING (value) LEFT JOIN sessions s USING (value)
        ORDER BY r.events DESC, r.value;

-- analytics time series by day in Berlin [1/1] reads events_dimrollup1h (resolution 3600)
WITH parts AS (SELECT b AS value, events, pageviews, visitors, sessions
                       FROM (
            SELECT (date_trunc('day', r.bucket AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'Europe/Berlin') AS b, r.events, r.pageviews, r.visitors, r.sessions
            FROM events_dimrollup1h r
            WHERE r.project_id = %(project)s AND r.dim = 'all' AND NOT "r".bot
              AND r.bucket >= %(start)s AND r.bucket < %(end)s) AS x(b, events, pageviews, visitors, sessions)),
        totals AS (SELECT value, sum(events)::bigint AS events, sum(pageviews)::bigint AS pv
                   FROM parts GROUP BY value),
        visitors AS (
        SELECT v.value, CASE WHEN s.n < 2048 THEN (SELECT count(DISTINCT coalesce(hashtextextended(a.person_id, 0), x)) FROM unnest(s.hs) AS x LEFT JOIN events_personalias a ON a.project_id = %(project)s AND hashtextextended(a.distinct_id, 0) = x)
                             ELSE events_kmv_estimate(s.n, s.mx, 2048) END AS n
        FROM (SELECT DISTINCT value FROM "parts") AS v
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, max(h) AS mx, array_agg(h) AS hs FROM (
                SELECT DISTINCT u.h FROM "parts" p, unnest(p."visitors") AS u(h)
                WHERE p.value IS NOT DISTINCT FROM v.value ORDER BY u.h LIMIT 2048) AS l) AS s
        ), sessions AS (
        SELECT v.value, CASE WHEN s.n < 2048 THEN s.n
                             ELSE events_kmv_estimate(s.n, s.mx, 2048) END AS n
        FROM (SELECT DISTINCT value FROM "parts") AS v
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, max(h) AS mx, array_agg(h) AS hs FROM (
                SELECT DISTINCT u.h FROM "parts" p, unnest(p."sessions") AS u(h)
                WHERE p.value IS NOT DISTINCT FROM v.value ORDER BY u.h LIMIT 2048) AS l) AS s
        )
        SELECT extract(epoch FROM t.value)::bigint, t.events, t.pv, coalesce(v.n, 0),
               coalesce(s.n, 0)
        FROM totals t LEFT JOIN visitors v USING (value) LEFT JOIN sessions s USING (value)
        ORDER BY 1;

-- funnel, 3 steps ordered, broken down by country [1/1] reads events_event (resolution raw)
SELECT bd, count(*) FILTER (WHERE level >= 1), count(*) FILTER (WHERE level >= 2), count(*) FILTER (WHERE level >= 3), percentile_cont(0.5) WITHIN GROUP (ORDER BY chain[2] - chain[1]) FILTER (WHERE level >= 2), percentile_cont(0.5) WITHIN GROUP (ORDER BY chain[3] - chain[2]) FILTER (WHERE level >= 3) FROM (
        SELECT bd, level, ARRAY["t1", "t2", "t3"] AS chain FROM (
            SELECT DISTINCT ON (ph) "bd" AS bd, 1 + (coalesce("f_2_1", 'Infinity'::float8) <= ts + %(window)s)::int + (coalesce("f_3_1", 'Infinity'::float8) <= ts + %(window)s)::int AS level, ts AS "t1", coalesce("f_2_1", 'Infinity'::float8) AS "t2", coalesce("f_3_1", 'Infinity'::float8) AS "t3"
            FROM (SELECT r.*, min("f_3_2") FILTER (WHERE step = 2) OVER (PARTITION BY ph ORDER BY ts DESC, step ROWS UNBOUNDED PRECEDING) AS "f_3_1" FROM (SELECT r.*, min(ts) FILTER (WHERE step = 2) OVER (PARTITION BY ph ORDER BY ts DESC, step ROWS UNBOUNDED PRECEDING) AS "f_2_1", min(ts) FILTER (WHERE step = 3) OVER (PARTITION BY ph ORDER BY ts DESC, step ROWS UNBOUNDED PRECEDING) AS "f_3_2" FROM (SELECT * FROM (SELECT hashtextextended(coalesce(a.person_id, r.distinct_id), 0) AS ph, r.ts, r.step, r.bd FROM (SELECT e.distinct_id, date_part('epoch', e."timestamp") AS ts, 1 AS step, e."country" AS bd FROM events_event e WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s AND e."timestamp" < %(end)s AND e.event = 'page_view' AND "e"."path" = '/pricing' AND NOT "e".is_bot UNION ALL SELECT e.distinct_id, date_part('epoch', e."timestamp") AS ts, 2 AS step, NULL::text AS bd FROM events_event e WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s AND e."timestamp" < %(end)s AND e.event = 'signup' AND TRUE AND NOT "e".is_bot UNION ALL SELECT e.distinct_id, date_part('epoch', e."timestamp") AS ts, 3 AS step, NULL::text AS bd FROM events_event e WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s AND e."timestamp" < %(end)s AND e.event = 'purchase' AND TRUE AND NOT "e".is_bot) AS r LEFT JOIN events_personalias a ON a.project_id = %(project)s AND a.distinct_id = r.distinct_id) AS r0) AS r) AS r) AS l WHERE step = 1
            ORDER BY ph, level DESC, ts) AS b) AS b GROUP BY bd ORDER BY count(*) DESC, bd;

-- funnel, strict [1/1] reads events_event (resolution raw)
SELECT NULL::text, count(*) FILTER (WHERE level >= 1), count(*) FILTER (WHERE level >= 2), percentile_cont(0.5) WITHIN GROUP (ORDER BY chain[2] - chain[1]) FILTER (WHERE level >= 2) FROM (
        SELECT DISTINCT ON (person) person, bd, 1 + (coalesce((m1 & 2) <> 0 AND t1 <= ts + %(window)s, false))::int AS level, ARRAY[ts, t1] AS chain
        FROM (
            SELECT person, ts, mask, bd, lead(mask, 1) OVER w AS m1, lead(ts, 1) OVER w AS t1 FROM (
                SELECT coalesce(a.person_id, e.distinct_id) AS person, date_part('epoch', e."timestamp") AS ts,
                       e.uuid, (CASE WHEN e.event = 'a' AND TRUE AND NOT "e".is_bot THEN 1 ELSE 0 END) + (CASE WHEN e.event = 'b' AND TRUE AND NOT "e".is_bot THEN 2 ELSE 0 END) AS mask, NULL::text AS bd
                FROM events_event e LEFT JOIN events_personalias a ON a.project_id = e.project_id AND a.distinct_id = e.distinct_id
                WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s
                  AND e."timestamp" < %(end)s AND NOT "e".is_bot
                  AND coalesce(a.person_id, e.distinct_id) IN (SELECT person FROM (SELECT coalesce(a.person_id, e.distinct_id) AS person FROM events_event e LEFT JOIN events_personalias a ON a.project_id = e.project_id AND a.distinct_id = e.distinct_id WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s AND e."timestamp" < %(end)s AND e.event = 'a' AND TRUE AND NOT "e".is_bot) AS f)) AS r
            WINDOW w AS (PARTITION BY person ORDER BY ts, uuid)) AS l
        WHERE mask & 1 <> 0
        ORDER BY person, level DESC, ts) AS b HAVING count(*) > 0;

-- funnel, any order [1/1] reads events_event (resolution raw)
SELECT NULL::text, count(*) FILTER (WHERE level >= 1), count(*) FILTER (WHERE level >= 2), NULL::float8 FROM (
        SELECT DISTINCT ON (ph) person, "bd" AS bd, level, ARRAY[ts] AS chain FROM (
            SELECT ph, person, bd, ts, bit_count((bit_or(1 << (step - 1)) OVER (
                PARTITION BY ph ORDER BY ts
                RANGE BETWEEN CURRENT ROW AND %(window)s FOLLOWING))::bit(32)) AS level
            FROM (SELECT hashtextextended(coalesce(a.person_id, r.distinct_id), 0) AS ph, coalesce(a.person_id, r.distinct_id) AS person, r.ts, r.step, r.bd FROM (SELECT e.distinct_id, date_part('epoch', e."timestamp") AS ts, 1 AS step, NULL::text AS bd FROM events_event e WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s AND e."timestamp" < %(end)s AND e.event = 'a' AND TRUE AND NOT "e".is_bot UNION ALL SELECT e.distinct_id, date_part('epoch', e."timestamp") AS ts, 2 AS step, NULL::text AS bd FROM events_event e WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s AND e."timestamp" < %(end)s AND e.event = 'b' AND TRUE AND NOT "e".is_bot) AS r LEFT JOIN events_personalias a ON a.project_id = %(project)s AND a.distinct_id = r.distinct_id) AS r) AS l
        ORDER BY ph, level DESC, ts) AS b HAVING count(*) > 0;

-- retention by week, first seen, any event [1/1] reads events_person (resolution 3600)
WITH people AS NOT MATERIALIZED (SELECT CASE %(period)s
        WHEN 'day' THEN (date_trunc(%(period)s, first_seen AT TIME ZONE %(tz)s)::date - date_trunc(%(period)s, %(start)s AT TIME ZONE %(tz)s)::date)
        WHEN 'week' THEN (date_trunc(%(period)s, first_seen AT TIME ZONE %(tz)s)::date - date_trunc(%(period)s, %(start)s AT TIME ZONE %(tz)s)::date) / 7
        ELSE (extract(year FROM date_trunc(%(period)s, first_seen AT TIME ZONE %(tz)s)) * 12 + extract(month FROM date_trunc(%(period)s, first_seen AT TIME ZONE %(tz)s))
              - extract(year FROM date_trunc(%(period)s, %(start)s AT TIME ZONE %(tz)s)) * 12 - extract(month FROM date_trunc(%(period)s, %(start)s AT TIME ZONE %(tz)s)))::int END AS c, active_hours AS hs, (SELECT ARRAY(SELECT CASE %(period)s
        WHEN 'day' THEN (date_trunc(%(period)s, to_timestamp(g.h * 3600.0) AT TIME ZONE %(tz)s)::date - date_trunc(%(period)s, %(start)s AT TIME ZONE %(tz)s)::date)
        WHEN 'week' THEN (date_trunc(%(period)s, to_timestamp(g.h * 3600.0) AT TIME ZONE %(tz)s)::date - date_trunc(%(period)s, %(start)s AT TIME ZONE %(tz)s)::date) / 7
        ELSE (extract(year FROM date_trunc(%(period)s, to_timestamp(g.h * 3600.0) AT TIME ZONE %(tz)s)) * 12 + extract(month FROM date_trunc(%(period)s, to_timestamp(g.h * 3600.0) AT TIME ZONE %(tz)s))
              - extract(year FROM date_trunc(%(period)s, %(start)s AT TIME ZONE %(tz)s)) * 12 - extract(month FROM date_trunc(%(period)s, %(start)s AT TIME ZONE %(tz)s)))::int END FROM generate_series(%(h0)s, %(h1)s - 1) AS g(h))) AS at FROM events_person WHERE project_id = %(project)s AND first_seen >= %(start)s AND first_seen < %(end)s AND events > bot_events)
        SELECT date_trunc(%(period)s, %(start)s AT TIME ZONE %(tz)s) + c * ('1 ' || %(period)s)::interval, o, n FROM (
            SELECT p.c, 0 AS o, count(*) AS n FROM people AS p GROUP BY p.c
            UNION ALL
            SELECT u.c, p.at[u.h - %(h0)s + 1] - u.c, count(*) FROM people AS p
            CROSS JOIN LATERAL unnest(p.hs, array_fill(p.c, ARRAY[cardinality(p.hs)]))
                 WITH ORDINALITY AS u(h, c, i)
            WHERE p.at[least(p.hs[cardinality(p.hs)], %(h1)s - 1) - %(h0)s + 1] > p.c
              AND u.h >= %(h0)s AND u.h < %(h1)s AND p.at[u.h - %(h0)s + 1] > u.c
              AND p.at[p.hs[u.i - 1] - %(h0)s + 1]
                  IS DISTINCT FROM p.at[u.h - %(h0)s + 1]
            GROUP BY 1, 2) AS x;

-- retention by day, signup then purchase [1/1] reads events_eventrollup1h (resolution 3600)
WITH aliases AS MATERIALIZED (SELECT hashtextextended(distinct_id, 0) AS dh, hashtextextended(person_id, 0) AS ph FROM events_personalias WHERE project_id = %(project)s),
        cohort AS (SELECT ph, min(p) AS c FROM (SELECT coalesce(a.ph, u.h) AS ph, date_trunc(%(period)s, r.hour AT TIME ZONE %(tz)s) AS p FROM events_eventrollup1h r CROSS JOIN LATERAL unnest(r.distinct_ids) AS u(h) LEFT JOIN aliases a ON a.dh = u.h WHERE r.project_id = %(project)s AND r.hour >= %(start)s AND r.hour < %(end)s AND r.event = 'signup') AS i WHERE ph <> ALL(ARRAY(SELECT hashtextextended(person_id, 0) FROM events_person WHERE project_id = %(project)s AND events = bot_events)) GROUP BY ph),
        active AS (SELECT DISTINCT ph, p FROM (SELECT coalesce(a.ph, u.h) AS ph, date_trunc(%(period)s, r.hour AT TIME ZONE %(tz)s) AS p FROM events_eventrollup1h r CROSS JOIN LATERAL unnest(r.distinct_ids) AS u(h) LEFT JOIN aliases a ON a.dh = u.h WHERE r.project_id = %(project)s AND r.hour >= %(start)s AND r.hour < %(end)s AND r.event = 'purchase') AS i)
        SELECT c, 0, count(*) FROM cohort GROUP BY c
        UNION ALL
        SELECT c.c, CASE %(period)s
        WHEN 'day' THEN (x.p::date - c.c::date)
        WHEN 'week' THEN (x.p::date - c.c::date) / 7
        ELSE (extract(year FROM x.p) * 12 + extract(month FROM x.p)
              - extract(year FROM c.c) * 12 - extract(month FROM c.c))::int END, count(*) FROM cohort c JOIN active x ON x.ph = c.ph AND x.p > c.c
        GROUP BY 1, 2;

-- paths, next 3 pages [1/1] reads events_sessionrollup (resolution raw)
WITH s AS MATERIALIZED (  -- once per session, not once per use below
            SELECT c, array_position(c, %(start)s) AS at FROM (
                SELECT ARRAY(SELECT u.value FROM unnest(r.pages) WITH ORDINALITY AS u(value, i)
                             WHERE u.value IS DISTINCT FROM r.pages[u.i - 1]
                             ORDER BY u.i) AS c
                FROM events_sessionrollup r WHERE r.project_id = %(project)s AND ((r.started_at >= %(r0a)s AND r.started_at < %(r0b)s)) AND r.pages @> ARRAY[%(start)s]::text[] AND NOT r.bot) AS q
        )
        SELECT g.step, s.c[s.at + g.step],
               coalesce(s.c[s.at + (g.step + 1)], '(end)'), count(*)
        FROM s CROSS JOIN generate_series(0, %(depth)s - 1) AS g(step)
        WHERE s.at + g.step BETWEEN 1 AND cardinality(s.c)
        GROUP BY 1, 2, 3;

-- entry and exit pages [1/1] reads events_sessionrollup (resolution raw)
SELECT kind, value, sessions FROM (
            SELECT kind, value, count(*) AS sessions,
                   row_number() OVER (PARTITION BY kind ORDER BY count(*) DESC, value) AS rank
            FROM events_sessionrollup,
                 LATERAL (VALUES ('entry', entry_path), ('exit', exit_path)) AS v(kind, value)
            WHERE project_id = %(project)s AND started_at >= %(start)s
              AND started_at < %(end)s AND value IS NOT NULL AND NOT bot
            GROUP BY kind, value) AS r
        WHERE rank <= %(limit)s ORDER BY kind, sessions DESC, value;

-- people [1/1] reads events_person (resolution raw)
SELECT p.person_id, p.first_seen, p.last_seen, p.events, p.properties,
               count(*) OVER () AS total
        FROM events_person p WHERE p.project_id = %(project)s AND p.last_seen >= %(start)s AND p.first_seen < %(end)s AND TRUE AND p.events > p.bot_events AND (strpos(lower(p.person_id), lower(%(search)s)) > 0 OR strpos(lower(p.properties::text), lower(%(search)s)) > 0)
        ORDER BY p.last_seen DESC, p.person_id LIMIT %(limit)s OFFSET %(offset)s;

-- sessions list [1/1] reads events_sessionrollup (resolution raw)
SELECT r.session_id, r.started_at, r.ended_at, r.events, r.pageviews, r.entry_path,
               r.exit_path, r.device_type, r.browser, r.country, r.channel, r.person_id,
               count(*) OVER () AS total
        FROM events_sessionrollup r WHERE r.project_id = %(project)s AND r.started_at >= %(start)s AND r.started_at < %(end)s AND NOT r.bot
        ORDER BY r.started_at DESC, r.session_id LIMIT %(limit)s OFFSET %(offset)s;

-- explorer page [1/1] reads events_event (resolution raw)
SELECT e.uuid, e.event, e.distinct_id, e.session_id, e."timestamp", e.path, e.page_url, e.referrer_domain, e.browser, e.os, e.device_type, e.country, e.channel, e.utm_source, e.utm_campaign, e.is_bot, e.properties FROM events_event e WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s AND e."timestamp" < %(end)s AND NOT "e".is_bot ORDER BY e."timestamp" DESC, e.uuid DESC LIMIT %(limit)s;

-- goal, page pattern [1/1] reads events_dimrollup1d (resolution raw)
WITH matched AS (SELECT '' AS value, events, pageviews, visitors, sessions
                    FROM (
        SELECT r.value, r.events, r.pageviews, r.visitors, r.sessions FROM events_dimrollup1d r
        WHERE r.project_id = %(project)s AND r.dim = 'path' AND NOT "r".bot
          AND r.bucket >= %(d0)s AND r.bucket < %(d1)s
        UNION ALL
        SELECT r.value, r.events, r.pageviews, r.visitors, r.sessions FROM events_dimrollup1h r
        WHERE r.project_id = %(project)s AND r.dim = 'path' AND NOT "r".bot
          AND ((r.bucket >= %(h0)s AND r.bucket < %(d0)s)
               OR (r.bucket >= %(d1)s AND r.bucket < %(h1)s))
        UNION ALL
        SELECT e."path", count(*), count(*) FILTER (WHERE e.event = ANY(%(pageviews)s)),
               array_agg(DISTINCT hashtextextended(e.person_id, 0)), coalesce(array_agg(DISTINCT hashtextextended(e.session_id, 0))
                                                   FILTER (WHERE e.session_id IS NOT NULL), '{}')
        FROM events_event e
        WHERE e.project_id = %(project)s
          AND ((e."timestamp" >= %(start)s AND e."timestamp" < %(h0)s)
               OR (e."timestamp" >= %(h1)s AND e."timestamp" < %(end)s))
          AND NOT "e".is_bot AND e."path" IS NOT NULL AND e.event = ANY(%(pageviews)s)
        GROUP BY 1) AS p(value, events, pageviews, visitors, sessions)
                    WHERE value LIKE '/signup/%%'),
        everyone AS (
        SELECT r.value, r.events, r.pageviews, r.visitors, r.sessions FROM events_dimrollup1d r
        WHERE r.project_id = %(project)s AND r.dim = 'all' AND NOT "r".bot
          AND r.bucket >= %(d0)s AND r.bucket < %(d1)s
        UNION ALL
        SELECT r.value, r.events, r.pageviews, r.visitors, r.sessions FROM events_dimrollup1h r
        WHERE r.project_id = %(project)s AND r.dim = 'all' AND NOT "r".bot
          AND ((r.bucket >= %(h0)s AND r.bucket < %(d0)s)
               OR (r.bucket >= %(d1)s AND r.bucket < %(h1)s))
        UNION ALL
        SELECT '', count(*), count(*) FILTER (WHERE e.event = ANY(%(pageviews)s)),
               array_agg(DISTINCT hashtextextended(e.person_id, 0)), coalesce(array_agg(DISTINCT hashtextextended(e.session_id, 0))
                                                   FILTER (WHERE e.session_id IS NOT NULL), '{}')
        FROM events_event e
        WHERE e.project_id = %(project)s
          AND ((e."timestamp" >= %(start)s AND e."timestamp" < %(h0)s)
               OR (e."timestamp" >= %(h1)s AND e."timestamp" < %(end)s))
          AND NOT "e".is_bot AND '' IS NOT NULL
        GROUP BY 1),
        converted AS (
        SELECT v.value, CASE WHEN s.n < 512 THEN (SELECT count(DISTINCT coalesce(hashtextextended(a.person_id, 0), x)) FROM unnest(s.hs) AS x LEFT JOIN events_personalias a ON a.project_id = %(project)s AND hashtextextended(a.distinct_id, 0) = x)
                             ELSE events_kmv_estimate(s.n, s.mx, 512) END AS n
        FROM (SELECT DISTINCT value FROM "matched") AS v
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, max(h) AS mx, array_agg(h) AS hs FROM (
                SELECT DISTINCT u.h FROM "matched" p, unnest(p."visitors") AS u(h)
                WHERE p.value IS NOT DISTINCT FROM v.value ORDER BY u.h LIMIT 512) AS l) AS s
        ), total AS (
        SELECT v.value, CASE WHEN s.n < 2048 THEN (SELECT count(DISTINCT coalesce(hashtextextended(a.person_id, 0), x)) FROM unnest(s.hs) AS x LEFT JOIN events_personalias a ON a.project_id = %(project)s AND hashtextextended(a.distinct_id, 0) = x)
                             ELSE events_kmv_estimate(s.n, s.mx, 2048) END AS n
        FROM (SELECT DISTINCT value FROM "everyone") AS v
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, max(h) AS mx, array_agg(h) AS hs FROM (
                SELECT DISTINCT u.h FROM "everyone" p, unnest(p."visitors") AS u(h)
                WHERE p.value IS NOT DISTINCT FROM v.value ORDER BY u.h LIMIT 2048) AS l) AS s
        )
        SELECT (SELECT coalesce(sum(pageviews), 0) FROM matched),
               (SELECT coalesce(sum(n), 0) FROM converted),
               (SELECT coalesce(sum(n), 0) FROM total);

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
SELECT s.name, s.series, d.description, d.unit, d.type, d.source FROM (SELECT name, count(*) AS series FROM events_metricseries WHERE project_id = %(project)s GROUP BY name) AS s LEFT JOIN events_metricdefinition d ON d.project_id = %(project)s AND d.name = s.name WHERE strpos(upper(s.name), upper(%(search)s)) > 0 OR strpos(upper(d.description), upper(%(search)s)) > 0 ORDER BY s.name LIMIT %(limit)s;

-- catalog metric page [1/3] reads events_metricdefinition (resolution raw)
SELECT d.description, d.unit, d.type, d.source, u.username, d.edited_at, d.updated_at FROM events_metricdefinition d LEFT JOIN auth_user u ON u.id = d.edited_by_id WHERE d.project_id = %(project)s AND d.name = %(name)s;

-- catalog metric page [2/3] reads events_metricseries (resolution raw)
SELECT count(*), min(created_at), (SELECT last_at FROM events_metricnamerollup1h WHERE project_id = %(project)s AND name = %(name)s ORDER BY bucket DESC LIMIT 1) FROM events_metricseries WHERE project_id = %(project)s AND name = %(name)s;

-- catalog metric page [3/3] reads events_metricseries (resolution raw)
WITH pairs AS (
               SELECT t.key, t.value, count(*) AS series
               FROM events_metricseries s, jsonb_each_text(s.tags) AS t(key, value)
               WHERE s.project_id = %(project)s AND s.name = %(name)s
               GROUP BY t.key, t.value
           ), ranked AS (
               SELECT key, value, series, count(*) OVER (PARTITION BY key) AS distinct_values,
                      row_number() OVER (PARTITION BY key ORDER BY series DESC, value) AS rank
               FROM pairs
           )
           SELECT key, distinct_values, value, series FROM ranked
           WHERE rank <= %(top)s ORDER BY key, rank;

-- autocomplete metric names [1/1] reads events_metricseries (resolution raw)
WITH prefixed AS MATERIALIZED (
               SELECT DISTINCT lower(name) COLLATE "C" AS folded, name FROM events_metricseries
               WHERE project_id = %(project)s
                 AND lower(name) COLLATE "C" LIKE lower(%(prefix)s)
               ORDER BY 1, 2 LIMIT %(limit)s
           ), inside AS (
               SELECT DISTINCT lower(name) COLLATE "C" AS folded, name FROM events_metricseries
               WHERE project_id = %(project)s AND strpos(lower(name), lower(%(text)s)) > 1
                 AND (SELECT count(*) FROM prefixed) < %(limit)s
               ORDER BY 1, 2 LIMIT %(limit)s
           ), found AS (
               (SELECT 0 AS rank, folded, name FROM prefixed)
               UNION ALL
               (SELECT 1, folded, name FROM inside)
               ORDER BY 1, 2, 3 LIMIT %(limit)s
           )
           SELECT f.name, d.description, d.unit, d.type FROM found f
           LEFT JOIN events_metricdefinition d ON d.project_id = %(project)s AND d.name = f.name
           ORDER BY f.rank, f.folded, f.name;

-- autocomplete tag keys and values [1/2] reads events_metricseries (resolution raw)
SELECT t.key, count(DISTINCT t.value) AS values
           FROM events_metricseries s, jsonb_each_text(s.tags) AS t(key, value)
           WHERE s.project_id = %(project)s AND s.name = %(metric)s
             AND strpos(lower(t.key), lower(%(text)s)) > 0
           GROUP BY t.key
           ORDER BY strpos(lower(t.key), lower(%(text)s)) <> 1, lower(t.key) COLLATE "C",
                    t.key
           LIMIT %(limit)s;

-- autocomplete tag keys and values [2/2] reads events_metricseries (resolution raw)
SELECT v.value, count(*) AS series
           FROM events_metricseries s, LATERAL (SELECT s.tags ->> %(key)s AS value) AS v
           WHERE s.project_id = %(project)s AND s.name = %(metric)s AND v.value IS NOT NULL
             AND strpos(lower(v.value), lower(%(text)s)) > 0
           GROUP BY v.value
           ORDER BY strpos(lower(v.value), lower(%(text)s)) <> 1,
                    lower(v.value) COLLATE "C", v.value
           LIMIT %(limit)s;

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
