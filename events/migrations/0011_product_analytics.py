"""Product analytics: what ingest now adds to an event, and the tables the product reports read.

- ``events_event`` gains the country (looked up offline from the IP, which is then dropped), the
  five UTM fields and the channel, and ``is_bot`` (a known crawler's user agent). Nullable or
  with a constant default: PostgreSQL adds such columns to a partitioned table and every
  existing partition without rewriting a row.
- Indexes on ``events_event`` (created on every partition, and on every partition made later):
  a person's events by id and time (the person page, deleting a person); each step of a funnel,
  each start of a path, by event, path and time with the id, session and bot flag inside, so a
  funnel reads its rows from the index alone; a session's events in order (paths, the session
  page).
- ``events_dimrollup1h`` / ``events_dimrollup1d``: per hour and per UTC day, per dimension
  (event, path, referrer, browser, os, device, country, channel, the UTM fields, and ``all``)
  and value, with bots apart: events, page views, and KMV sketches (the k smallest hashes) of
  the people and the sessions — exact up to k, an estimate within about 1/sqrt(k) beyond.
  Fed by ``events_dimdelta`` like every rollup.
- ``events_person``: one row per person (identify links resolved when folded; a later link
  merges rows): first and last seen, events, bot events, properties from ``$set`` /
  ``$set_once``. Fed by ``events_persondelta``.
- Sessions keep their entry and exit page, their visitor, country, device, browser, OS, source
  and campaign, and whether a bot made them; per-hour session statistics keep bots apart.
"""

from django.db import migrations

CREATE = """
-- Indexing every existing partition takes longer than a request's statement timeout.
SET LOCAL statement_timeout = 0;
ALTER TABLE events_event
    ADD COLUMN country text,
    ADD COLUMN channel text,
    ADD COLUMN utm_source text,
    ADD COLUMN utm_medium text,
    ADD COLUMN utm_campaign text,
    ADD COLUMN utm_term text,
    ADD COLUMN utm_content text,
    ADD COLUMN is_bot boolean NOT NULL DEFAULT false;

CREATE INDEX events_event_project_distinct_time
    ON events_event (project_id, distinct_id, "timestamp");
CREATE INDEX events_event_project_event_path_time
    ON events_event (project_id, event, path, "timestamp") INCLUDE (distinct_id, session_id, is_bot);
CREATE INDEX events_event_project_session_time
    ON events_event (project_id, session_id, "timestamp") INCLUDE (event, path);

-- The k smallest distinct hashes of two sketches (KMV): their union's sketch.
CREATE FUNCTION events_kmv_union(bigint[], bigint[], integer) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(h ORDER BY h), '{}')
    FROM (SELECT DISTINCT h FROM unnest($1 || $2) AS u(h) ORDER BY h LIMIT $3) AS s
$$;

-- A sketch's estimate of how many distinct hashes it saw: exact below k, (k - 1) / u_k above
-- (u_k: the k-th smallest hash mapped onto (0, 1]).
CREATE FUNCTION events_kmv_estimate(bigint, bigint, integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN $1 < $3 THEN $1
                ELSE round(($3 - 1) / (($2::numeric + 9223372036854775809)
                                       / 18446744073709551616))::bigint END
$$;

CREATE TABLE events_dimdelta (
    project_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    dim text NOT NULL,
    value text NOT NULL,
    bot boolean NOT NULL,
    events bigint NOT NULL,
    pageviews bigint NOT NULL,
    visitors bigint[] NOT NULL,
    sessions bigint[] NOT NULL
);

CREATE TABLE events_dimrollup1h (
    project_id bigint NOT NULL,
    dim text NOT NULL,
    bucket timestamptz NOT NULL,
    value text NOT NULL,
    bot boolean NOT NULL,
    events bigint NOT NULL,
    pageviews bigint NOT NULL,
    visitors bigint[] NOT NULL,
    sessions bigint[] NOT NULL,
    PRIMARY KEY (project_id, dim, bucket, value, bot)
);

CREATE TABLE events_dimrollup1d (LIKE events_dimrollup1h INCLUDING ALL);

CREATE TABLE events_persondelta (
    project_id bigint NOT NULL,
    person_id text NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    events bigint NOT NULL,
    bot_events bigint NOT NULL,
    properties jsonb NOT NULL,
    properties_once jsonb NOT NULL,
    properties_at timestamptz
);

CREATE TABLE events_person (
    project_id bigint NOT NULL,
    person_id text NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    events bigint NOT NULL,
    bot_events bigint NOT NULL,
    properties jsonb NOT NULL DEFAULT '{}'::jsonb,
    properties_at timestamptz,
    PRIMARY KEY (project_id, person_id)
);
CREATE INDEX events_person_last_seen ON events_person (project_id, last_seen DESC);
CREATE INDEX events_person_first_seen ON events_person (project_id, first_seen);

ALTER TABLE events_sessiondelta
    ADD COLUMN bot boolean NOT NULL DEFAULT false,
    ADD COLUMN person_id text,
    ADD COLUMN entry_at timestamptz,
    ADD COLUMN entry_path text,
    ADD COLUMN exit_at timestamptz,
    ADD COLUMN exit_path text,
    ADD COLUMN country text,
    ADD COLUMN device_type text,
    ADD COLUMN browser text,
    ADD COLUMN os text,
    ADD COLUMN channel text,
    ADD COLUMN referrer_domain text,
    ADD COLUMN utm_source text,
    ADD COLUMN utm_campaign text;
ALTER TABLE events_sessionrollup
    ADD COLUMN bot boolean NOT NULL DEFAULT false,
    ADD COLUMN person_id text,
    ADD COLUMN entry_at timestamptz,
    ADD COLUMN entry_path text,
    ADD COLUMN exit_at timestamptz,
    ADD COLUMN exit_path text,
    ADD COLUMN country text,
    ADD COLUMN device_type text,
    ADD COLUMN browser text,
    ADD COLUMN os text,
    ADD COLUMN channel text,
    ADD COLUMN referrer_domain text,
    ADD COLUMN utm_source text,
    ADD COLUMN utm_campaign text;
CREATE INDEX events_sessionrollup_person ON events_sessionrollup (project_id, person_id);

ALTER TABLE events_sessionhour ADD COLUMN bot boolean NOT NULL DEFAULT false;
ALTER TABLE events_sessionhour DROP CONSTRAINT events_sessionhour_pkey;
ALTER TABLE events_sessionhour ADD PRIMARY KEY (project_id, hour, bot);
"""

