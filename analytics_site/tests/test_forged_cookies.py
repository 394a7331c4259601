"""A request may carry any cookie: a well-formed but unknown session id must never turn an answer
into a 500 — on the async ingestion path, the API, the pages, CSRF failures or the probes —
and secrets in paths never reach the request log."""

import json
import logging

import pytest

from events.models import Event
from projects.models import IngestKey

pytestmark = pytest.mark.slow

FORGED = {"Cookie": "sessionid=abcdefghijklmnopqrstuvwxyz012345; csrftoken=x"}


def test_a_forged_session_cookie_changes_no_answer(ingest, make_project):
    project = make_project("Cookies")
    key = IngestKey.objects.get(project=project).key
    expected = [
        ("GET", "/healthz", {}, None, 200),
        ("POST", "/api/v1/events/batch", {"X-API-Key": key},
         {"events": [{"event": "signup", "distinct_id": "u1"}]}, 202),
        ("POST", "/api/v1/metrics", {"X-API-Key": key},
         {"points": [{"name": "cpu", "value": 1}]}, 202),
        ("POST", "/batch/", {}, {"api_key": key,
                                 "batch": [{"event": "$pageview", "distinct_id": "u2"}]}, 200),
        ("GET", "/api/v1/projects/", {}, None, 401),
        ("GET", "/projects/", {}, None, 302),
        ("PUT", "/projects/", {}, None, 403),  # CSRF before the method
        ("GET", "/logout/", {}, None, 405),
        ("POST", "/logout/", {}, None, 403),  # CSRF: the forged token does not match
        ("POST", f"/projects/{project.pk}/settings/", {}, None, 403),
        ("GET", "/login/", {}, None, 200),
        ("GET", "/admin/", {}, None, 302),
        ("GET", "/public/dashboards/pd_nope/", {}, None, 404),
        ("GET", "/api/schema/", {}, None, 200),
    ]
    seen = []
    for method, path, headers, body, _ in expected:
        response = ingest.request(method, path, headers={**FORGED, **headers},
                                  content=json.dumps(body) if body is not None else None,
                                  follow_redirects=False)
        seen.append((method, path, response.status_code))
    assert seen == [(m, p, status) for m, p, _, _, status in expected]
    assert sorted(Event.objects.values_list("event", flat=True)) == ["$pageview", "signup"]


@pytest.mark.django_db
def test_public_dashboard_tokens_are_redacted_in_the_request_log(client, caplog):
    caplog.set_level(logging.INFO, logger="analytics.request")
    client.get("/public/dashboards/pd_s3cretT0ken-value/")
    lines = [r for r in caplog.records if r.name == "analytics.request"]
    assert [r.path for r in lines] == ["/public/dashboards/pd_[redacted]/"]
    assert all("s3cret" not in r.getMessage() for r in lines)
