"""The OpenAPI schema describes the API, and its docs page loads nothing from the internet."""

import re

import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_schema_lists_the_project_endpoints(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    assert {
        "/api/v1/projects/", "/api/v1/projects/{id}/", "/api/v1/projects/{project_id}/members/",
        "/api/v1/projects/{project_id}/ingest-keys/{id}/rotate/", "/api/v1/tokens/",
        "/api/v1/projects/{project_id}/alert-rules/", "/api/v1/alert-rules/{id}/evaluate/",
        "/api/v1/projects/{project_id}/alert-rules/preview/",
        "/api/v1/notification-channels/{id}/test/", "/api/v1/projects/{project_id}/silences/",
        "/api/v1/projects/{project_id}/live-ticket/",
    } <= paths


def test_docs_page_uses_only_local_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    external = re.findall(r'(?:src|href)=["\'](https?://[^"\']+)', html)
    assert external == []
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def _schema(client):
    return yaml.safe_load(client.get("/api/schema/").content)


def test_every_operation_documents_its_errors_in_the_error_format(client):
    schema = _schema(client)
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "code", "details"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            statuses = {int(s) for s in operation["responses"]}
            assert {429, 503} <= statuses, (method, path)
            assert any(200 <= s < 300 for s in statuses), (method, path)
            if "{" in path:
                assert 404 in statuses, (method, path)
            if "requestBody" in operation:
                assert {400, 413, 415} <= statuses, (method, path)
            for status in statuses - set(range(200, 300)):
                ref = operation["responses"][str(status)]["$ref"]
                body = schema["components"]["responses"][ref.rsplit("/", 1)[1]]
                assert body["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"}


def test_statuses_follow_from_what_each_view_is(client):
    paths = _schema(client)["paths"]

    def statuses(path, method):
        return sorted(int(s) for s in paths[path][method]["responses"])

    assert statuses("/api/v1/silences/{id}/", "delete") == [204, 401, 403, 404, 409, 429, 503]
    assert statuses("/api/v1/query", "post") == [200, 400, 401, 403, 404, 413, 415, 429, 503,
                                                  504]
    assert statuses("/api/v1/tokens/", "get") == [200, 401, 403, 429, 503]
    assert statuses("/public/dashboards/{token}/panels/{panel_id}/", "get") == [
        200, 400, 404, 429, 503, 504]
    responses = _schema(client)["components"]["responses"]
    for name in ("RateLimited", "Unavailable"):
        assert responses[name]["headers"]["Retry-After"]["required"] is True


def test_query_parameters_are_documented_from_the_serializers_that_check_them(client):
    operation = _schema(client)["paths"]["/api/v1/projects/{project_id}/alerts/"]["get"]
    [state] = [p for p in operation["parameters"] if p["name"] == "state"]
    assert state["schema"]["type"] == "array"
    assert set(state["schema"]["items"]["enum"]) == {"ok", "pending", "firing", "no_data",
                                                     "error"}
