"""Management commands operators script against."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from projects import selectors
from projects.models import APIToken, Membership, Project

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_createproject_prints_one_json_object_that_works():
    output = _run("createproject", "Web shop", "--owner", "ops")
    assert output.count("\n") <= 1
    data = json.loads(output)
    assert set(data) == {"project_id", "ingest_key", "api_token"}
    project = Project.objects.get(pk=data["project_id"])
    assert project.name == "Web shop"
    user = get_user_model().objects.get(username="ops")
    assert not user.has_usable_password()
    assert Membership.objects.get(project=project, user=user).role == "admin"
    assert selectors.ingest_key_by_value(data["ingest_key"]).project == project
    assert APIToken.objects.get(user=user).scopes == ["admin"]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {data['api_token']}")
    response = client.get(f"/api/v1/projects/{data['project_id']}/")
    assert response.status_code == 200
    assert response.json()["role"] == "admin"


def test_createproject_reuses_an_existing_owner(make_user):
    owner = make_user("ops")
    data = json.loads(_run("createproject", "Second", "--owner", "ops"))
    assert Project.objects.get(pk=data["project_id"]).memberships.get().user == owner


def test_createproject_rejects_a_blank_name():
    with pytest.raises(CommandError, match="name: may not be blank"):
        _run("createproject", "  ", "--owner", "ops")
    assert not Project.objects.exists()


def test_ensureadmin_uses_admin_password_and_is_idempotent(settings, tmp_path):
    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "boss", "correct horse battery"
    settings.DATA_DIR = tmp_path
    assert "boss (password from ADMIN_PASSWORD)" in _run("ensureadmin")
    _run("ensureadmin")
    users = get_user_model().objects.filter(username="boss")
    assert users.count() == 1
    assert users[0].is_superuser and users[0].check_password("correct horse battery")
    assert not (tmp_path / "admin-password").exists()


def test_ensureadmin_generates_and_keeps_a_password(settings, tmp_path):
    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "boss", ""
    settings.DATA_DIR = tmp_path
    first = _run("ensureadmin")
    password = (tmp_path / "admin-password").read_text().strip()
    assert f"boss / {password}" in first
    assert oct((tmp_path / "admin-password").stat().st_mode & 0o777) == "0o600"
    assert f"boss / {password}" in _run("ensureadmin")
    assert get_user_model().objects.get(username="boss").check_password(password)
