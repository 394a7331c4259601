"""Schemathesis over the whole OpenAPI schema, against the real server (daphne, the production
ASGI app, on the test database): every operation, a fixed number of generated requests each,
made by the admin of a throwaway project. No answer may be a server error, every status must be
one the schema documents, and every error body must have the API's one format."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time as dt_time
from datetime import timedelta

import httpx
import pytest
import requests
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from alerts import services as alerts
from conftest import child_env
from dashboards import services as dashboards
from events import rollups
from ml import services as ml
from ml.models import Anomaly
from projects import services as projects
from projects.models import Membership, Role, Scope
from reports import runs as report_runs
from reports import services as reports
from tests.server_fixtures import BASE_DIR, _free_port

# Over 120 operations, each with real ids, examples and generated cases: minutes, more than the
# suite's default 300 s timeout on a busy 2-core machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# Per operation: requests with the project's real ids (the success paths), with generated
# values everywhere (mostly 404s), and with values that break the schema (400s); and once each
# request example of the schema.
REAL, GENERATED, NEGATIVE = 10, 5, 10
# No request of the run can succeed here: an invitation is answered by its invitee, and the
# world's token is its project admin's.
NEVER_SUCCEEDS = {"POST /api/v1/invitations/{id}/accept/",
                  "POST /api/v1/invitations/{id}/decline/"}


@pytest.fixture
def api_server(transactional_db, tmp_path):
    """A server of its own: the fuzzer makes more calls than the default throttle allows."""
    port = _free_port()
    log = tmp_path / "daphne.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "analytics_site.serve", "-b", "127.0.0.1", "-p", str(port),
         "analytics_site.asgi:application"], cwd=BASE_DIR,
        env=child_env(API_RATE_LIMIT_USER="100000/min", API_RATE_LIMIT_ANON="100000/min"),
        stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    yield url, log
    proc.terminate()
    proc.wait(30)


@dataclass
class World:
    """A throwaway project with one of everything, so each path has a real id to hit."""

    token: str
    project_id: int
    ids: dict[str, int]  # the collection in the path -> the id of its one real member
    public: dict[str, object] = field(default_factory=dict)
    bodies: dict[str, Callable] = field(default_factory=dict)  # operation -> a body that works


@pytest.fixture
def world(make_user, make_project, store) -> World:
    owner = make_user("fuzzer")
    project = make_project("Fuzzed", owner=owner, members={make_user("colleague"): Role.VIEWER})
    store.points(project, [{"name": "cpu", "value": 1.0, "tags": {"host": "a"}}])
    store.events(project, [  # a session, a person and an identify link for the product reports
        {"event": "page_view", "distinct_id": "anon-1", "session_id": "s1",
         "page_url": "https://shop.example/pricing?utm_source=newsletter"},
        {"event": "$identify", "distinct_id": "u1", "session_id": "s1",
         "properties": {"$anon_distinct_id": "anon-1", "$set": {"plan": "pro"}}}])
    rollups.fold()
    goal = project.goals.create(name="Pricing", path_pattern="/pricing")
    board = dashboards.create_dashboard(project=project, name="Board", user=owner)
    panel = dashboards.create_panel(dashboard=board, title="CPU", query="avg:cpu{}")
    annotation = dashboards.create_annotation(project=project, text="deploy",
                                              at=timezone.now() - timedelta(hours=1),
                                              dashboard=board, user=owner)
    channel = alerts.create_channel(project=project, name="Ops", kind="email",
                                    recipients=["ops@example.com"])
    rule = alerts.create_rule(project=project, user=owner, name="Hot", query="avg:cpu{}",
                              threshold=90, channels=[channel.pk])
    now = timezone.now()
    silence = alerts.create_silence(project=project, user=owner, rule=rule, matchers={},
                                    starts_at=now, ends_at=now + timedelta(hours=1),
                                    reason="maintenance")
    _, raw = projects.create_api_token(user=owner, name="fuzz", scopes=[Scope.ADMIN])
    spare, _ = projects.create_api_token(user=owner, name="spare", scopes=[Scope.READ])
    public = dashboards.create_public_link(dashboard=board)
    invitation = projects.invite_member(project=project, identifier="newcomer@example.com",
                                        role=Role.VIEWER, invited_by=owner)
    report = reports.create_report(project=project, user=owner, title="Weekly", blocks=[
        {"kind": "kpi", "title": "CPU", "query": "avg:cpu{}"},
        {"kind": "chart", "query": "avg:cpu{} by {host}", "options": {"type": "line"}}])
    reports.set_schedule(report=report, kind="weekly", time=dt_time(9, 0))
    recipient = reports.add_recipient(report=report, email="team@example.com", formats=["csv"])
    run = report_runs.execute(report_runs.run_now(report=report).pk)
    report_file = run.files.filter(inline=False).first()
    anomaly_model = ml.create_model(project=project, name="CPU", query="avg:cpu{} by {host}",
                                    user=owner)
    series = anomaly_model.series.create(key='{"host":"a"}', tags={"host": "a"})
    now = timezone.now()
    anomaly = Anomaly.objects.create(
        project=project, model=anomaly_model, series=series, tags={"host": "a"},
        started_at=now, last_seen_at=now, peak_at=now, peak_score=2.0, value=1.0,
        explanation=[{"feature": "overall median", "weight": 1.0, "text": "far above"}])
    return World(token=raw, project_id=project.pk, ids={
        "projects": project.pk, "dashboards": board.pk, "panels": panel.pk,
        "annotations": annotation.pk, "notification-channels": channel.pk,
        "alert-rules": rule.pk, "silences": silence.pk, "tokens": spare.pk,
        "ingest-keys": project.ingest_keys.get().pk,
        "members": Membership.objects.get(project=project, role=Role.VIEWER).pk,
        "invitations": invitation.pk, "reports": report.pk,
        "report-blocks": report.blocks.get(kind="chart").pk, "report-recipients": recipient.pk,
        "report-runs": run.pk, "goals": goal.pk, "anomaly-models": anomaly_model.pk,
        "anomalies": anomaly.pk,
    }, public={"token": public, "panel_id": panel.pk, "file_id": report_file.pk,
               "session_id": "s1", "person_id": "u1"}, bodies={
        "POST /api/v1/projects/{project_id}/correlations/": lambda: {
            "queries": ["avg:cpu{} by {host}", "count:events{}"], "max_lag": 2},
        "POST /api/v1/projects/{project_id}/failure-probability/": lambda: {
            "query": "avg:cpu{}", "threshold": 90, "hours": 2},
        # An order lists every block the report has by then.
        "PUT /api/v1/reports/{id}/order/": lambda: {"order": list(
            report.blocks.order_by("pk").values_list("pk", flat=True))},
        # A layout lists every panel the dashboard has by then: no generated body does.
        "PUT /api/v1/dashboards/{id}/layout/": lambda: [
            {"id": pk, "x": 0, "y": 4 * row, "w": 6, "h": 4}
            for row, pk in enumerate(board.panels.order_by("pk").values_list("pk", flat=True))]})


def real_path_parameters(world: World, path: str) -> dict[str, object]:
    known = {"project_id": world.project_id, "name": "cpu", **world.public}
    found = re.search(r"/([a-z-]+)/\{id\}", path)
    if found and found.group(1) in world.ids:
        known["id"] = world.ids[found.group(1)]
    return {name: value for name, value in known.items() if f"{{{name}}}" in path}


def error_has_the_api_format(ctx, response, case):
    """Every 4xx and 5xx is ``{"error": str, "code": str, "details": {}}``."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    assert isinstance(body, dict) and set(body) == {"error", "code", "details"}, \
        f"Not the API's error format: {response.text[:300]}"
    assert isinstance(body["error"], str) and isinstance(body["code"], str), body
    assert isinstance(body["details"], dict), body
    return None


CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance,
          content_type_conformance, response_headers_conformance, response_schema_conformance,
          error_has_the_api_format]


# What ends something goes last, dependents before what they hang on (a silence before its
# rule), the project's own delete and the token's at the very end: the real ids stay for the
# others' success paths.
END_ORDER = ["revoke", "silences", "annotations", "panels", "public-link", "members",
             "invitations", "notification-channels", "alert-rules", "reports", "dashboards",
             "anomaly-models", "projects", "tokens"]


def _order(operation) -> tuple:
    method = operation.method.upper()
    rank = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}[method]
    resource = [part for part in operation.path.split("/") if part and "{" not in part][-1]
    if resource == "revoke":
        rank = 4
    position = END_ORDER.index(resource) if rank == 4 and resource in END_ORDER else -1
    return (rank, position, operation.path)


@dataclass
class Tally:
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    succeeded: set = field(default_factory=set)  # operations with at least one 2xx
    undocumented: int = 0
    failures: dict = field(default_factory=dict)  # (operation, failure) -> first reproduction


def _run(operation, strategy, examples: int, *, base_url: str, world: World, tally: Tally,
         session) -> None:
    headers = {"Authorization": f"Bearer {world.token}"}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def call(case):
        if isinstance(case.query, dict) and "project" in case.query:
            case.query["project"] = world.project_id
        if isinstance(case.body, dict) and "project" in case.body:
            case.body["project"] = world.project_id
        response = case.call(base_url=base_url, session=session, headers=headers)
        tally.cases += 1
        tally.statuses[response.status_code] += 1
        if response.status_code < 300:
            tally.succeeded.add(operation.label)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers, transport_kwargs={
                "base_url": base_url, "session": session, "headers": headers})
        except FailureGroup as group:
            kinds = {type(failure).__name__ for failure in group.exceptions}
            tally.undocumented += "UndefinedStatusCode" in kinds
            for failure in group.exceptions:
                tally.failures.setdefault((operation.label, failure.title), str(group)[:3000])

    call()


