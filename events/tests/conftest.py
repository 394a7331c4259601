"""Fixtures of the events tests (the server and writer fixtures are in tests/server_fixtures)."""

import pytest


@pytest.fixture
def ingest_key(make_project):
    from projects.models import IngestKey

    project = make_project("Ingest")
    return IngestKey.objects.get(project=project)
