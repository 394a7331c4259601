"""The SQL the read path sends, seen without a database: representative queries, reports and
catalog reads compiled to statements and compared with ``snapshots/statements.sql``, so a
change of plan shape is a visible diff in review.

    UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest events/tests/test_statements.py

rewrites the file after an intended change. The test has no database (pytest-django refuses
any query in it), which is the proof that compiling touches none.
"""

import os
from datetime import UTC, datetime
from pathlib import Path

from events.query import (
    analytics,
    catalog,
    engine,
    event_source,
    explorer,
    funnels,
    goals,
    metric_source,
    paths,
    people,
    retention,
    suggest,
)
from events.query.engine import Retention
from events.query.filters import parse
from events.query.parser import parse_text
from events.query.spec import Notes
from events.query.timerange import resolve, resolve_span

SNAPSHOT = Path(__file__).parent / "snapshots" / "statements.sql"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PROJECT = 7
KEEP = Retention(raw_days=7, minute_days=30, hour_days=365)
TWO_HOSTS = metric_source.Groups([11, 12], [0, 1], [{"host": "a"}, {"host": "b"}])
TWELVE_HOSTS = metric_source.Groups(list(range(100, 112)), list(range(12)),
                                    [{"host": f"h{n}"} for n in range(12)])
ONE_GROUP = metric_source.Groups([11, 12], [0, 0], [{}])


def _metric(text: str, start: str, step: str | None, groups, *, tz: str = "UTC"):
    query = parse_text(text)
    rng = resolve(start, "now", step, tz=tz, now=NOW)
    plan = engine.plan(query, rng, KEEP, Notes())
    statements = [metric_source.series_statement(
        PROJECT, query.source, {f.key: f.values[0] for f in query.filters if f.op == "eq"})]
    if query.by and len(groups.tags) > query.limit:
        statements.append(metric_source.top_fetch(PROJECT, query, groups, plan.table,
                                                  plan.range).statement)
    else:
        statements.append(metric_source.data_fetch(PROJECT, query, groups, plan.table,
                                                   plan.range).statement)
    return statements


def _events(text: str, start: str, step: str | None, *, tz: str = "UTC", top=None):
    query = parse_text(text)
    rng = resolve(start, "now", step, tz=tz, now=NOW)
    plan = engine.plan(query, rng, KEEP, Notes())
    statements = []
    if query.by:
        statements.append(event_source.statement(PROJECT, query, plan.table, plan.range,
                                                 bucketed=False, rank_limit=query.limit + 1))
    statements.append(event_source.statement(PROJECT, query, plan.table, plan.range, top=top))
    return statements


