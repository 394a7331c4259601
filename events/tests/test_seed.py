"""``seed_demo`` and ``simulate``: demo traffic through the real write path, once, and live."""

import io
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from events.demo import data as demo_data
from events.models import DATA_TABLES, Event, MetricPoint, MetricSeries, PersonAlias
from projects.models import Project


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def stored(transactional_db):
    """Committed rows (the async write path has its own connections, it sees nothing else); the
    partitioned tables, which the test database flush does not reach, are emptied afterwards."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(DATA_TABLES))


@pytest.fixture
def admin(make_user, settings):
    settings.ADMIN_USERNAME = make_user("admin").username


def _events(project) -> list[dict]:
    return list(Event.objects.filter(project=project).values(
        "uuid", "event", "distinct_id", "person_id", "timestamp", "properties", "path",
        "referrer_domain", "browser", "device_type", "ip_hash"))


def _points(project) -> list[tuple]:
    return list(MetricPoint.objects.filter(series_id__in=MetricSeries.objects.filter(
        project=project).values("id")).values_list("series_id", "timestamp", "value"))


def test_seed_demo_creates_the_demo_project_once(admin, stored):
    first = _run("seed_demo", "--days", "1", "--seed", "5")
    project = Project.objects.get()
    assert (project.slug, project.name) == ("demo", "Demo")
    assert project.memberships.get().user.username == "admin"
    lines = first.splitlines()
    assert lines[0] == f"Demo project created (id {project.pk})."
    assert lines[1].startswith("Seeded demo with 1 day of traffic (seed 5): ")

    assert _run("seed_demo").splitlines() == [
        f"Demo project exists (id {project.pk}).",
        "Project demo already has data; not seeding (--force seeds anyway)."]
    assert list(Project.objects.values_list("slug", flat=True)) == ["demo"]


def test_seed_demo_needs_the_owner(settings, db):
    settings.ADMIN_USERNAME = "nobody"
    with pytest.raises(CommandError, match="No user 'nobody'; run ensureadmin first"):
        _run("seed_demo")
    assert not Project.objects.exists()


def test_two_days_of_traffic_exactly_as_generated_and_only_once(admin, stored):
    before = datetime.now(UTC)
    output = _run("seed_demo", "--days", "2", "--seed", "1")
    after = datetime.now(UTC)
    project = Project.objects.get(slug="demo")
    rows = _events(project)
    by_uuid = {str(r["uuid"]): r for r in rows}

    # Exactly the generator's events for the command's window (the minute may have turned).
    windows = {demo_data.window(moment, 2) for moment in (before, after)}
    planned = {w: [e for _, batch in demo_data.traffic(seed=1, tz=UTC, start=w[0], end=w[1])
                   for e in batch] for w in windows}
    # (Both windows can hold the very same events when none fell in the minute between them.)
    matching = sorted(w for w, items in planned.items()
                      if {e["uuid"] for e in items} == set(by_uuid))
    assert matching, "the stored events are no window's events"
    start, end = matching[0]
    for item in planned[(start, end)]:
        row = by_uuid[item["uuid"]]
        assert (row["event"], row["distinct_id"], row["timestamp"], row["properties"]) == (
            item["event"], item["distinct_id"], datetime.fromisoformat(item["timestamp"]),
            item["properties"])
    assert f": {len(rows)} events, " in output

    stamps = [r["timestamp"] for r in rows]
    assert start <= min(stamps) and max(stamps) < end
    assert max(stamps) - min(stamps) > timedelta(days=2, hours=-1)

    counts = Counter(r["event"] for r in rows)
    assert set(counts) == {"page_view", "click", "signup_started", "signup_completed",
                           "purchase", "$identify"}
    pricing = sum(1 for r in rows if r["event"] == "page_view" and r["path"] == "/pricing")
    assert pricing > counts["signup_started"] > counts["signup_completed"] > 0
    purchases = [r["properties"] for r in rows if r["event"] == "purchase"]
    assert all(isinstance(p["amount"], int | float) and p["amount"] > 0 for p in purchases)

    views_by_hour = Counter(r["timestamp"].hour for r in rows if r["event"] == "page_view")
    day = sum(views_by_hour[h] for h in range(10, 18)) / 8
    night = sum(views_by_hour[h] for h in range(1, 6)) / 5
    assert day > 3 * night

    # $identify links anonymous ids to users: the aliases exist and the events are merged.
    links = {}
    for r in sorted(rows, key=lambda r: r["timestamp"]):
        if r["event"] == "$identify":
            links.setdefault(r["properties"]["$anon_distinct_id"], r["distinct_id"])
    assert dict(PersonAlias.objects.filter(project=project)
                .values_list("distinct_id", "person_id")) == links
    assert all(r["person_id"] == links.get(r["distinct_id"], r["distinct_id"]) for r in rows)

    # Enriched like any client's events, from real user agents and referrers.
    assert {r["device_type"] for r in rows} == {"desktop", "mobile", "tablet", "bot"}
    assert {"Chrome", "Firefox", "Safari", "Mobile Safari", "Edge"} <= {r["browser"] for r in rows}
    assert {None, "google.com", "news.ycombinator.com", "newsletter.example.com", "t.co",
            "x.com"} <= {r["referrer_domain"] for r in rows}
    assert all(r["ip_hash"] for r in rows)

    series = {s.pk: (s.name, s.tags["host"]) for s in MetricSeries.objects.filter(project=project)}
    assert set(series.values()) == set(demo_data.SERIES)
    points = _points(project)
    expected = demo_data.metric_points(seed=1, tz=UTC, start=start, end=end)
    assert sorted((*series[sid], ts, v) for sid, ts, v in points) == sorted(
        (p["name"], p["tags"]["host"], datetime.fromisoformat(p["timestamp"]), p["value"])
        for p in expected)
    assert f", {len(points)} metric points in " in output
    peak = {name_host: max(v for sid, _, v in points if series[sid] == name_host)
            for name_host in demo_data.SERIES}
    for other in ("web-01", "web-03"):  # one afternoon web-02 gets slow and fails
        assert peak[("http.latency_ms", "web-02")] > 1000 > peak[("http.latency_ms", other)]
        assert peak[("http.errors", "web-02")] > 40 > peak[("http.errors", other)]
    assert peak[("queue.depth", "db-01")] > 1000

    again = _run("seed_demo", "--days", "2", "--seed", "1")
    assert "already has data; not seeding" in again
    assert len(_events(project)) == len(rows)
    assert len(_points(project)) == len(points)
    assert PersonAlias.objects.filter(project=project).count() == len(links)


def test_days_are_clamped_to_the_raw_retention(make_project, stored):
    project = make_project("Short")
    Project.objects.filter(pk=project.pk).update(raw_retention_days=1)
    output = _run("seed_demo", "--project", project.slug, "--days", "5", "--seed", "2")
    assert output.splitlines()[0] == ("--days is more than the project's raw retention; "
                                      "seeding 1 day.")
    stamps = [r["timestamp"] for r in _events(project)]
    assert stamps and min(stamps) > datetime.now(UTC) - timedelta(days=1)


def test_seed_demo_rejects_an_unknown_project(db):
    with pytest.raises(CommandError, match="No project 'nope'"):
        _run("seed_demo", "--project", "nope")


def test_the_generator_is_fixed_by_its_seed_and_follows_the_clock():
    start = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
    end = start + timedelta(days=7)
    items = [e for _, batch in demo_data.traffic(seed=1, tz=UTC, start=start, end=end)
             for e in batch]
    assert Counter(e["event"] for e in items) == {
        "page_view": 19501, "click": 2339, "$identify": 714, "signup_started": 410,
        "signup_completed": 225, "purchase": 200}
    assert len(demo_data.metric_points(seed=1, tz=UTC, start=start, end=end)) == 7 * 1440 * 15
    again = demo_data.traffic(seed=1, tz=UTC, start=start, end=end)
    assert [e["uuid"] for _, batch in again for e in batch] == [e["uuid"] for e in items]
    other = demo_data.traffic(seed=2, tz=UTC, start=start, end=start + timedelta(hours=1))
    assert not {e["uuid"] for _, batch in other for e in batch} & {e["uuid"] for e in items}
    assert all(len(batch) <= demo_data.MAX_BATCH for _, batch in again)

    days = Counter(datetime.fromisoformat(e["timestamp"]).weekday() for e in items)
    assert min(days[0], days[1], days[2]) > 1.5 * max(days[5], days[6])  # quieter weekends

    # In Tokyo 14:00 is 05:00 UTC and 04:00 is 19:00 UTC.
    tokyo = [e for _, batch in demo_data.traffic(seed=1, tz=ZoneInfo("Asia/Tokyo"), start=start,
                                                 end=start + timedelta(days=1)) for e in batch]
    hours = Counter(datetime.fromisoformat(e["timestamp"]).hour for e in tokyo)
    assert hours[5] > 3 * hours[19]

    found = demo_data.incidents(UTC, start, end)
    assert [(i.kind, i.host, i.start) for i in found] == [
        ("latency", "web-02", datetime(2026, 1, 10, 14, 20, tzinfo=UTC)),
        ("backlog", "db-01", datetime(2026, 1, 8, 2, 40, tzinfo=UTC))]


def test_simulate_sends_live_events_and_points_then_stops(make_project, stored):
    project = make_project("Live")
    started = datetime.now(UTC)
    output = _run("simulate", "--project", project.slug, "--duration", "2", "--rate", "4")
    assert re.fullmatch(rf"Simulated 8 events and 15 metric points for {project.slug} "
                        r"in [\d.]+ s\.\n", output)
    rows = _events(project)
    assert len(rows) == 8
    assert all(started - timedelta(seconds=1) <= r["timestamp"] <= datetime.now(UTC)
               for r in rows)
    assert all(r["browser"] and r["ip_hash"] for r in rows)
    assert len(_points(project)) == len(demo_data.SERIES)


def test_simulate_needs_a_project(db):
    with pytest.raises(CommandError, match="No project 'demo'; run seed_demo first"):
        _run("simulate", "--duration", "1")
