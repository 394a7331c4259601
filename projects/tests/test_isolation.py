"""A member of project A sees nothing of project B: every endpoint and page answers 404, exactly
as for an id that does not exist, and B is left unchanged."""

import pytest
from django.test import Client

from projects import selectors, services
from projects.models import IngestKey, Invitation, Membership, Project

pytestmark = pytest.mark.django_db


def _b_objects(two_projects):
    b = two_projects["b"]
    membership = Membership.objects.get(project=b)
    key = IngestKey.objects.get(project=b)
    token, _ = services.create_api_token(user=two_projects["b_admin"], name="b", scopes=["read"])
    services.invite_member(project=b, identifier="someone@example.com", role="viewer",
                           invited_by=two_projects["b_admin"])
    return b, membership, key, token


def _api_calls(b, membership, key, token, a):
    p = f"/api/v1/projects/{b.pk}"
    invitation = Invitation.objects.get(project=b)
    return [
        ("get", f"{p}/", None),
        ("patch", f"{p}/", {"name": "pwned"}),
        ("delete", f"{p}/", None),
        ("get", f"{p}/members/", None),
        ("post", f"{p}/members/", {"username": "a_viewer", "role": "admin"}),
        ("patch", f"{p}/members/{membership.pk}/", {"role": "viewer"}),
        ("delete", f"{p}/members/{membership.pk}/", None),
        ("get", f"{p}/invitations/", None),
        ("delete", f"{p}/invitations/{invitation.pk}/", None),
        ("post", f"/api/v1/invitations/{invitation.pk}/accept/", None),
        ("post", f"/api/v1/invitations/{invitation.pk}/decline/", None),
        ("get", f"{p}/ingest-keys/", None),
        ("post", f"{p}/ingest-keys/", {"name": "mine"}),
        ("get", f"{p}/ingest-keys/{key.pk}/", None),
        ("patch", f"{p}/ingest-keys/{key.pk}/", {"name": "mine"}),
        ("post", f"{p}/ingest-keys/{key.pk}/rotate/", None),
        ("post", f"{p}/ingest-keys/{key.pk}/revoke/", None),
        ("delete", f"/api/v1/tokens/{token.pk}/", None),
        # B's objects under A's URL must not be reachable either.
        ("get", f"/api/v1/projects/{a.pk}/ingest-keys/{key.pk}/", None),
    ]


def _cross_parent_writes(membership, key, a):
    """Writes that an admin of A may make in A, aimed at B's objects through A's URLs."""
    return [
        ("patch", f"/api/v1/projects/{a.pk}/members/{membership.pk}/", {"role": "viewer"}),
        ("delete", f"/api/v1/projects/{a.pk}/members/{membership.pk}/", None),
        ("patch", f"/api/v1/projects/{a.pk}/ingest-keys/{key.pk}/", {"name": "x"}),
        ("post", f"/api/v1/projects/{a.pk}/ingest-keys/{key.pk}/rotate/", None),
        ("post", f"/api/v1/projects/{a.pk}/ingest-keys/{key.pk}/revoke/", None),
        ("delete", f"/api/v1/projects/{a.pk}/invitations/"
                   f"{Invitation.objects.get(project=membership.project).pk}/", None),
    ]


@pytest.mark.parametrize("who", ["a_viewer", "a_admin"])
def test_every_api_endpoint_of_another_project_answers_404(two_projects, token_client, who):
    b, membership, key, token = _b_objects(two_projects)
    client = token_client(two_projects[who], scopes=["admin"])
    calls = _api_calls(b, membership, key, token, two_projects["a"])
    if who == "a_admin":
        calls += _cross_parent_writes(membership, key, two_projects["a"])
    for method, url, body in calls:
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json()["code"] == "NOT_FOUND", (method, url)

    b.refresh_from_db()
    assert b.name == "Beta"
    assert Membership.objects.get(pk=membership.pk).role == "admin"
    assert selectors.ingest_key_by_value(key.key) == key
    assert IngestKey.objects.filter(project=b).count() == 1
    assert not Membership.objects.filter(project=b, user=two_projects["a_viewer"]).exists()
    assert not Invitation.objects.filter(project=b, identifier="a_viewer").exists()
    assert Invitation.objects.get(project=b).status == "pending"
    token.refresh_from_db()
    assert token.revoked_at is None


