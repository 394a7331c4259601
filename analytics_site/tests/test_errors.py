"""Every API error has one shape, {"error", "code", "details"}, the right status, no traceback."""

import json

import pytest
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.urls("analytics_site.tests.urls_for_errors")]


def _shape(response):
    body = response.json()
    assert set(body) == {"error", "code", "details"}, body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["details"], dict)
    return body


def test_validation_error_names_the_field(make_user, token_client):
    response = token_client(make_user(), scopes=["write"]).post(
        "/api/v1/projects/", {"name": "x" * 101}, format="json")
    assert response.status_code == 400
    body = _shape(response)
    assert body["code"] == "VALIDATION_ERROR"
    assert body["details"] == {"name": ["Ensure this field has no more than 100 characters."]}
    assert body["error"] == "name: Ensure this field has no more than 100 characters."


def test_missing_credentials_are_401():
    response = APIClient().get("/api/v1/projects/")
    assert response.status_code == 401
    assert _shape(response)["code"] == "UNAUTHORIZED"


def test_insufficient_role_is_403(two_projects, token_client):
    response = token_client(two_projects["a_viewer"]).delete(
        f"/api/v1/projects/{two_projects['a'].pk}/")
    assert response.status_code == 403
    assert _shape(response)["code"] == "FORBIDDEN"


def test_unknown_api_url_is_404_json(make_user, token_client):
    response = token_client(make_user()).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found.", "code": "NOT_FOUND", "details": {}}


def test_wrong_method_is_405(make_user, token_client):
    response = token_client(make_user()).put("/api/v1/projects/", {}, format="json")
    assert response.status_code == 405
    assert _shape(response)["code"] == "METHOD_NOT_ALLOWED"


def test_malformed_json_is_400_invalid_json():
    response = APIClient().post("/api/v1/test/echo", data="{not json",
                                content_type="application/json")
    assert response.status_code == 400
    assert _shape(response)["code"] == "INVALID_JSON"


def test_wrong_content_type_is_415():
    response = APIClient().post("/api/v1/test/echo", data="a=1",
                                content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert _shape(response)["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_body_over_the_limit_is_413(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"pad": "x" * 2000})
    response = APIClient().post("/api/v1/test/echo", data=body, content_type="application/json")
    assert response.status_code == 413
    parsed = _shape(response)
    assert parsed["code"] == "PAYLOAD_TOO_LARGE"
    assert parsed["details"] == {"max_bytes": 1024}


def test_rate_limit_is_429_with_retry_after():
    client = APIClient(REMOTE_ADDR="10.9.8.7")
    assert [client.get("/api/v1/test/limited").status_code for _ in range(2)] == [200, 200]
    response = client.get("/api/v1/test/limited")
    assert response.status_code == 429
    body = _shape(response)
    assert body["code"] == "RATE_LIMITED"
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert body["details"] == {"retry_after": retry_after}


def test_unexpected_exception_is_500_without_internals(caplog):
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/v1/test/crash", HTTP_X_REQUEST_ID="req-crash-1")
    assert response.status_code == 500
    body = _shape(response)
    assert body == {"error": "Internal error.", "code": "INTERNAL_ERROR",
                    "details": {"request_id": "req-crash-1"}}
    assert "hunter2" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert any("hunter2" in (r.exc_text or "") or r.exc_info for r in caplog.records
               if r.name == "analytics.errors")


def test_html_pages_keep_html_errors(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
