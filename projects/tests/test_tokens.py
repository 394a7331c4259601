"""Personal API tokens: stored hashed, shown once, scoped, expiring, revocable."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from projects.models import APIToken

pytestmark = pytest.mark.django_db


def _session_client(user):
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def test_created_token_is_shown_once_and_stored_only_as_its_sha256(make_user):
    user = make_user()
    response = _session_client(user).post(
        "/api/v1/tokens/", {"name": "ci", "scopes": ["read"]}, format="json")
    assert response.status_code == 201
    raw = response.json()["token"]
    assert raw.startswith("at_") and len(raw) > 40
    assert response.json()["prefix"] == raw[:10]

    token = APIToken.objects.get(pk=response.json()["id"])
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM projects_apitoken")
        assert raw not in repr(cursor.fetchall())
    listing = _session_client(user).get("/api/v1/tokens/").json()
    assert "token" not in listing[0]
    assert raw not in repr(listing)


def test_token_authenticates_and_records_last_use(make_user, token_client):
    user = make_user()
    client = token_client(user, scopes=["read"])
    assert APIToken.objects.get(user=user).last_used_at is None
    response = client.get("/api/v1/projects/")
    assert response.status_code == 200
    assert APIToken.objects.get(user=user).last_used_at is not None


def test_expired_token_is_refused_with_401(make_user, token_client):
    user = make_user()
    client = token_client(user, scopes=["read"])
    APIToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/v1/projects/")
    assert response.status_code == 401
    assert response.json() == {"error": "This API token has expired.", "code": "UNAUTHORIZED",
                               "details": {}}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_token_with_future_expiry_works_until_then(make_user, token_client):
    user = make_user()
    client = token_client(user, scopes=["read"])
    APIToken.objects.filter(user=user).update(expires_at=timezone.now() + timedelta(hours=1))
    assert client.get("/api/v1/projects/").status_code == 200


def test_revoked_token_stops_working_at_once(make_user, token_client):
    user = make_user()
    admin_client = token_client(user, scopes=["admin"])
    victim = token_client(user, scopes=["read"])
    victim_id = APIToken.objects.get(user=user, scopes=["read"]).pk
    assert admin_client.delete(f"/api/v1/tokens/{victim_id}/").status_code == 204
    response = victim.get("/api/v1/projects/")
    assert response.status_code == 401
    assert response.json()["error"] == "This API token was revoked."


def test_unknown_token_is_refused(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer at_not-a-real-token")
    response = client.get("/api/v1/projects/")
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"


def test_read_scope_cannot_write(make_user, token_client):
    user = make_user()
    response = token_client(user, scopes=["read"]).post(
        "/api/v1/projects/", {"name": "New"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
    assert response.json()["details"] == {"required_scope": "write", "scopes": ["read"]}


def test_write_scope_cannot_administer(make_user, make_project, token_client):
    user = make_user()
    project = make_project(owner=user)
    client = token_client(user, scopes=["write"])
    response = client.patch(f"/api/v1/projects/{project.pk}/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["details"]["required_scope"] == "admin"
    assert client.post("/api/v1/tokens/", {"name": "n", "scopes": ["admin"]},
                       format="json").status_code == 403


def test_token_creation_validates_scopes_and_expiry(make_user):
    client = _session_client(make_user())
    bad_scope = client.post("/api/v1/tokens/", {"name": "n", "scopes": ["root"]}, format="json")
    assert bad_scope.status_code == 400
    assert bad_scope.json()["code"] == "VALIDATION_ERROR"
    assert "scopes" in bad_scope.json()["details"]
    past = client.post("/api/v1/tokens/", {"name": "n", "scopes": ["read"],
                                           "expires_at": "2020-01-01T00:00:00Z"}, format="json")
    assert past.status_code == 400
    assert past.json()["details"] == {"expires_at": ["Must be in the future."]}


def test_session_api_writes_need_the_csrf_token(make_user):
    user = make_user()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/v1/tokens/", {"name": "n", "scopes": ["read"]}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
    assert "CSRF" in response.json()["error"]


def test_tokens_are_per_user(make_user, token_client):
    alice, bob = make_user("alice"), make_user("bob")
    token_client(bob, scopes=["read"])
    listing = token_client(alice, scopes=["read"]).get("/api/v1/tokens/").json()
    assert [t["name"] for t in listing] == ["test"]
    assert all(APIToken.objects.get(pk=t["id"]).user == alice for t in listing)


def test_admin_shows_a_new_token_once(make_user):
    admin = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    response = client.post("/admin/projects/apitoken/add/", {
        "user": admin.pk, "name": "from admin", "scopes": '["read"]', "expires_at_0": "",
        "expires_at_1": ""}, follow=True)
    assert response.status_code == 200
    token = APIToken.objects.get(name="from admin")
    shown = [str(m) for m in response.context["messages"]]
    assert any(token.prefix in m and "not shown again" in m for m in shown)
    raw = next(m for m in shown if "not shown again" in m).rsplit(" ", 1)[1]
    assert hashlib.sha256(raw.encode()).hexdigest() == token.token_hash
