"""A token request's token and project role are kept per process (``projects.access_cache``)
while nothing about access changes: a repeat costs no statement, and every change of a token,
user, membership or project is refused or honoured on the very next request."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects import access_cache, services
from projects.models import APIToken, Membership, Role
from projects.tokens import hash_token

pytestmark = pytest.mark.django_db


def _parse(client, project):
    return client.post("/api/v1/query/parse", {"project": project.pk, "query": "avg:cpu{}"},
                       format="json")


def _access_statements(client, project) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ran:
        status = _parse(client, project).status_code
    return status, [q["sql"] for q in ran.captured_queries
                    if "projects_apitoken" in q["sql"] or "projects_membership" in q["sql"]
                    or "projects_project" in q["sql"]]


def test_a_repeated_token_request_reads_no_token_or_membership(two_projects, token_client):
    client = token_client(two_projects["a_viewer"])
    status, first = _access_statements(client, two_projects["a"])
    assert status == 200 and len(first) >= 2  # the token (with its user), the membership
    status, again = _access_statements(client, two_projects["a"])
    assert (status, again) == (200, [])
    # Another project of the same caller is looked up (and refused: not a member).
    assert _parse(client, two_projects["b"]).status_code == 404


def test_a_revoked_token_is_refused_on_the_next_request(two_projects, token_client):
    client = token_client(two_projects["a_viewer"])
    assert _parse(client, two_projects["a"]).status_code == 200
    services.revoke_api_token(token=APIToken.objects.get(user=two_projects["a_viewer"]))
    response = _parse(client, two_projects["a"])
    assert response.status_code == 401
    assert response.json()["error"] == "This API token was revoked."


def test_a_deactivated_user_and_a_removed_member_are_refused_next(two_projects, token_client):
    viewer, editor = two_projects["a_viewer"], two_projects["a_editor"]
    viewer_client, editor_client = token_client(viewer), token_client(editor)
    assert _parse(viewer_client, two_projects["a"]).status_code == 200
    assert _parse(editor_client, two_projects["a"]).status_code == 200
    viewer.is_active = False
    viewer.save(update_fields=["is_active"])
    assert _parse(viewer_client, two_projects["a"]).status_code == 401
    Membership.objects.get(user=editor, project=two_projects["a"]).delete()
    assert _parse(editor_client, two_projects["a"]).status_code == 404


def test_a_changed_role_holds_at_once(two_projects, token_client):
    editor = two_projects["a_editor"]
    client = token_client(editor)
    project = two_projects["a"]
    body = {"name": "Kept", "panels": []}
    assert client.post(f"/api/v1/projects/{project.pk}/dashboards/", body,
                       format="json").status_code == 201
    membership = Membership.objects.get(user=editor, project=project)
    membership.role = Role.VIEWER
    membership.save(update_fields=["role"])
    assert client.post(f"/api/v1/projects/{project.pk}/dashboards/", body,
                       format="json").status_code == 403


def test_another_processs_change_is_seen_through_the_generation(two_projects, token_client):
    client = token_client(two_projects["a_viewer"])
    assert _parse(client, two_projects["a"]).status_code == 200
    assert _access_statements(client, two_projects["a"])[1] == []
    access_cache.bump()  # what a write in another process does
    assert len(_access_statements(client, two_projects["a"])[1]) >= 2


def test_an_unknown_token_is_never_kept(two_projects, token_client):
    client = token_client(two_projects["a_viewer"])
    client.credentials(HTTP_AUTHORIZATION="Bearer at_" + "x" * 40)
    for _ in range(2):
        assert _parse(client, two_projects["a"]).status_code == 401
    assert hash_token("at_" + "x" * 40) not in access_cache._tokens


def test_nothing_kept_is_used_past_its_age_whatever_wrote_the_rows(two_projects, token_client,
                                                                    monkeypatch):
    editor = two_projects["a_editor"]
    client = token_client(editor)
    project = two_projects["a"]
    assert _parse(client, project).status_code == 200
    assert _access_statements(client, project)[1] == []
    # A write that sends no signal: not seen while the entry is young ...
    Membership.objects.filter(user=editor, project=project).update(role=Role.VIEWER)
    assert _access_statements(client, project)[1] == []
    # ... and read again once it is older than MAX_AGE_S.
    monkeypatch.setattr(access_cache, "MAX_AGE_S", 0.0)
    status, statements = _access_statements(client, project)
    assert status == 200 and len(statements) >= 2
    body = {"name": "Kept", "panels": []}
    assert client.post(f"/api/v1/projects/{project.pk}/dashboards/", body,
                       format="json").status_code == 403


def test_a_login_or_a_tokens_use_changes_nothing_about_access(two_projects):
    from django.contrib.auth.models import update_last_login
    from django.core.cache import cache

    generation = access_cache.read_generation()
    update_last_login(None, two_projects["a_viewer"])
    assert cache.get(access_cache.GENERATION_KEY) == generation
    two_projects["a_viewer"].is_staff = True
    two_projects["a_viewer"].save()
    assert cache.get(access_cache.GENERATION_KEY) == generation + 1


def test_a_repeated_token_request_asks_redis_twice(two_projects, token_client, settings):
    """Before its view, a kept token's request costs two Redis round trips: the lockout and the
    access generation read together, then the rate limit's script — nothing per table."""
    import threading
    import uuid

    import redis

    client = token_client(two_projects["a_viewer"])
    assert _parse(client, two_projects["a"]).status_code == 200
    watcher = redis.Redis.from_url(settings.REDIS_URL)
    marker = redis.Redis.from_url(settings.REDIS_URL)
    marker.ping()  # connected (and its SELECT sent) before the watching starts
    end = f"end-{uuid.uuid4().hex}"
    database = watcher.connection_pool.connection_kwargs.get("db", 0)
    seen, ready = [], threading.Event()

    def watch():
        with watcher.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                if end in command["command"]:  # the marker: the request's commands are in
                    return
                if command["db"] == database and command.get("client_type") != "lua":
                    seen.append(command["command"].split()[0].upper())

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    assert ready.wait(5)
    assert _parse(client, two_projects["a"]).status_code == 200
    marker.echo(end)
    thread.join(10)
    assert not thread.is_alive()
    assert seen == ["MGET", "EVALSHA"]
