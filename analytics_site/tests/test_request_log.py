"""One JSON log line per request, with the request id that the response carries."""

import json
import logging

import pytest

from analytics_site.logging import JSONFormatter

pytestmark = pytest.mark.django_db


def test_each_request_logs_one_json_line_with_its_id(client, caplog):
    caplog.set_level(logging.INFO, logger="analytics.request")
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    records = [r for r in caplog.records if r.name == "analytics.request"]
    assert len(records) == 1
    line = json.loads(JSONFormatter().format(records[0]))
    assert {k: line[k] for k in ("request_id", "method", "path", "status", "level")} == {
        "request_id": "abc-123", "method": "GET", "path": "/healthz", "status": 200,
        "level": "INFO"}
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


def test_an_unsafe_request_id_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="<script>")
    assert response["X-Request-ID"] != "<script>"
    assert len(response["X-Request-ID"]) == 32
