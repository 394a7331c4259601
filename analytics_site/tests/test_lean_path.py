"""The ingestion endpoints are served past Django's middleware (``analytics_site.lean``) and
still answer with what every response carries: the request id, the CSP and Django's security
headers; every other request still goes through Django."""

import pytest

from analytics_site.lean import lean_routes
from events.ingest import endpoints

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_ingestion_route_and_nothing_else_is_lean():
    routes = lean_routes()
    assert routes["/api/v1/events/batch"] is endpoints.events_batch
    assert routes["/api/v1/metrics"] is endpoints.metrics
    assert routes["/write"] is endpoints.write_v1
    assert routes["/api/v2/write"] is endpoints.write_v2
    assert routes["/v1/metrics"] is endpoints.otlp_metrics
    assert routes["/api/v1/prom/write"] is endpoints.prometheus_remote_write
    assert routes["/api/event"] is endpoints.plausible_event
    assert {"/capture", "/batch", "/i/v0/e", "/v1/track", "/v1/batch"} <= set(routes)
    assert not {"/api/v1/query", "/healthz", "/api/v1/query/autocomplete"} & set(routes)


def test_a_lean_answer_carries_the_request_id_csp_and_security_headers(ingest):
    answer = ingest.post("/api/v1/events/batch", json={"api_key": "pk_nope", "events": []},
                         headers={"X-Request-ID": "lean-check-1"})
    assert answer.status_code == 401
    assert answer.json()["code"] == "UNAUTHORIZED"
    assert answer.headers["X-Request-ID"] == "lean-check-1"
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "Permissions-Policy" in answer.headers
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    # Django's own middleware (here XFrameOptionsMiddleware) ran for a request through Django,
    # not for the lean one.
    assert "X-Frame-Options" not in answer.headers
    through_django = ingest.get("/healthz")
    assert through_django.headers["X-Frame-Options"] == "DENY"


def test_a_lean_endpoint_keeps_its_own_error_format(ingest):
    answer = ingest.post("/write", params={"db": "x"}, content=b"cpu value=1",
                         headers={"Authorization": "Token pk_nope"})
    assert answer.status_code == 401
    body = answer.json()
    assert body["code"] == "UNAUTHORIZED" and body["message"] == body["error"]
    refused = ingest.get("/api/v1/metrics")
    assert refused.status_code == 405 and refused.headers["Allow"] == "POST"
