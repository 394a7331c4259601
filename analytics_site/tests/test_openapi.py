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