DROP = """
ALTER TABLE events_sessionhour DROP CONSTRAINT events_sessionhour_pkey;
DELETE FROM events_sessionhour WHERE bot;
ALTER TABLE events_sessionhour DROP COLUMN bot;
ALTER TABLE events_sessionhour ADD PRIMARY KEY (project_id, hour);
DROP INDEX IF EXISTS events_sessionrollup_person;
ALTER TABLE events_sessionrollup
    DROP COLUMN bot, DROP COLUMN person_id, DROP COLUMN entry_at, DROP COLUMN entry_path,
    DROP COLUMN exit_at, DROP COLUMN exit_path, DROP COLUMN country, DROP COLUMN device_type,
    DROP COLUMN browser, DROP COLUMN os, DROP COLUMN channel, DROP COLUMN referrer_domain,
    DROP COLUMN utm_source, DROP COLUMN utm_campaign;
ALTER TABLE events_sessiondelta
    DROP COLUMN bot, DROP COLUMN person_id, DROP COLUMN entry_at, DROP COLUMN entry_path,
    DROP COLUMN exit_at, DROP COLUMN exit_path, DROP COLUMN country, DROP COLUMN device_type,
    DROP COLUMN browser, DROP COLUMN os, DROP COLUMN channel, DROP COLUMN referrer_domain,
    DROP COLUMN utm_source, DROP COLUMN utm_campaign;
DROP TABLE IF EXISTS events_person;
DROP TABLE IF EXISTS events_persondelta;
DROP TABLE IF EXISTS events_dimrollup1d;
DROP TABLE IF EXISTS events_dimrollup1h;
DROP TABLE IF EXISTS events_dimdelta;
DROP FUNCTION IF EXISTS events_kmv_estimate(bigint, bigint, integer);
DROP FUNCTION IF EXISTS events_kmv_union(bigint[], bigint[], integer);
DROP INDEX IF EXISTS events_event_project_session_time;
DROP INDEX IF EXISTS events_event_project_event_path_time;
DROP INDEX IF EXISTS events_event_project_distinct_time;
ALTER TABLE events_event
    DROP COLUMN country, DROP COLUMN channel, DROP COLUMN utm_source, DROP COLUMN utm_medium,
    DROP COLUMN utm_campaign, DROP COLUMN utm_term, DROP COLUMN utm_content, DROP COLUMN is_bot;
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0010_scrape_targets")]

    operations = [migrations.RunSQL(CREATE, DROP)]
