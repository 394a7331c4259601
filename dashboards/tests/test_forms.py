"""The HTML forms of the dashboards list (create, rename, import), through the test client: they
are checked by the API's own write serializers, so what the API refuses the page refuses too —
with a message after the redirect, never a 500 — and what passes is saved by the same
services."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboards import services
from dashboards.models import Dashboard

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(client, two_projects):
    client.force_login(two_projects["a_editor"])
    return client


@pytest.fixture
def project(two_projects):
    return two_projects["a"]


def _post(client, url: str, form: dict) -> list[str]:
    """The messages of the list page the form redirects to."""
    response = client.post(url, form, follow=True)
    [(where, status)] = response.redirect_chain
    assert (where.rsplit("/", 2)[-2], status, response.status_code) == ("dashboards", 302, 200)
    return [str(m) for m in response.context["messages"]]


def _document(**panel) -> dict:
    return {"version": 1, "name": "Imported", "description": "", "variables": [],
            "panels": [{"title": "CPU", "type": "line", "query": "avg:cpu{}", "options": {},
                        "x": 0, "y": 0, "w": 6, "h": 4, **panel}]}


def test_a_dashboard_from_the_form_is_created_and_renamed(editor, project):
    response = editor.post(f"/projects/{project.pk}/dashboards/new/", {"name": "  Ops  "})
    dashboard = Dashboard.objects.get(project=project)
    assert response["Location"] == f"/projects/{project.pk}/dashboards/{dashboard.pk}/"
    assert dashboard.name == "Ops"
    assert _post(editor, f"/projects/{project.pk}/dashboards/{dashboard.pk}/rename/",
                 {"name": "Operations"}) == []
    dashboard.refresh_from_db()
    assert dashboard.name == "Operations"


@pytest.mark.parametrize(("name", "said"), [
    ("", "name: This field may not be blank."),
    ("Ops\x00", "name: Null characters are not allowed."),
    ("x" * 101, "name: Ensure this field has no more than 100 characters."),
])
def test_a_name_the_api_refuses_is_a_message(editor, project, name, said):
    assert _post(editor, f"/projects/{project.pk}/dashboards/new/", {"name": name}) == [said]
    assert not Dashboard.objects.exists()
    dashboard = services.create_dashboard(project=project, name="Ops", user=None)
    assert _post(editor, f"/projects/{project.pk}/dashboards/{dashboard.pk}/rename/",
                 {"name": name}) == [said]
    dashboard.refresh_from_db()
    assert dashboard.name == "Ops"


def test_an_uploaded_export_is_imported(editor, project):
    upload = SimpleUploadedFile("export.json", json.dumps(_document()).encode(),
                                content_type="application/json")
    assert _post(editor, f"/projects/{project.pk}/dashboards/import/", {"file": upload}) == [
        "Imported “Imported”."]
    dashboard = Dashboard.objects.get(project=project)
    assert [(p.title, p.query) for p in dashboard.panels.all()] == [("CPU", "avg:cpu{}")]


@pytest.mark.parametrize("text", [
    "{",
    '{"version": 1, "name": "N", "panels": [{"title": "t", "query": "avg:cpu{}", '
    '"options": {"min": NaN}}]}',  # jsonb has no NaN: as strict as the API's parser
    "[" * 100_000,  # deeper than the parser goes
])
def test_what_is_not_json_is_a_message(editor, project, text):
    assert _post(editor, f"/projects/{project.pk}/dashboards/import/", {"json": text}) == [
        "That file is not JSON."]
    assert not Dashboard.objects.exists()


@pytest.mark.parametrize(("document", "said"), [
    (["not", "an", "export"],
     "Not imported: Invalid data. Expected a dictionary, but got list."),
    ({**_document(), "version": 2}, 'Not imported: version: "2" is not a valid choice.'),
    (_document(title="CPU\x00"),
     "Not imported: panels[0].title: Null characters are not allowed."),
    (_document(options={"color": "red"}),
     "Not imported: panels[0].options.color: A colour like #4c6ef5."),
    ({**_document(), "variables": [{"name": "host", "metric": "cpu", "tag": "a b"}]},
     "Not imported: variables[0].tag: A tag key."),
    (_document(x=8), "Not imported: position: the panel must fit the 12-column grid "
                     "(0 ≤ x, x + w ≤ 12, 1 ≤ h ≤ 24)."),
    (_document(query="avg:cpu{"),
     "Not imported: Expected a tag key, found end of query at position 8."),
])
def test_a_document_the_api_refuses_is_a_message_and_nothing_is_kept(editor, project, document,
                                                                     said):
    assert _post(editor, f"/projects/{project.pk}/dashboards/import/",
                 {"json": json.dumps(document)}) == [said]
    assert not Dashboard.objects.exists()
