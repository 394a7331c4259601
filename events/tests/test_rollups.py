"""Rollups fed through the real ingest API and folded by events.rollups: exact counts, sums, min
and max, sketches within 1 %, late data in old buckets, each item counted once, retention, and a
real worker + beat keeping them current within seconds."""

import json
import math
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from conftest import child_env
from events import partitions, retention, rollups, sketch
from events.models import MetricSeries

pytestmark = pytest.mark.slow


def _points(client, key, points):
    response = client.post("/api/v1/metrics", json={"points": points},
                           headers={"X-API-Key": key.key})
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == len(points)


CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0 Safari/537.36")


def _events(client, key, events, user_agent=CHROME):
    response = client.post("/api/v1/events/batch", json={"events": events},
                           headers={"X-API-Key": key.key, "User-Agent": user_agent})
    assert response.status_code == 202, response.text
    return response.json()


def _rollup(table, series_id, bucket):
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT count, sum, min, max, sketch_keys, sketch_counts FROM {table}
                WHERE series_id = %s AND bucket = %s""", [series_id, bucket])  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        return None
    count, total, low, high, keys, counts = row
    return {"count": count, "sum": total, "min": low, "max": high,
            "sketch": dict(zip(keys, counts, strict=True))}


def _disc(values, q):
    """percentile_disc: the sorted sample at 1-based position ceil(q * n), at least 1."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def _minute(moment):
    return moment.replace(second=0, microsecond=0)


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def test_metric_rollups_add_up_exactly_with_percentiles_within_one_percent(ingest, ingest_key):
    rng = random.Random(3)
    base = _minute(datetime.now(UTC)) - timedelta(minutes=30)
    if base.minute > 56:  # keep the three minutes inside one hour
        base -= timedelta(minutes=5)
    values = {m: [round(rng.lognormvariate(4, 1), 3) for _ in range(400)] for m in range(3)}
    for m, vals in values.items():
        points = [{"name": "http.latency_ms", "value": v, "tags": {"host": "web-01"},
                   "timestamp": _iso(base + timedelta(minutes=m, seconds=i * 59 / len(vals)))}
                  for i, v in enumerate(vals)]
        for start in range(0, len(points), 150):  # several batches per bucket
            _points(ingest, ingest_key, points[start:start + 150])

    report = rollups.fold()

    assert (report.metric_deltas, report.minute_buckets, report.hour_buckets) == (9, 3, 1)
    series = MetricSeries.objects.get(project=ingest_key.project, name="http.latency_ms")
    for m, vals in values.items():
        row = _rollup("events_metricrollup1m", series.pk, base + timedelta(minutes=m))
        assert row["count"] == len(vals)
        assert row["sum"] == pytest.approx(sum(vals), rel=1e-12)
        assert (row["min"], row["max"]) == (min(vals), max(vals))
    everything = [v for vals in values.values() for v in vals]
    hour = _rollup("events_metricrollup1h", series.pk, base.replace(minute=0))
    assert hour["count"] == 1200
    assert (hour["min"], hour["max"]) == (min(everything), max(everything))
    assert sum(hour["sketch"].values()) == 1200
    for q in (0.5, 0.75, 0.9, 0.95, 0.99):
        estimate = sketch.quantile(hour["sketch"], q, low=hour["min"], high=hour["max"])
        assert abs(estimate - _disc(everything, q)) <= 0.01 * _disc(everything, q)
    # Folding again finds nothing more to add: every delta counted once.
    assert rollups.fold().metric_deltas == 0
    assert _rollup("events_metricrollup1h", series.pk, base.replace(minute=0))["count"] == 1200


