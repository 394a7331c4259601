"""Page paths pre-aggregated per hour of the sessions' start (``events.pathhours``): a month's path
report reads a few ten thousand rows instead of every session that saw the start page."""

from django.db import migrations

CREATE = """
CREATE TABLE events_pathrollup1h (
    project_id integer NOT NULL,
    hour timestamptz NOT NULL,
    bot boolean NOT NULL,
    origin text NOT NULL,
    direction smallint NOT NULL,
    step smallint NOT NULL,
    value text,
    next text,
    sessions integer NOT NULL
);
CREATE INDEX events_pathrollup1h_origin
    ON events_pathrollup1h (project_id, origin, direction, hour);
CREATE INDEX events_pathrollup1h_hour ON events_pathrollup1h (project_id, hour);
CREATE TABLE events_pathrollup1d (
    project_id integer NOT NULL,
    day date NOT NULL,
    bot boolean NOT NULL,
    origin text NOT NULL,
    direction smallint NOT NULL,
    step smallint NOT NULL,
    value text,
    next text,
    sessions integer NOT NULL
);
CREATE INDEX events_pathrollup1d_origin
    ON events_pathrollup1d (project_id, origin, direction, day);
CREATE INDEX events_pathrollup1d_day ON events_pathrollup1d (project_id, day);
CREATE TABLE events_pathday (
    project_id integer NOT NULL,
    day date NOT NULL,
    built_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, day)
);
CREATE TABLE events_pathhour (
    project_id integer NOT NULL,
    hour timestamptz NOT NULL,
    built_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, hour)
);
"""

DROP = """DROP TABLE IF EXISTS events_pathrollup1h, events_pathhour, events_pathrollup1d,
    events_pathday;"""


class Migration(migrations.Migration):
    dependencies = [("events", "0016_metric_definitions")]

    operations = [migrations.RunSQL(CREATE, DROP)]