def _runs(operation, world: World) -> list[tuple]:
    """(strategy, examples) for one operation, the success paths first."""
    real = real_path_parameters(world, operation.path)
    runs = []
    if real or "{" not in operation.path:
        runs.append((operation.as_strategy(path_parameters=real), REAL))
    runs += [(example, 1) for example in operation.get_strategies_from_examples(
        path_parameters=real)]
    if operation.label in world.bodies:
        runs.append((operation.as_strategy(path_parameters=real,
                                           body=world.bodies[operation.label]()), 1))
    return [*runs, (operation.as_strategy(schemathesis.GenerationMode.POSITIVE), GENERATED),
            (operation.as_strategy(schemathesis.GenerationMode.NEGATIVE), NEGATIVE)]


# About 3,000 requests over 120-odd operations (exports and previews render real files): more
# than the suite's default 300 s on a busy 2-core machine.
@pytest.mark.timeout(900)
def test_every_operation_answers_only_what_the_schema_documents(api_server, world):
    base_url, log = api_server
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/")
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
    tally = Tally()
    with requests.Session() as session:
        for operation in operations:
            for strategy, examples in _runs(operation, world):
                _run(operation, strategy, examples, base_url=base_url, world=world,
                     tally=tally, session=session)
    server_errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    print(f"\nschemathesis: {tally.cases} cases over {len(operations)} operations, "
          f"5xx: {server_errors}, undocumented statuses: {tally.undocumented}")
    print("statuses:", dict(sorted(tally.statuses.items())))
    never = {o.label for o in operations} - tally.succeeded
    for (label, title), text in sorted(tally.failures.items()):
        print(f"--- {label}: {title}\n{text}\n")
    logged = [line[:2000] for line in log.read_text().splitlines() if '"level": "ERROR"' in line]
    assert not tally.failures, (f"{len(tally.failures)} distinct failures (above, with -s); "
                                "the server logged:\n" + "\n".join(logged[:10]))
    assert never <= NEVER_SUCCEEDS, f"no request succeeded: {sorted(never - NEVER_SUCCEEDS)}"