def test_a_late_point_updates_the_old_bucket_it_falls_in(ingest, ingest_key):
    old = _minute(datetime.now(UTC) - timedelta(days=3))
    _points(ingest, ingest_key, [
        {"name": "queue.depth", "value": 5, "timestamp": _iso(old + timedelta(seconds=10))},
        {"name": "queue.depth", "value": 7, "timestamp": _iso(old + timedelta(seconds=20))}])
    rollups.fold()
    series = MetricSeries.objects.get(project=ingest_key.project, name="queue.depth")
    before = _rollup("events_metricrollup1m", series.pk, old)
    assert (before["count"], before["sum"], before["max"]) == (2, 12.0, 7.0)

    _points(ingest, ingest_key, [  # arrives later, for the same minute three days ago
        {"name": "queue.depth", "value": 40, "timestamp": _iso(old + timedelta(seconds=50))}])
    rollups.fold()

    after = _rollup("events_metricrollup1m", series.pk, old)
    assert (after["count"], after["sum"], after["min"], after["max"]) == (3, 52.0, 5.0, 40.0)
    hour = _rollup("events_metricrollup1h", series.pk, old.replace(minute=0))
    assert (hour["count"], hour["sum"]) == (3, 52.0)


def test_the_fold_finds_minute_partitions_made_or_makes_them(ingest, ingest_key):
    """The write path makes the minute rollup's partition of the days it stores (the fold does
    not scan the deltas for them); a delta of a day whose partition is gone is still folded."""
    old = _minute(datetime.now(UTC) - timedelta(days=5))
    _points(ingest, ingest_key, [
        {"name": "queue.depth", "value": 5, "timestamp": _iso(old + timedelta(seconds=10))}])
    assert old.date() in partitions.existing_partitions()["events_metricrollup1m"]
    rollups.fold()
    with connection.cursor() as cursor:  # as retention, or code before this, would leave it
        cursor.execute(f"DROP TABLE events_metricrollup1m_p{old:%Y%m%d}")
    _points(ingest, ingest_key, [
        {"name": "queue.depth", "value": 7, "timestamp": _iso(old + timedelta(seconds=20))}])
    assert rollups.fold().metric_deltas == 1
    series = MetricSeries.objects.get(project=ingest_key.project, name="queue.depth")
    row = _rollup("events_metricrollup1m", series.pk, old)
    assert (row["count"], row["sum"]) == (1, 7.0)
    hour = _rollup("events_metricrollup1h", series.pk, old.replace(minute=0))
    assert (hour["count"], hour["sum"]) == (2, 12.0)


