"""Login, project list and project settings pages."""

import pytest
from django.test import Client

from projects.models import IngestKey, Invitation, Membership

pytestmark = pytest.mark.django_db


def test_pages_need_login(client):
    response = client.get("/projects/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/projects/")


def test_login_then_project_list(make_user, make_project):
    user = make_user("alice")
    make_project("Alpha", owner=user)
    client = Client()
    response = client.post("/login/", {"username": "alice", "password": "pw-alice"}, follow=True)
    assert response.redirect_chain[-1][0] == "/projects/"
    html = response.content.decode()
    assert "Alpha" in html and "admin" in html


def test_wrong_password_shows_an_error(make_user):
    make_user("alice")
    response = Client().post("/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_settings_page_shows_key_snippet_and_members(two_projects):
    a = two_projects["a"]
    client = Client()
    client.force_login(two_projects["a_viewer"])
    html = client.get(f"/projects/{a.pk}/settings/").content.decode()
    key = IngestKey.objects.get(project=a).key
    assert key in html
    assert (f'&lt;script src=&quot;http://testserver/static/sdk/tracker.js&quot; '
            f'data-key=&quot;{key}&quot; defer&gt;&lt;/script&gt;') in html
    for name in ("a_admin", "a_editor", "a_viewer"):
        assert name in html
    assert f"/projects/{a.pk}/members/add/" not in html  # viewers get no admin forms
    assert "@example.com" not in html  # members' e-mail addresses are not shown


def test_viewer_cannot_post_admin_forms(two_projects):
    a = two_projects["a"]
    key = IngestKey.objects.get(project=a)
    client = Client()
    client.force_login(two_projects["a_viewer"])
    assert client.post(f"/projects/{a.pk}/ingest-keys/{key.pk}/rotate/").status_code == 403
    assert client.post(f"/projects/{a.pk}/settings/", {"name": "x"}).status_code == 403
    key.refresh_from_db()
    assert key.rotated_at is None


def test_admin_invites_a_member_who_accepts_and_rotates_the_key(two_projects, make_user):
    a = two_projects["a"]
    newcomer = make_user("newcomer")
    client = Client()
    client.force_login(two_projects["a_admin"])
    response = client.post(f"/projects/{a.pk}/members/add/",
                           {"username": "newcomer", "role": "editor"}, follow=True)
    html = response.content.decode()
    assert ("“newcomer” is invited as editor: the invitation waits on their Projects page."
            in html)
    assert not Membership.objects.filter(project=a, user=newcomer).exists()

    invitee = Client()
    invitee.force_login(newcomer)
    invitation = Invitation.objects.get(project=a, identifier="newcomer")
    listing = invitee.get("/projects/").content.decode()
    assert f"/projects/invitations/{invitation.pk}/accept/" in listing
    response = invitee.post(f"/projects/invitations/{invitation.pk}/accept/", follow=True)
    assert "You joined “Alpha” as editor." in response.content.decode()
    assert Membership.objects.get(project=a, user=newcomer).role == "editor"

    key = IngestKey.objects.get(project=a)
    old = key.key
    response = client.post(f"/projects/{a.pk}/ingest-keys/{key.pk}/rotate/", follow=True)
    key.refresh_from_db()
    assert key.key != old
    assert key.key in response.content.decode()


def test_project_names_are_escaped(make_user, make_project):
    user = make_user()
    make_project("<img src=x onerror=alert(1)>", owner=user)
    client = Client()
    client.force_login(user)
    html = client.get("/projects/").content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
