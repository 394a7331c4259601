"""Every read of the API runs under the query timeout and a slow one answers 504 QUERY_TIMEOUT,
never 500: another connection holds the data tables locked, so each statement waits until
PostgreSQL cancels it (deterministic, unlike a slow query on a shared machine)."""

import contextlib
import time

import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

DATA_TABLES = ["events_event", "events_eventrollup1h", "events_hourrollup", "events_sessionhour",
               "events_sessionrollup", "events_personalias", "events_metricseries",
               "events_metricpoint", "events_metricrollup1m", "events_metricrollup1h",
               "events_metricnamerollup1h", "events_dimrollup1h", "events_dimrollup1d",
               "events_person"]


@contextlib.contextmanager
def tables_locked():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as other:
        other.execute(f"LOCK TABLE {', '.join(DATA_TABLES)} IN ACCESS EXCLUSIVE MODE")
        yield
        other.rollback()


READS = [
    ("post", "/api/v1/query", {"query": "count:events{} by {browser}", "start": "now-1d"}),
    ("post", "/api/v1/query", {"query": "p95:cpu{host:a}", "start": "now-30d", "step": "1h"}),
    ("get", "/api/v1/analytics/overview", {}),
    ("get", "/api/v1/analytics/timeseries", {"interval": "hour"}),
    ("get", "/api/v1/analytics/top-events", {}),
    ("get", "/api/v1/analytics/top-pages", {}),
    ("get", "/api/v1/analytics/top-referrers", {}),
    ("get", "/api/v1/analytics/browsers", {}),
    ("get", "/api/v1/analytics/devices", {}),
    ("get", "/api/v1/analytics/sessions", {}),
    ("get", "/api/v1/analytics/users", {}),
    ("get", "/api/v1/metrics/", {}),
    ("get", "/api/v1/metrics/cpu/tags", {}),
    ("get", "/api/v1/metrics/cpu/window", {"window": "5m"}),
    ("get", "/api/v1/analytics/countries", {}),
    ("get", "/api/v1/analytics/channels", {"filter": "country:DE"}),
    ("get", "/api/v1/projects/{project}/funnel/",
     {"steps": '[{"event": "a"}, {"event": "b"}]'}),
    ("get", "/api/v1/projects/{project}/funnel/people/",
     {"steps": '[{"event": "a"}, {"event": "b"}]', "step": 2}),
    ("get", "/api/v1/projects/{project}/retention/", {}),
    ("get", "/api/v1/projects/{project}/paths/", {"origin": "/"}),
    ("get", "/api/v1/projects/{project}/entry-pages/", {}),
    ("get", "/api/v1/projects/{project}/sessions/", {}),
    ("get", "/api/v1/projects/{project}/sessions/s1/", {}),
    ("get", "/api/v1/projects/{project}/people/", {}),
    ("get", "/api/v1/projects/{project}/people/u1/", {}),
    ("get", "/api/v1/projects/{project}/events/", {}),
    ("get", "/api/v1/projects/{project}/goals/conversions/", {}),
]


@pytest.mark.parametrize(("method", "path", "params"), READS,
                         ids=[f"{m} {p} {sorted(q)}" for m, p, q in READS])
def test_a_read_that_runs_too_long_answers_504(method, path, params, make_project, make_user,
                                               token_client, settings):
    settings.QUERY_TIMEOUT_S = 0.3
    user = make_user()
    project = make_project("Slow", owner=user)
    client = token_client(user)
    path = path.format(project=project.pk)
    if "goals" in path:  # conversions read nothing without a goal
        project.goals.create(name="Signed up", event="signup")
    with tables_locked():
        started = time.monotonic()
        if method == "post":
            response = client.post(path, {"project": project.pk, **params}, format="json")
        else:
            response = client.get(path, {"project": project.pk, **params})
        took = time.monotonic() - started
    assert took < 5, f"waited {took:.1f} s: not under QUERY_TIMEOUT_S"
    assert response.status_code == 504, response.json()
    assert response.json()["code"] == "QUERY_TIMEOUT"
    assert response.json()["details"] == {"timeout_s": 0.3}