def test_event_rollups_count_names_sessions_and_people_once(ingest, ingest_key):
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    at = _iso(hour + timedelta(minutes=15))
    batch = [
        {"event": "$pageview", "distinct_id": "anon-1", "session_id": "s1", "timestamp": at,
         "uuid": str(uuid.uuid4())},
        {"event": "$pageview", "distinct_id": "anon-1", "session_id": "s1", "timestamp": at},
        {"event": "$pageview", "distinct_id": "anon-2", "session_id": "s2", "timestamp": at},
        {"event": "signup", "distinct_id": "anon-2", "session_id": "s2", "timestamp": at},
        {"event": "$pageview", "distinct_id": "server", "timestamp": at},  # no session
    ]
    assert _events(ingest, ingest_key, batch)["accepted"] == 5
    assert _events(ingest, ingest_key, batch[:1])["accepted"] == 1  # a retry: stored once

    report = rollups.fold()

    assert report.event_buckets == 2
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT event, count, cardinality(sessions), cardinality(distinct_ids)
               FROM events_eventrollup1h WHERE project_id = %s AND hour = %s ORDER BY event""",
            [ingest_key.project_id, hour])
        assert cursor.fetchall() == [("$pageview", 4, 2, 3), ("signup", 1, 1, 1)]
        # The hashes are PostgreSQL's own, so the query engine can resolve identities with them.
        cursor.execute(
            """SELECT hashtextextended('anon-2', 0) = ANY(distinct_ids) FROM events_eventrollup1h
               WHERE project_id = %s AND event = 'signup'""", [ingest_key.project_id])
        assert cursor.fetchone() == (True,)
        # The request's browser, OS and device count as its hour's every event: 5 events, 4
        # page views, 3 people, 2 sessions under each (a row each, aggregated once).
        cursor.execute(
            """SELECT dim, value <> '', events, pageviews, cardinality(visitors),
                      cardinality(sessions)
               FROM events_dimrollup1h WHERE project_id = %s AND bucket = %s
                    AND dim IN ('all', 'browser', 'os', 'device') ORDER BY dim""",
            [ingest_key.project_id, hour])
        assert cursor.fetchall() == [("all", False, 5, 4, 3, 2), ("browser", True, 5, 4, 3, 2),
                                     ("device", True, 5, 4, 3, 2), ("os", True, 5, 4, 3, 2)]


def test_one_fold_at_a_time(ingest, ingest_key, settings):
    _points(ingest, ingest_key, [{"name": "cpu", "value": 1}])
    db = settings.DATABASES["default"]
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"],
                         password=db["PASSWORD"] or None, autocommit=False) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", [rollups.LOCK_ID])
        assert rollups.fold().skipped is True
    assert rollups.fold().metric_deltas == 1


def test_rollup_retention_per_project(ingest, ingest_key, make_project):
    project = ingest_key.project
    project.minute_rollup_retention_days = 10
    project.hour_rollup_retention_days = 20
    project.save()
    longer = make_project("Keeps longer")  # defaults: 30 days of minutes, 365 of hours
    now = datetime.now(UTC)
    moments = {"fresh": now - timedelta(days=1), "minute_expired": now - timedelta(days=12),
               "hour_expired": now - timedelta(days=25), "partition_dropped": now
               - timedelta(days=40)}
    series = MetricSeries.objects.create(project=project, name="cpu", tags={}, tags_key="{}")
    partitions.ensure_partitions(start=(now - timedelta(days=41)).date(), days=42)
    with connection.cursor() as cursor:
        for moment in moments.values():
            bucket = _minute(moment)
            for table, at in (("events_metricrollup1m", bucket),
                              ("events_metricrollup1h", bucket.replace(minute=0))):
                cursor.execute(
                    f"""INSERT INTO {table} (series_id, bucket, count, sum, min, max,
                                             sketch_keys, sketch_counts)
                        VALUES (%s, %s, 1, 1, 1, 1, '{{40000}}', '{{1}}')""",  # noqa: S608
                    [series.pk, at])
            cursor.execute(
                """INSERT INTO events_eventrollup1h (project_id, hour, event, count, sessions,
                                                     distinct_ids)
                   VALUES (%s, %s, 'e', 1, '{}', '{}')""", [project.pk, _minute(moment)
                                                            .replace(minute=0)])
        hours = [int(moments[k].timestamp() // 3600) for k in ("hour_expired", "minute_expired",
                                                                 "fresh")]
        for owner in (project, longer):  # a person active in three of those hours
            cursor.execute(
                """INSERT INTO events_person (project_id, person_id, first_seen, last_seen,
                                              events, bot_events, active_hours)
                   VALUES (%s, 'p', %s, %s, 3, 0, %s)""",
                [owner.pk, moments["hour_expired"], moments["fresh"], hours])

    report = retention.maintain()

    with connection.cursor() as cursor:
        cursor.execute("SELECT bucket FROM events_metricrollup1m ORDER BY bucket")
        assert [r[0] for r in cursor.fetchall()] == [_minute(moments["fresh"])]
        cursor.execute("SELECT bucket FROM events_metricrollup1h ORDER BY bucket")
        assert [r[0] for r in cursor.fetchall()] == [
            _minute(moments[k]).replace(minute=0) for k in ("minute_expired", "fresh")]
        cursor.execute("SELECT count(*) FROM events_eventrollup1h")
        assert cursor.fetchone() == (2,)
        cursor.execute("SELECT project_id, active_hours FROM events_person ORDER BY 1")
        assert cursor.fetchall() == [(project.pk, hours[1:]), (longer.pk, hours)]
    dropped_day = moments["partition_dropped"].date()
    assert f"events_metricrollup1m_p{dropped_day:%Y%m%d}" in report.dropped
    assert dropped_day not in partitions.existing_partitions()["events_metricrollup1m"]


def test_a_real_worker_and_beat_keep_rollups_current_within_seconds(ingest, ingest_key):
    call_command("sync_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    env = child_env()
    celery = [sys.executable, "-m", "celery", "-A", "analytics_site"]
    worker = subprocess.Popen([*celery, "worker", "-l", "WARNING", "--concurrency", "1",
                               "-n", "rollups-test@%h"], env=env)
    beat = subprocess.Popen([*celery, "beat", "-l", "WARNING", "--pidfile=", "-s", "/dev/null"],
                            env=env)
    try:
        time.sleep(3)  # both up and the first fold done
        sent = time.monotonic()
        _points(ingest, ingest_key, [{"name": "live.gauge", "value": 42.0}])
        series = None
        row = None
        while time.monotonic() - sent < 20:
            series = series or MetricSeries.objects.filter(
                project=ingest_key.project, name="live.gauge").first()
            if series:
                row = _rollup("events_metricrollup1m", series.pk, _minute(datetime.now(UTC)))
                row = row or _rollup("events_metricrollup1m", series.pk,
                                     _minute(datetime.now(UTC)) - timedelta(minutes=1))
            if row:
                break
            time.sleep(0.25)
        took = time.monotonic() - sent
        assert row is not None and (row["count"], row["sum"]) == (1, 42.0)
        assert took < 10, f"rolled up after {took:.1f} s"
    finally:
        for proc in (worker, beat):
            proc.terminate()
        for proc in (worker, beat):
            proc.wait(30)


def test_the_latest_value_survives_folds_in_any_order(ingest, ingest_key):
    minute = _minute(datetime.now(UTC) - timedelta(hours=1))
    _points(ingest, ingest_key, [{"name": "temp", "value": 2,
                                  "timestamp": _iso(minute + timedelta(seconds=40))}])
    rollups.fold()
    _points(ingest, ingest_key, [{"name": "temp", "value": 1,  # earlier, arrives later
                                  "timestamp": _iso(minute + timedelta(seconds=5))}])
    rollups.fold()
    _points(ingest, ingest_key, [{"name": "temp", "value": 3,
                                  "timestamp": _iso(minute + timedelta(seconds=50))},
                                 {"name": "temp", "value": 0,
                                  "timestamp": _iso(minute + timedelta(seconds=45))}])
    rollups.fold()
    series = MetricSeries.objects.get(project=ingest_key.project, name="temp")
    with connection.cursor() as cursor:
        for table, bucket in (("events_metricrollup1m", minute),
                              ("events_metricrollup1h", minute.replace(minute=0))):
            cursor.execute(f"SELECT last, last_at FROM {table} WHERE series_id = %s"  # noqa: S608
                           " AND bucket = %s", [series.pk, bucket])
            assert cursor.fetchone() == (3.0, minute + timedelta(seconds=50))


def test_session_hours_stay_exact_as_sessions_grow_and_move(ingest, ingest_key):
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)

    def send(minutes, name="page_view", session="s1"):
        _events(ingest, ingest_key, [{"event": name, "distinct_id": "d", "session_id": session,
                                      "timestamp": _iso(hour + timedelta(minutes=minutes))}])
        rollups.fold()

    def hours():
        with connection.cursor() as cursor:
            cursor.execute("""SELECT hour, sessions, with_pageviews, bounces, duration_sum
                              FROM events_sessionhour WHERE project_id = %s AND sessions <> 0
                              ORDER BY hour""", [ingest_key.project_id])
            return cursor.fetchall()

    send(10)
    assert hours() == [(hour, 1, 1, 1, 0.0)]  # one page view: a bounce so far
    send(20, "click")
    assert hours() == [(hour, 1, 1, 0, 600.0)]
    send(-10)  # arrives late and starts the session in the hour before
    assert hours() == [(hour - timedelta(hours=1), 1, 1, 0, 1800.0)]
    send(30, session="s2")
    assert hours() == [(hour - timedelta(hours=1), 1, 1, 0, 1800.0), (hour, 1, 1, 1, 0.0)]
    with connection.cursor() as cursor:  # and the per-hour totals equal the sessions
        cursor.execute("""SELECT sum(sessions), sum(bounces), sum(duration_sum)
                          FROM events_sessionhour WHERE project_id = %s""",
                       [ingest_key.project_id])
        assert cursor.fetchone() == (2, 1, 1800.0)


@pytest.mark.parametrize(("held", "new", "union"), [
    ([], [5], [5]), ([5], [], [5]), ([1, 5], [7, 9], [1, 5, 7, 9]), ([1, 5, 9], [5], [1, 5, 9]),
    ([1, 5, 9], [3, 9, 11], [1, 3, 5, 9, 11]), ([4], [1, 4], [1, 4])])
def test_the_union_of_sorted_hours(held, new, union, db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT events_hours_union(%s::int[], %s::int[])", [held, new])
        assert cursor.fetchone()[0] == union


def test_people_rollup_merges_active_hours_and_fills_deltas_written_without_them(make_project):
    """Deltas folded one after another add their hours to the person's sorted set; a delta
    written before deltas carried hours gives those of its first and last event."""
    project = make_project("Hours")
    t0 = datetime(2026, 11, 2, 10, 15, tzinfo=UTC)
    hour = int(t0.timestamp() // 3600)
    add = """INSERT INTO events_persondelta (project_id, person_id, first_seen, last_seen,
                                             events, bot_events, properties, properties_once,
                                             hours)
             VALUES (%s, %s, %s, %s, 1, 0, '{}', '{}', %s)"""
    for hours in ([hour, hour + 2], [hour + 1, hour + 2], [hour + 3], [hour + 2]):
        with connection.cursor() as cursor:
            cursor.execute(add, [project.pk, "p", t0, t0, hours])
        rollups.fold()
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO events_persondelta (project_id, person_id, first_seen, last_seen,
                                               events, bot_events, properties, properties_once)
               VALUES (%s, 'old', %s, %s, 2, 0, '{}', '{}')""",
            [project.pk, t0, t0 + timedelta(hours=2, minutes=30)])
    rollups.fold()
    with connection.cursor() as cursor:
        cursor.execute("SELECT person_id, active_hours FROM events_person "
                       "WHERE project_id = %s ORDER BY 1", [project.pk])
        assert cursor.fetchall() == [("old", [hour, hour + 2]),
                                     ("p", [hour, hour + 1, hour + 2, hour + 3])]


