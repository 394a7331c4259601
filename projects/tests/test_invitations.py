"""Inviting people by username or e-mail: the answer never tells whether such a person exists;
the invitee accepts or declines; admins list and revoke what is pending."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from projects import services
from projects.models import Invitation, Membership, Role

pytestmark = pytest.mark.django_db

INVITATION_KEYS = {"id", "identifier", "role", "status", "invited_by", "created_at", "expires_at"}


def _invite(client, project, identifier, role="editor"):
    return client.post(f"/api/v1/projects/{project.pk}/members/",
                       {"username": identifier, "role": role}, format="json")


def _generic(body: dict) -> dict:
    """What may differ between two answers: the id, the times and what the admin typed."""
    return {k: v for k, v in body.items()
            if k not in {"id", "identifier", "created_at", "expires_at"}}


@pytest.mark.parametrize(("existing", "missing"), [
    ("b_admin", "nobody_here"),
    ("b_admin@example.com", "nobody@example.com"),
])
def test_inviting_answers_alike_whether_or_not_the_person_exists(two_projects, token_client,
                                                                 existing, missing):
    a = two_projects["a"]
    client = token_client(two_projects["a_admin"])
    known, unknown = _invite(client, a, existing), _invite(client, a, missing)
    assert known.status_code == unknown.status_code == 201
    assert set(known.json()) == set(unknown.json()) == INVITATION_KEYS
    assert _generic(known.json()) == _generic(unknown.json()) == {
        "role": "editor", "status": "pending", "invited_by": "a_admin"}
    assert (known.json()["identifier"], unknown.json()["identifier"]) == (existing, missing)
    assert set(known.headers) == set(unknown.headers)


def test_no_email_address_appears_unless_the_admin_typed_it(two_projects, token_client):
    a = two_projects["a"]
    client = token_client(two_projects["a_admin"])
    answers = [_invite(client, a, "b_admin"),
               client.get(f"/api/v1/projects/{a.pk}/invitations/"),
               client.get(f"/api/v1/projects/{a.pk}/members/")]
    for response in answers:
        assert response.status_code in {200, 201}
        assert "@" not in response.content.decode()


def test_inviting_a_member_or_a_pending_invitee_answers_alike(two_projects, token_client):
    a = two_projects["a"]
    client = token_client(two_projects["a_admin"])
    member = _invite(client, a, "a_viewer@example.com")
    stranger = _invite(client, a, "stranger@example.com")
    assert member.status_code == stranger.status_code == 201
    assert _generic(member.json()) == _generic(stranger.json())

    again = _invite(client, a, " Stranger@Example.com ", role="viewer")
    assert again.status_code == 201
    assert set(again.json()) == INVITATION_KEYS
    assert (again.json()["id"], again.json()["identifier"], again.json()["role"]) == (
        stranger.json()["id"], "stranger@example.com", "viewer")
    assert Invitation.objects.filter(project=a, status="pending").count() == 2


def test_invitee_sees_accepts_and_becomes_a_member_with_the_role(two_projects, token_client):
    a, b_admin = two_projects["a"], two_projects["b_admin"]
    invitation_id = _invite(token_client(two_projects["a_admin"]), a, "b_admin").json()["id"]
    invitee = token_client(b_admin)
    listing = invitee.get("/api/v1/invitations/")
    assert listing.status_code == 200
    assert [(i["id"], i["project"], i["project_name"], i["role"], i["status"], i["invited_by"])
            for i in listing.json()] == [
        (invitation_id, a.pk, "Alpha", "editor", "pending", "a_admin")]

    accepted = invitee.post(f"/api/v1/invitations/{invitation_id}/accept/")
    assert accepted.status_code == 200
    assert (accepted.json()["status"], accepted.json()["project"]) == ("accepted", a.pk)
    assert Membership.objects.get(project=a, user=b_admin).role == Role.EDITOR
    assert invitee.get(f"/api/v1/projects/{a.pk}/").json()["role"] == "editor"
    assert invitee.get("/api/v1/invitations/").json() == []
    assert token_client(two_projects["a_admin"]).get(
        f"/api/v1/projects/{a.pk}/invitations/").json() == []
    again = invitee.post(f"/api/v1/invitations/{invitation_id}/accept/")
    assert again.status_code == 404


def test_declined_invitation_makes_no_member(two_projects, token_client):
    a, b_admin = two_projects["a"], two_projects["b_admin"]
    invitation_id = _invite(token_client(two_projects["a_admin"]), a, "b_admin").json()["id"]
    invitee = token_client(b_admin)
    declined = invitee.post(f"/api/v1/invitations/{invitation_id}/decline/")
    assert declined.status_code == 200
    assert declined.json()["status"] == "declined"
    assert not Membership.objects.filter(project=a, user=b_admin).exists()
    assert invitee.get("/api/v1/invitations/").json() == []
    assert invitee.post(f"/api/v1/invitations/{invitation_id}/accept/").status_code == 404


def test_admin_revokes_a_pending_invitation(two_projects, token_client):
    a = two_projects["a"]
    admin = token_client(two_projects["a_admin"])
    invitation_id = _invite(admin, a, "b_admin").json()["id"]
    listed = admin.get(f"/api/v1/projects/{a.pk}/invitations/").json()
    assert [(i["id"], i["identifier"], i["status"]) for i in listed] == [
        (invitation_id, "b_admin", "pending")]
    assert admin.delete(f"/api/v1/projects/{a.pk}/invitations/{invitation_id}/").status_code == 204
    assert Invitation.objects.get(pk=invitation_id).status == "revoked"
    invitee = token_client(two_projects["b_admin"])
    assert invitee.get("/api/v1/invitations/").json() == []
    assert invitee.post(f"/api/v1/invitations/{invitation_id}/accept/").status_code == 404
    again = admin.delete(f"/api/v1/projects/{a.pk}/invitations/{invitation_id}/")
    assert again.status_code == 404


def test_user_created_later_with_the_invited_email_sees_the_invitation(two_projects,
                                                                         token_client, make_user):
    a = two_projects["a"]
    invited = _invite(token_client(two_projects["a_admin"]), a, "Carol@Example.com ")
    assert invited.json()["identifier"] == "carol@example.com"
    carol = make_user("carol_r")
    carol.email = "CAROL@example.com"
    carol.save()
    invitee = token_client(carol)
    assert [i["id"] for i in invitee.get("/api/v1/invitations/").json()] == [invited.json()["id"]]
    assert invitee.post(f"/api/v1/invitations/{invited.json()['id']}/accept/").status_code == 200
    assert Membership.objects.get(project=a, user=carol).role == Role.EDITOR


def test_outsider_cannot_see_accept_or_decline_someone_elses_invitation(two_projects,
                                                                         token_client):
    a = two_projects["a"]
    invitation_id = _invite(token_client(two_projects["a_admin"]), a, "b_admin").json()["id"]
    outsider = token_client(two_projects["a_viewer"])
    assert outsider.get("/api/v1/invitations/").json() == []
    for answer in ("accept", "decline"):
        response = outsider.post(f"/api/v1/invitations/{invitation_id}/{answer}/")
        missing = outsider.post(f"/api/v1/invitations/987654/{answer}/")
        assert response.status_code == missing.status_code == 404
        assert response.json()["error"] == missing.json()["error"] == "Invitation not found."
    assert Invitation.objects.get(pk=invitation_id).status == "pending"
    assert Membership.objects.get(project=a, user=two_projects["a_viewer"]).role == Role.VIEWER


def test_member_who_accepts_keeps_their_role(two_projects, token_client):
    a = two_projects["a"]
    invitation_id = _invite(token_client(two_projects["a_admin"]), a, "a_admin",
                            role="viewer").json()["id"]
    response = token_client(two_projects["a_admin"]).post(
        f"/api/v1/invitations/{invitation_id}/accept/")
    assert response.status_code == 200
    assert Membership.objects.get(project=a, user=two_projects["a_admin"]).role == Role.ADMIN


def test_expired_invitation_cannot_be_accepted(two_projects, token_client):
    a = two_projects["a"]
    invitation_id = _invite(token_client(two_projects["a_admin"]), a, "b_admin").json()["id"]
    Invitation.objects.filter(pk=invitation_id).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    invitee = token_client(two_projects["b_admin"])
    assert invitee.get("/api/v1/invitations/").json() == []
    assert invitee.post(f"/api/v1/invitations/{invitation_id}/accept/").status_code == 404
    renewed = _invite(token_client(two_projects["a_admin"]), a, "b_admin")
    assert renewed.json()["id"] == invitation_id
    assert invitee.post(f"/api/v1/invitations/{invitation_id}/accept/").status_code == 200


def test_only_admins_list_invitations_and_only_with_write_scope_accept(two_projects,
                                                                       token_client):
    a = two_projects["a"]
    invitation_id = _invite(token_client(two_projects["a_admin"]), a, "b_admin").json()["id"]
    editor = token_client(two_projects["a_editor"])
    response = editor.get(f"/api/v1/projects/{a.pk}/invitations/")
    assert response.status_code == 403
    assert response.json()["details"] == {"required_role": "admin", "role": "editor"}
    read_only = token_client(two_projects["b_admin"], scopes=["read"])
    refused = read_only.post(f"/api/v1/invitations/{invitation_id}/accept/")
    assert refused.status_code == 403
    assert refused.json()["details"] == {"required_scope": "write", "scopes": ["read"]}


def test_an_identifier_that_is_neither_username_nor_email_is_refused(two_projects,
                                                                     token_client):
    response = _invite(token_client(two_projects["a_admin"]), two_projects["a"], "two words")
    assert response.status_code == 400
    assert response.json() == {"error": "username: Not a username or an e-mail address.",
                               "code": "VALIDATION_ERROR",
                               "details": {"username": ["Not a username or an e-mail address."]}}


def test_a_project_holds_a_bounded_number_of_pending_invitations(two_projects, token_client):
    a = two_projects["a"]
    Invitation.objects.bulk_create(
        Invitation(project=a, identifier=f"guest{i}", role=Role.VIEWER,
                   expires_at=timezone.now() + Invitation.TTL)
        for i in range(services.MAX_PENDING_INVITATIONS))
    client = token_client(two_projects["a_admin"])
    response = _invite(client, a, "one_more")
    assert response.status_code == 409
    assert response.json()["details"] == {"max_pending": services.MAX_PENDING_INVITATIONS}
    assert _invite(client, a, "guest7", role="admin").status_code == 201  # renewing still works


def test_settings_page_lists_pending_invitations_for_admins_only(two_projects):
    a = two_projects["a"]
    services.invite_member(project=a, identifier="dana@example.com", role=Role.EDITOR,
                           invited_by=two_projects["a_admin"])
    admin, viewer = Client(), Client()
    admin.force_login(two_projects["a_admin"])
    viewer.force_login(two_projects["a_viewer"])
    admin_html = admin.get(f"/projects/{a.pk}/settings/").content.decode()
    assert "Pending invitations" in admin_html and "dana@example.com" in admin_html
    assert "a_editor@example.com" not in admin_html
    viewer_html = viewer.get(f"/projects/{a.pk}/settings/").content.decode()
    assert "dana@example.com" not in viewer_html


def test_settings_page_answers_alike_for_existing_and_unknown_people(two_projects):
    a = two_projects["a"]
    client = Client()
    client.force_login(two_projects["a_admin"])
    answers = [client.post(f"/projects/{a.pk}/members/add/",
                           {"username": who, "role": "viewer"}, follow=True)
               for who in ("b_admin", "nobody_here")]
    shown = [[str(m) for m in r.context["messages"]] for r in answers]
    assert shown == [
        ["“b_admin” is invited as viewer: the invitation waits on their Projects page."],
        ["“nobody_here” is invited as viewer: the invitation waits on their Projects page."]]


def test_invitee_declines_from_the_projects_page_and_admin_revokes_from_settings(
        two_projects, make_user):
    a = two_projects["a"]
    declined = services.invite_member(project=a, identifier="b_admin", role=Role.VIEWER,
                                      invited_by=two_projects["a_admin"])
    revoked = services.invite_member(project=a, identifier="eve", role=Role.VIEWER,
                                     invited_by=two_projects["a_admin"])
    invitee = Client()
    invitee.force_login(two_projects["b_admin"])
    assert "Alpha" in invitee.get("/projects/").content.decode()
    response = invitee.post(f"/projects/invitations/{declined.pk}/decline/", follow=True)
    assert "Invitation to “Alpha” declined." in response.content.decode()
    assert "Alpha" not in invitee.get("/projects/").content.decode()

    admin = Client()
    admin.force_login(two_projects["a_admin"])
    response = admin.post(f"/projects/{a.pk}/invitations/{revoked.pk}/revoke/", follow=True)
    assert "Invitation for “eve” revoked." in response.content.decode()
    eve = Client()
    eve.force_login(make_user("eve"))
    assert f"/projects/invitations/{revoked.pk}/" not in eve.get("/projects/").content.decode()
    assert eve.post(f"/projects/invitations/{revoked.pk}/accept/").status_code == 404
    assert not Membership.objects.filter(project=a, user__username__in=["b_admin", "eve"]).exists()