def test_project_list_holds_only_the_callers_projects(two_projects, token_client, make_project):
    make_project("Gamma")
    response = token_client(two_projects["a_viewer"], scopes=["read"]).get("/api/v1/projects/")
    assert response.status_code == 200
    assert [(p["name"], p["role"]) for p in response.json()] == [("Alpha", "viewer")]


def test_unknown_project_id_and_foreign_id_answer_alike(two_projects, token_client):
    client = token_client(two_projects["a_viewer"], scopes=["read"])
    foreign = client.get(f"/api/v1/projects/{two_projects['b'].pk}/")
    missing = client.get("/api/v1/projects/987654/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"] == missing.json()["error"] == "Project not found."


def test_pages_of_another_project_answer_404(two_projects):
    b = two_projects["b"]
    membership = Membership.objects.get(project=b)
    key = IngestKey.objects.get(project=b)
    invitation = services.invite_member(project=b, identifier="someone", role="viewer",
                                        invited_by=two_projects["b_admin"])
    client = Client()
    client.force_login(two_projects["a_admin"])
    assert client.get(f"/projects/{b.pk}/settings/").status_code == 404
    posts = [
        (f"/projects/{b.pk}/settings/", {"name": "pwned", "timezone": "UTC"}),
        (f"/projects/{b.pk}/members/add/", {"username": "a_admin", "role": "admin"}),
        (f"/projects/{b.pk}/members/{membership.pk}/role/", {"role": "viewer"}),
        (f"/projects/{b.pk}/members/{membership.pk}/remove/", {}),
        (f"/projects/{b.pk}/ingest-keys/{key.pk}/rotate/", {}),
        (f"/projects/{two_projects['a'].pk}/ingest-keys/{key.pk}/rotate/", {}),
        (f"/projects/{two_projects['a'].pk}/members/{membership.pk}/remove/", {}),
        (f"/projects/{b.pk}/invitations/{invitation.pk}/revoke/", {}),
        (f"/projects/{two_projects['a'].pk}/invitations/{invitation.pk}/revoke/", {}),
        (f"/projects/invitations/{invitation.pk}/accept/", {}),
        (f"/projects/invitations/{invitation.pk}/decline/", {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 404, url
    b.refresh_from_db()
    assert b.name == "Beta"
    assert selectors.ingest_key_by_value(key.key) == key
    assert Membership.objects.filter(pk=membership.pk, role="admin").exists()
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_project_list_page_shows_only_own_projects(two_projects):
    client = Client()
    client.force_login(two_projects["a_viewer"])
    html = client.get("/projects/").content.decode()
    assert "Alpha" in html
    assert "Beta" not in html


def test_staff_admin_sees_only_projects_they_administer(two_projects, make_user):
    from django.contrib.auth.models import Permission

    staff = two_projects["a_admin"]
    staff.is_staff = True
    staff.save()
    staff.user_permissions.set(Permission.objects.filter(
        content_type__app_label="projects"))
    client = Client()
    client.force_login(staff)
    a, b = two_projects["a"], two_projects["b"]

    listing = client.get("/admin/projects/project/").content.decode()
    assert "Alpha" in listing and "Beta" not in listing
    keys = client.get("/admin/projects/ingestkey/").content.decode()
    assert IngestKey.objects.get(project=a).key[:12] in keys
    assert IngestKey.objects.get(project=b).key[:12] not in keys

    assert client.get(f"/admin/projects/project/{a.pk}/change/").status_code == 200
    assert client.get(f"/admin/projects/project/{b.pk}/change/").status_code == 404
    b_key = IngestKey.objects.get(project=b)
    assert client.get(f"/admin/projects/ingestkey/{b_key.pk}/change/").status_code == 404
    b_member = Membership.objects.get(project=b)
    assert client.get(f"/admin/projects/membership/{b_member.pk}/change/").status_code == 404
    deleted = client.post(f"/admin/projects/project/{b.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 404
    assert Project.objects.filter(pk=b.pk).exists()