def test_person_properties_follow_set_and_set_once_across_folds(ingest, ingest_key):
    """``$set`` in time order (a later fold's older ``$set`` does not undo a newer one),
    ``$set_once`` only where a property is unset; each person of a fold gets their own."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def event(person, minutes, **props):
        return {"event": "seen", "distinct_id": person, "uuid": str(uuid.uuid4()),
                "timestamp": _iso(t0 + timedelta(minutes=minutes)), "properties": props}

    others = [f"p{n}" for n in range(30)]
    _events(ingest, ingest_key, [
        event("ann", 0, **{"$set": {"plan": "free", "a": 1}, "$set_once": {"first": "x"}}),
        *[event(name, 0, **{"$set": {"n": name}, "$set_once": {"o": name}}) for name in others],
    ])
    rollups.fold()
    _events(ingest, ingest_key, [
        event("ann", 30, **{"$set": {"plan": "pro"}, "$set_once": {"first": "y", "seen": 1}}),
        *[event(name, 30, **{"$set_once": {"o": "late", "p": name}}) for name in others],
    ])
    rollups.fold()
    _events(ingest, ingest_key, [  # arrives last, happened between the two
        event("ann", 10, **{"$set": {"plan": "team", "b": 2}, "$set_once": {"seen": 2}}),
    ])
    rollups.fold()

    with connection.cursor() as cursor:
        cursor.execute("SELECT person_id, properties FROM events_person WHERE project_id = %s",
                       [ingest_key.project_id])
        found = {person: json.loads(values) for person, values in cursor.fetchall()}
    assert found.pop("ann") == {"plan": "pro", "a": 1, "b": 2, "first": "x", "seen": 1}
    assert found == {name: {"n": name, "o": name, "p": name} for name in others}


def test_a_sessions_pages_stay_in_time_order_across_folds(ingest, ingest_key):
    """A fold without page views keeps the session's pages; a late page view lands in its
    place; entry and exit follow the earliest and latest page view."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def event(name, minutes, path=None):
        found = {"event": name, "distinct_id": "ann", "session_id": "s", "uuid": str(uuid.uuid4()),
                 "timestamp": _iso(t0 + timedelta(minutes=minutes))}
        if path:
            found["page_url"] = f"https://shop.example.com{path}"
        return found

    def pages():
        with connection.cursor() as cursor:
            cursor.execute("""SELECT pages, events, entry_path, exit_path FROM events_sessionrollup
                              WHERE project_id = %s AND session_id = 's'""",
                           [ingest_key.project_id])
            return cursor.fetchone()

    _events(ingest, ingest_key, [event("$pageview", 0, "/a"), event("$pageview", 20, "/b")])
    rollups.fold()
    _events(ingest, ingest_key, [event("click", 25)])
    rollups.fold()
    assert pages() == (["/a", "/b"], 3, "/a", "/b")
    _events(ingest, ingest_key, [event("$pageview", 10, "/c")])
    rollups.fold()
    assert pages() == (["/a", "/c", "/b"], 4, "/a", "/b")


