"""Roles inside a project, and ingest keys: create, rotate (old value dies), revoke."""

import pytest

from projects import selectors
from projects.models import IngestKey, Membership, Role

pytestmark = pytest.mark.django_db


def test_new_project_makes_its_creator_admin_with_one_active_key(make_user, token_client):
    user = make_user()
    response = token_client(user, scopes=["write"]).post(
        "/api/v1/projects/", {"name": "Shop", "timezone": "Europe/Paris"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["slug"], body["timezone"], body["role"]) == (
        "Shop", "shop", "Europe/Paris", "admin")
    assert (body["raw_retention_days"], body["minute_rollup_retention_days"],
            body["hour_rollup_retention_days"]) == (7, 30, 365)
    keys = IngestKey.objects.filter(project_id=body["id"])
    assert keys.count() == 1 and keys[0].key.startswith("pk_")


def test_bad_timezone_is_a_validation_error_naming_the_field(make_user, token_client):
    response = token_client(make_user(), scopes=["write"]).post(
        "/api/v1/projects/", {"name": "Shop", "timezone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert list(response.json()["details"]) == ["timezone"]


def test_viewer_reads_but_cannot_change(two_projects, token_client):
    a = two_projects["a"]
    client = token_client(two_projects["a_viewer"], scopes=["admin"])
    assert client.get(f"/api/v1/projects/{a.pk}/members/").status_code == 200
    response = client.post(f"/api/v1/projects/{a.pk}/members/",
                           {"username": "b_admin", "role": "viewer"}, format="json")
    assert response.status_code == 403
    assert response.json()["details"] == {"required_role": "admin", "role": "viewer"}


def test_admin_invites_then_changes_and_removes_a_member(two_projects, token_client):
    a = two_projects["a"]
    client = token_client(two_projects["a_admin"])
    invited = client.post(f"/api/v1/projects/{a.pk}/members/",
                          {"username": "b_admin@example.com", "role": "editor"}, format="json")
    assert invited.status_code == 201
    assert (invited.json()["identifier"], invited.json()["role"], invited.json()["status"]) == (
        "b_admin@example.com", "editor", "pending")
    assert not Membership.objects.filter(project=a, user=two_projects["b_admin"]).exists()

    accepted = token_client(two_projects["b_admin"]).post(
        f"/api/v1/invitations/{invited.json()['id']}/accept/")
    assert accepted.status_code == 200
    member = Membership.objects.get(project=a, user=two_projects["b_admin"])
    assert member.role == Role.EDITOR
    changed = client.patch(f"/api/v1/projects/{a.pk}/members/{member.pk}/", {"role": "viewer"},
                           format="json")
    assert changed.json() == {"id": member.pk, "user": two_projects["b_admin"].pk,
                              "username": "b_admin", "role": "viewer",
                              "created_at": changed.json()["created_at"]}
    assert client.delete(f"/api/v1/projects/{a.pk}/members/{member.pk}/").status_code == 204
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_member_list_shows_usernames_and_no_email_addresses(two_projects, token_client):
    a = two_projects["a"]
    response = token_client(two_projects["a_admin"]).get(f"/api/v1/projects/{a.pk}/members/")
    assert response.status_code == 200
    assert [(m["username"], m["role"]) for m in response.json()] == [
        ("a_admin", "admin"), ("a_editor", "editor"), ("a_viewer", "viewer")]
    assert all(set(m) == {"id", "user", "username", "role", "created_at"}
               for m in response.json())
    assert "@" not in response.content.decode()


def test_last_admin_cannot_leave_or_be_demoted(two_projects, token_client):
    a = two_projects["a"]
    mine = Membership.objects.get(project=a, user=two_projects["a_admin"])
    client = token_client(two_projects["a_admin"])
    for response in (
        client.delete(f"/api/v1/projects/{a.pk}/members/{mine.pk}/"),
        client.patch(f"/api/v1/projects/{a.pk}/members/{mine.pk}/", {"role": "editor"},
                     format="json"),
    ):
        assert response.status_code == 409
        assert response.json()["error"] == "A project needs at least one admin."
    mine.refresh_from_db()
    assert mine.role == Role.ADMIN


def test_rotation_kills_the_old_value_at_once(two_projects, token_client):
    a = two_projects["a"]
    key = IngestKey.objects.get(project=a)
    old = key.key
    response = token_client(two_projects["a_admin"]).post(
        f"/api/v1/projects/{a.pk}/ingest-keys/{key.pk}/rotate/")
    assert response.status_code == 200
    new = response.json()["key"]
    assert new != old and new.startswith("pk_")
    assert response.json()["rotated_at"] is not None
    assert selectors.ingest_key_by_value(old) is None
    assert selectors.ingest_key_by_value(new).pk == key.pk


def test_revoked_key_stops_working_and_cannot_be_rotated(two_projects, token_client):
    a = two_projects["a"]
    key = IngestKey.objects.get(project=a)
    client = token_client(two_projects["a_admin"])
    revoked = client.post(f"/api/v1/projects/{a.pk}/ingest-keys/{key.pk}/revoke/")
    assert revoked.json()["is_active"] is False
    assert selectors.ingest_key_by_value(key.key) is None
    again = client.post(f"/api/v1/projects/{a.pk}/ingest-keys/{key.pk}/rotate/")
    assert again.status_code == 409


def test_key_origins_are_validated_per_position(two_projects, token_client):
    a = two_projects["a"]
    response = token_client(two_projects["a_admin"]).post(
        f"/api/v1/projects/{a.pk}/ingest-keys/",
        {"name": "web", "allowed_origins": ["https://shop.example.com", "javascript:alert(1)"]},
        format="json")
    assert response.status_code == 400
    assert response.json()["details"] == {"allowed_origins": {
        "1": ["'javascript:alert(1)' is not an origin like https://app.example.com."]}}
    ok = token_client(two_projects["a_admin"]).post(
        f"/api/v1/projects/{a.pk}/ingest-keys/",
        {"name": "web", "allowed_origins": ["https://Shop.example.com/"]}, format="json")
    assert ok.status_code == 201
    assert ok.json()["allowed_origins"] == ["https://shop.example.com"]


def test_project_settings_update_and_bounds(two_projects, token_client):
    a = two_projects["a"]
    client = token_client(two_projects["a_admin"])
    ok = client.patch(f"/api/v1/projects/{a.pk}/", {"raw_retention_days": 14}, format="json")
    assert ok.json()["raw_retention_days"] == 14
    bad = client.patch(f"/api/v1/projects/{a.pk}/", {"raw_retention_days": 0}, format="json")
    assert bad.status_code == 400
    assert list(bad.json()["details"]) == ["raw_retention_days"]
    rollups_too_short = client.patch(f"/api/v1/projects/{a.pk}/",
                                     {"minute_rollup_retention_days": 10}, format="json")
    assert rollups_too_short.status_code == 400
    assert rollups_too_short.json()["code"] == "VALIDATION_ERROR"
    assert list(rollups_too_short.json()["details"]) == ["minute_rollup_retention_days"]
    bad_zone = client.patch(f"/api/v1/projects/{a.pk}/", {"timezone": "Mars/Base"},
                            format="json")
    assert bad_zone.status_code == 400
    assert list(bad_zone.json()["details"]) == ["timezone"]
