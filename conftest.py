"""Fixtures shared by every app's tests. Real PostgreSQL and Redis: see settings_test."""

import asyncio

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from projects import services
from projects.models import Membership, Role, Scope

pytest_plugins = ["tests.browser.fixtures", "tests.server_fixtures"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.conf import settings

    # Tests run against Redis database TEST_REDIS_DB only (see settings_test), so this is safe;
    # the assertion keeps it so if the suite were ever started with other settings.
    assert getattr(settings, "TEST_SUITE_SETTINGS", False), "run pytest with settings_test"
    cache.clear()
    # Kept per process under the catalogue version, which the flush starts again from 0.
    from events import selectors
    from events.query import metric_source, units

    units._kept.clear()
    selectors._kept.clear()
    metric_source._kept.clear()
    yield


@pytest.fixture(autouse=True)
def _no_playwright_loop(request, monkeypatch):
    """A test that does not use the browser runs as if no browser had been started.

    Playwright's sync API marks its loop as running in the main thread after every call, so after
    the first browser test async_to_sync (streamed exports, live.publish_sync) refuses to run; and
    the browser fixture allows async-unsafe ORM calls process-wide. Both are undone for the test."""
    if "browser" in request.fixturenames:
        yield
        return
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    running = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(running)


@pytest.fixture
def make_user(django_user_model):
    counter = {"n": 0}

    def make(username=None, **extra):
        counter["n"] += 1
        username = username or f"user{counter['n']}"
        return django_user_model.objects.create_user(
            username=username, email=f"{username}@example.com", password="pw-" + username, **extra)

    return make


@pytest.fixture
def make_project(make_user):
    def make(name="Project", owner=None, members=None):
        owner = owner or make_user()
        project = services.create_project(name=name, owner=owner)
        for user, role in (members or {}).items():
            Membership.objects.create(project=project, user=user, role=role)
        return project

    return make


@pytest.fixture
def token_client():
    """An API client authenticated with a fresh personal token of ``user`` with ``scopes``."""

    def make(user, scopes=(Scope.ADMIN,)):
        _, raw = services.create_api_token(user=user, name="test", scopes=list(scopes))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.raw_token = raw
        return client

    return make


@pytest.fixture
def two_projects(make_user, make_project):
    """Project A with an admin, an editor and a viewer; project B with its own admin."""
    a_admin, a_editor, a_viewer, b_admin = (make_user(n) for n in
                                            ("a_admin", "a_editor", "a_viewer", "b_admin"))
    a = make_project("Alpha", owner=a_admin,
                     members={a_editor: Role.EDITOR, a_viewer: Role.VIEWER})
    b = make_project("Beta", owner=b_admin)
    return {"a": a, "b": b, "a_admin": a_admin, "a_editor": a_editor, "a_viewer": a_viewer,
            "b_admin": b_admin}


def child_env(**extra) -> dict:
    """Environment for a process the tests start (worker, beat, launcher): the same servers,
    the test database and the test Redis database, and the test settings."""
    import os
    from urllib.parse import urlsplit

    from django.conf import settings
    from django.db import connection

    db = urlsplit(settings.DATABASE_URL)._replace(path="/" + connection.settings_dict["NAME"])
    env = {**os.environ, "DATABASE_URL": db.geturl(), "REDIS_URL": settings.REDIS_URL,
           "DJANGO_SETTINGS_MODULE": "analytics_site.settings_test", "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the browser fixture's, for this process only
    env.update(extra)
    return env


def wait_for(check, timeout: float, what: str, every: float = 0.1):
    """``check()``'s first truthy value within ``timeout`` seconds, asked every ``every``; an
    AssertionError naming ``what`` if none comes."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")