def test_a_batchs_session_shares_hold_first_and_last_of_each_session(ingest, ingest_key):
    """A session with one event in the batch (most of them: its share is the event itself) and
    one with several, sent out of time order: entry and exit pages, the first country, channel,
    referrer and campaign, the pages in time order — exactly."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def at(seconds):
        return _iso(t0 + timedelta(seconds=seconds))

    page = "https://shop.example/{}"
    batch = [
        {"event": "$pageview", "distinct_id": "a", "session_id": "s1", "timestamp": at(0),
         "page_url": page.format("a?utm_source=NL&utm_campaign=may"),
         "referrer": "https://news.ycombinator.com/item", "properties": {"$ip": "8.8.8.8"}},
        {"event": "signup", "distinct_id": "b", "session_id": "s2", "timestamp": at(5),
         "page_url": page.format("b")},
        {"event": "$pageview", "distinct_id": "c", "session_id": "s3", "timestamp": at(20),
         "page_url": page.format("last")},
        {"event": "$pageview", "distinct_id": "c", "session_id": "s3", "timestamp": at(10),
         "page_url": page.format("first"), "properties": {"$ip": "81.2.69.142"}},
        {"event": "click", "distinct_id": "c", "session_id": "s3", "timestamp": at(15),
         "properties": {"$ip": "8.8.8.8", "utm_source": "Mail", "utm_campaign": "june"}},
    ]
    assert _events(ingest, ingest_key, batch)["accepted"] == 5
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT session_id, started_at - %(t0)s, ended_at - %(t0)s, events, pageviews,
                      person_id, entry_at - %(t0)s, entry_path, exit_at - %(t0)s, exit_path,
                      country, device_type, browser, os, channel, referrer_domain, utm_source,
                      utm_campaign, pages, array(SELECT x - %(t0)s FROM unnest(pages_at) x)
               FROM events_sessiondelta WHERE project_id = %(p)s ORDER BY session_id""",
            {"p": ingest_key.project_id, "t0": t0})
        rows = cursor.fetchall()
    s = timedelta(seconds=1)
    agent = ("desktop", "Chrome", "Linux")
    assert rows == [
        ("s1", 0 * s, 0 * s, 1, 1, "a", 0 * s, "/a", 0 * s, "/a", "US", *agent, "social",
         "news.ycombinator.com", "nl", "may", ["/a"], [0 * s]),
        ("s2", 5 * s, 5 * s, 1, 0, "b", None, None, None, None, None, *agent, None, None, None,
         None, None, []),
        ("s3", 10 * s, 20 * s, 3, 2, "c", 10 * s, "/first", 20 * s, "/last", "GB", *agent,
         "direct", None, "mail", "june", ["/first", "/last"], [10 * s, 20 * s]),
    ]