def cases() -> dict[str, list]:
    week = resolve_span("now-7d", "now", now=NOW)
    return {
        "metric avg by host, 30 days hourly (1 h rollup)":
            _metric("avg:cpu.user{} by {host}", "now-30d", "1h", TWO_HOSTS),
        "metric avg by host, 12 hosts: top 10 and other in one statement":
            _metric("avg:cpu.user{env:prod} by {host}", "now-30d", "1h", TWELVE_HOSTS),
        "metric p95 of every series, 30 days hourly (name-level rollup, sketches read here)":
            _metric("p95:http.latency_ms{}", "now-30d", "1h", ONE_GROUP),
        "metric p95 by host, a day by minute (1 min rollup, sketches merged in SQL)":
            _metric("p95:http.latency_ms{} by {host}", "now-1d", "5m", TWO_HOSTS),
        "metric last hour raw, filtered":
            _metric("avg:http.latency_ms{host:a, env:!dev, az:eu-*}", "now-1h", "10s",
                    ONE_GROUP),
        "events count by name, 7 days hourly (event rollup)":
            _events("count:events{event:signup|purchase} by {event}", "now-7d", "1h"),
        "events unique users by day in Berlin (rollup with identify links)":
            _events("uniq_users:events{}", "now-30d", "1d", tz="Europe/Berlin"),
        "events numeric property by browser, raw, top groups":
            _events("sum:events.amount{event:purchase, plan:pro} by {browser} limit 3",
                    "now-7d", "1h", top=["[\"Firefox\"]", "[\"Chrome\"]", "[\"Safari\"]"]),
        "analytics overview (per period: counts, people, sessions)":
            [analytics.linked_statement(PROJECT),
             *analytics.kpi_statements(PROJECT, week, linked=True)],
        "analytics top pages": [analytics.breakdown_statement(PROJECT, "top-pages", week, 10)],
        "analytics countries, filtered (raw events)": [analytics.breakdown_statement(
            PROJECT, "countries", week, 10, parse(["utm_source:google", "person.plan:pro"]))],
        "analytics time series by day in Berlin": [
            analytics.dimensions.timeseries_statement(PROJECT, week.start, week.end, "day",
                                                      "Europe/Berlin", parse([]), True)],
        "funnel, 3 steps ordered, broken down by country": [funnels.funnel_statement(
            PROJECT, week, funnels.FunnelSpec(funnels.parse_steps([
                {"event": "page_view", "filters": ["path:/pricing"]}, {"event": "signup"},
                {"event": "purchase"}]), 86400, "ordered", parse([]), "country"))],
        "funnel, strict": [funnels.funnel_statement(PROJECT, week, funnels.FunnelSpec(
            funnels.parse_steps([{"event": "a"}, {"event": "b"}]), 600, "strict",
            parse([])))],
        "funnel, any order": [funnels.funnel_statement(PROJECT, week, funnels.FunnelSpec(
            funnels.parse_steps([{"event": "a"}, {"event": "b"}]), 600, "any", parse([])))],
        "retention by week, first seen, any event": [retention.retention_statement(
            PROJECT, week.start, week.end, period="week", tz="UTC", cohort_event=None,
            return_event=None, filters=parse([]))],
        "retention by day, signup then purchase": [retention.retention_statement(
            PROJECT, week.start, week.end, period="day", tz="UTC", cohort_event="signup",
            return_event="purchase", filters=parse([]))],
        "paths, next 3 pages": [paths.paths_statement(PROJECT, week, start="/pricing",
                                                      kind="pages", direction="next", depth=3,
                                                      filters=parse([]))],
        "entry and exit pages": [paths.entries_statement(PROJECT, week, parse([]), 10)],
        "people": [people.people_statement(PROJECT, week, search="ann", filters=parse([]),
                                           ordering="-last_seen", limit=50, offset=0)],
        "sessions list": [people.sessions_statement(PROJECT, week, filters=parse([]),
                                                    ordering="-started_at", limit=50,
                                                    offset=0)],
        "explorer page": [explorer.page_statement(PROJECT, week, filters=parse([]), limit=50,
                                                  after=None, newer_than=None)],
        "goal, page pattern": [goals.goal_statement(PROJECT, week, event="",
                                                    path_pattern="/signup/*",
                                                    filters=parse([]), linked=True)],
        "analytics sessions": [analytics.sessions_statement(PROJECT, week)],
        "analytics users": [analytics.users_statement(PROJECT, week, search="ann", min_events=2,
                                                      ordering="-events", limit=50, offset=0)],
        "catalog metric names": [catalog.names_statement(PROJECT, "cpu", 100)],
        "catalog metric page": [catalog.definition_statement(PROJECT, "cpu"),
                                catalog.seen_statement(PROJECT, "cpu"),
                                catalog.tag_values_statement(PROJECT, "cpu", 10)],
        "autocomplete metric names": [
            suggest.metrics_statement(PROJECT, suggest.Fragment("cp"), 20)],
        "autocomplete tag keys and values": [
            suggest.tag_keys_statement(PROJECT, "cpu", suggest.Fragment("ho"), 20),
            suggest.tag_values_statement(PROJECT, "cpu", "host", suggest.Fragment("web"), 20)],
        "catalog live window": [catalog.window_statement([11, 12], 300, NOW)],
    }


def render() -> str:
    out = []
    for name, statements in cases().items():
        for n, statement in enumerate(statements, 1):
            out.append(f"-- {name} [{n}/{len(statements)}] reads {statement.table}"
                       f" (resolution {statement.resolution or 'raw'})")
            text = "\n".join(line.rstrip() for line in statement.as_text().strip().splitlines())
            out.append(text + ";\n")
    return "\n".join(out)


def test_statements_match_their_snapshot():
    rendered = render()
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(rendered)
    assert SNAPSHOT.read_text() == rendered, (
        "The compiled SQL changed; if that is intended, rerun with UPDATE_SNAPSHOTS=1 and "
        "review the diff of events/tests/snapshots/statements.sql.")
