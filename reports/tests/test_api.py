"""The reports REST API: CRUD of reports, blocks, the schedule (its own beat row) and recipients
with field-level errors and the engine's messages; exports in four formats and a chart's PNG
holding the engine's numbers; run now; "Make a report" from a dashboard's export; roles (viewers
read, editors change) and another project's report 404 everywhere."""

import csv
import io
import json
import zipfile

import openpyxl
import pytest
from asgiref.sync import async_to_sync
from django_celery_beat.models import PeriodicTask
from pypdf import PdfReader

from projects.models import Membership, Role
from reports import runs, services
from reports.models import Report, Run

from .conftest import PAGE_VIEWS, SIGNUPS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api(shop, report, token_client, make_user, make_project):
    editor = make_user("ed")
    Membership.objects.create(project=shop["project"], user=editor, role=Role.EDITOR)
    outsider = make_user("olga")
    make_project("Elsewhere", owner=outsider)
    return {"editor": token_client(editor), "viewer": token_client(shop["viewer"]),
            "outsider": token_client(outsider), "project": shop["project"], "report": report}


def test_create_read_update_duplicate_delete(api):
    project = api["project"]
    created = api["editor"].post(f"/api/v1/projects/{project.pk}/reports/", {
        "title": "Daily", "range": "previous_day", "timezone": "Europe/Paris", "blocks": [
            {"kind": "kpi", "title": "Sign-ups", "query": "count:events{event:signup}"},
            {"kind": "text", "options": {"markdown": "Hello"}}]}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert [(b["position"], b["kind"], b["title"]) for b in body["blocks"]] == [
        (0, "kpi", "Sign-ups"), (1, "text", "")]
    assert (body["effective_timezone"], body["schedule"], body["compare"]) == (
        "Europe/Paris", None, True)
    report_id = body["id"]
    titles = [r["title"] for r in api["viewer"].get(
        f"/api/v1/projects/{project.pk}/reports/").json()]
    assert titles == ["Daily", "Weekly shop"]
    patched = api["editor"].patch(f"/api/v1/reports/{report_id}/", {"title": "Every day",
                                                                     "compare": False},
                                  format="json")
    assert (patched.json()["title"], patched.json()["compare"]) == ("Every day", False)
    copy = api["editor"].post(f"/api/v1/reports/{report_id}/duplicate/")
    assert copy.status_code == 201
    assert copy.json()["title"] == "Copy of Every day" and len(copy.json()["blocks"]) == 2
    assert api["editor"].delete(f"/api/v1/reports/{report_id}/").status_code == 204
    assert not Report.objects.filter(pk=report_id).exists()


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"title": "X", "blocks": [{"kind": "kpi", "query": "count:events{event:"}]}, "position",
     "QUERY_SYNTAX"),
    ({"title": "X", "blocks": [{"kind": "chart", "query": "avg:cpu{}",
                                "options": {"type": "pie"}}]}, "blocks", "VALIDATION_ERROR"),
    ({"title": "X", "timezone": "Mars/Olympus"}, "timezone", "VALIDATION_ERROR"),
    ({"title": "X", "range": "custom"}, "custom_start", "VALIDATION_ERROR"),
    ({"title": "X", "variables": [{"name": "h o", "metric": "cpu", "tag": "host"}]},
     "variables[0].name", "VALIDATION_ERROR"),
    ({"title": 5}, "title", "VALIDATION_ERROR"),
])
def test_bad_input_is_a_400_naming_the_field(api, body, field, code):
    response = api["editor"].post(f"/api/v1/projects/{api['project'].pk}/reports/", body,
                                  format="json")
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == code and field in json.dumps(problem["details"])


def test_blocks_are_added_edited_reordered_and_the_engines_error_shown_in_place(api):
    report = api["report"]
    client = api["editor"]
    ids = list(report.blocks.values_list("pk", flat=True))
    added = client.post(f"/api/v1/reports/{report.pk}/blocks/", {
        "kind": "table", "title": "CPU", "query": "avg:cpu{} by {host}",
        "options": {"mode": "breakdown"}}, format="json")
    assert added.status_code == 201 and added.json()["position"] == len(ids)
    refused = client.patch(f"/api/v1/report-blocks/{added.json()['id']}/",
                           {"query": "avg:cpu{host:web-1"}, format="json")
    assert refused.status_code == 400
    assert (refused.json()["code"], refused.json()["details"]["position"]) == (
        "QUERY_SYNTAX", 18)
    preview = client.post(f"/api/v1/reports/{report.pk}/block-preview/",
                          {"kind": "kpi", "query": "count:events{event:"}, format="json")
    assert preview.status_code == 200 and preview.json()["error"]["code"] == "QUERY_SYNTAX"
    good = client.post(f"/api/v1/reports/{report.pk}/block-preview/",
                       {"kind": "kpi", "query": "count:events{event:signup}"}, format="json")
    assert good.json()["kpi"]["value"] == SIGNUPS
    order = [added.json()["id"], *reversed(ids)]
    moved = client.put(f"/api/v1/reports/{report.pk}/order/", {"order": order}, format="json")
    assert [b["id"] for b in moved.json()] == order
    assert client.put(f"/api/v1/reports/{report.pk}/order/", {"order": ids},
                      format="json").json()["code"] == "VALIDATION_ERROR"
    assert client.delete(f"/api/v1/report-blocks/{ids[0]}/").status_code == 204


def test_a_schedule_is_the_reports_own_beat_row_in_its_time_zone(api):
    report = api["report"]
    answer = api["editor"].put(f"/api/v1/reports/{report.pk}/schedule/",
                               {"kind": "weekly", "weekday": 0, "time": "09:00"}, format="json")
    assert answer.status_code == 200
    assert answer.json()["description"] == "Weekly on Monday at 09:00 (Europe/Paris)"
    assert answer.json()["time"] == "09:00"  # local, no offset
    task = PeriodicTask.objects.get(name=f"report {report.pk}")
    assert (task.task, json.loads(task.args), task.enabled) == (
        "reports.run_scheduled", [report.pk], True)
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week, str(crontab.timezone)) == (
        "0", "9", "1", "Europe/Paris")
    bad = api["editor"].put(f"/api/v1/reports/{report.pk}/schedule/",
                            {"kind": "cron", "cron": "61 * * * *"}, format="json")
    assert bad.status_code == 400 and "cron" in bad.json()["details"]
    assert api["viewer"].put(f"/api/v1/reports/{report.pk}/schedule/", {"kind": "daily"},
                             format="json").status_code == 403
    assert api["editor"].delete(f"/api/v1/reports/{report.pk}/schedule/").status_code == 204
    assert not PeriodicTask.objects.filter(name=f"report {report.pk}").exists()


def test_recipients_are_added_changed_and_removed(api):
    report = api["report"]
    client = api["editor"]
    kpi = report.blocks.get(kind="kpi")
    added = client.post(f"/api/v1/reports/{report.pk}/recipients/", {
        "email": "boss@example.com", "formats": ["xlsx", "csv"], "min_change_percent": 10,
        "condition_block": kpi.pk}, format="json")
    assert added.status_code == 201
    assert added.json()["formats"] == ["csv", "xlsx"]
    again = client.post(f"/api/v1/reports/{report.pk}/recipients/",
                        {"email": "BOSS@example.com"}, format="json")
    assert again.status_code == 400 and again.json()["details"] == {
        "email": ["Already a recipient."]}
    changed = client.patch(f"/api/v1/report-recipients/{added.json()['id']}/",
                           {"formats": ["pdf"], "min_change_percent": None}, format="json")
    assert (changed.json()["formats"], changed.json()["min_change_percent"]) == (["pdf"], None)
    assert [r["email"] for r in api["viewer"].get(
        f"/api/v1/reports/{report.pk}/recipients/").json()] == ["boss@example.com"]
    assert client.delete(
        f"/api/v1/report-recipients/{added.json()['id']}/").status_code == 204


async def _drain(chunks) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def _body(response) -> bytes:
    """A file answer's bytes (the exports stream asynchronously, as daphne serves them)."""
    return async_to_sync(_drain)(response.streaming_content) if response.streaming \
        else response.content


def test_exports_hold_the_engines_numbers_in_four_formats_and_a_png(api):
    report, client = api["report"], api["viewer"]
    base = f"/api/v1/reports/{report.pk}/export"
    zipped = client.get(f"{base}/csv/")
    assert zipped["Content-Type"] == "application/zip"
    assert zipped["Content-Disposition"] == 'attachment; filename="Weekly-shop.zip"'
    with zipfile.ZipFile(io.BytesIO(_body(zipped))) as archive:
        rows = list(csv.reader(io.StringIO(archive.read("03-Events-by-name.csv").decode())))
    assert rows[1:] == [["page_view", f"{PAGE_VIEWS}.0", "", ""],
                        ["signup", f"{SIGNUPS}.0", "", ""]]
    book = openpyxl.load_workbook(io.BytesIO(_body(client.get(f"{base}/xlsx/"))))
    assert book["Sign-ups"]["B2"].value == SIGNUPS
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(
        _body(client.get(f"{base}/pdf/")))).pages)
    assert "Weekly shop" in text and "page_view" in text
    data = json.loads(_body(client.get(f"{base}/json/")))
    assert data["blocks"][0]["kpi"]["value"] == SIGNUPS
    assert client.get(f"{base}/docx/").status_code == 404
    chart = report.blocks.get(kind="chart")
    png = client.get(f"/api/v1/report-blocks/{chart.pk}/png/")
    assert png["Content-Type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    kpi = report.blocks.get(kind="kpi")
    assert client.get(f"/api/v1/report-blocks/{kpi.pk}/png/").status_code == 404


def test_run_now_makes_a_run_that_lists_its_files_and_attempts(api, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    report = api["report"]
    services.add_recipient(report=report, email="team@example.com", formats=["json"])
    started = api["editor"].post(f"/api/v1/reports/{report.pk}/run/")
    assert started.status_code == 202 and started.json()["status"] == "pending"
    assert api["viewer"].post(f"/api/v1/reports/{report.pk}/run/").status_code == 403
    runs.execute(started.json()["id"])
    listed = api["viewer"].get(f"/api/v1/reports/{report.pk}/runs/").json()
    [run] = listed
    assert run["status"] == "sent" and run["attempts"] == 1
    assert [(d["target"], d["ok"], d["attempt"]) for d in run["deliveries"]] == [
        ("team@example.com", True, 1)]
    [attachment] = [f for f in run["files"] if not f["inline"]]
    assert (attachment["name"], attachment["format"]) == ("Weekly-shop.json", "json")
    download = api["viewer"].get(f"/api/v1/report-runs/{run['id']}/files/{attachment['id']}/")
    assert len(download.content) == attachment["size"]
    assert json.loads(download.content)["title"] == "Weekly shop"


def test_make_a_report_from_a_dashboards_export(api):
    project = api["project"]
    exported = {"version": 1, "name": "Hosts", "variables": [
        {"name": "host", "metric": "cpu", "tag": "host", "default": "web-1"}], "panels": [
        {"title": "Load", "type": "stat", "query": "avg:cpu{}", "options": {"unit": "%"},
         "x": 6, "y": 0, "w": 6, "h": 4},
        {"title": "CPU", "type": "area", "query": "avg:cpu{host:$host} by {host}",
         "options": {}, "x": 0, "y": 0, "w": 6, "h": 4},
        {"title": "Hosts", "type": "table", "query": "avg:cpu{} by {host}", "options": {},
         "x": 0, "y": 4, "w": 12, "h": 4}]}
    made = api["editor"].post(f"/api/v1/projects/{project.pk}/reports/from-dashboard/",
                              exported, format="json")
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["title"] == "Hosts"
    assert body["variables"] == [{"name": "host", "metric": "cpu", "tag": "host",
                                  "values": []}]
    assert [(b["kind"], b["title"], b["options"]) for b in body["blocks"]] == [
        ("chart", "CPU", {"type": "area"}), ("kpi", "Load", {"unit": "%"}),
        ("table", "Hosts", {"mode": "breakdown"})]


def test_another_projects_report_is_404_everywhere(api):
    report, outsider = api["report"], api["outsider"]
    block = report.blocks.first()
    recipient = services.add_recipient(report=report, email="x@example.com")
    run = Run.objects.create(report=report, trigger="manual", range_start=report.created_at,
                             range_end=report.created_at)
    for method, path in [
            ("get", f"/api/v1/projects/{report.project_id}/reports/"),
            ("get", f"/api/v1/reports/{report.pk}/"), ("patch", f"/api/v1/reports/{report.pk}/"),
            ("delete", f"/api/v1/reports/{report.pk}/"),
            ("post", f"/api/v1/reports/{report.pk}/duplicate/"),
            ("get", f"/api/v1/reports/{report.pk}/preview/"),
            ("get", f"/api/v1/reports/{report.pk}/data/"),
            ("get", f"/api/v1/reports/{report.pk}/export/csv/"),
            ("put", f"/api/v1/reports/{report.pk}/schedule/"),
            ("get", f"/api/v1/reports/{report.pk}/recipients/"),
            ("post", f"/api/v1/reports/{report.pk}/run/"),
            ("get", f"/api/v1/reports/{report.pk}/runs/"),
            ("patch", f"/api/v1/report-blocks/{block.pk}/"),
            ("get", f"/api/v1/report-blocks/{block.pk}/png/"),
            ("delete", f"/api/v1/report-recipients/{recipient.pk}/"),
            ("get", f"/api/v1/report-runs/{run.pk}/"),
            ("post", f"/api/v1/report-runs/{run.pk}/revoke-link/")]:
        response = getattr(outsider, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
        assert set(response.json()) == {"error", "code", "details"}
    assert Report.objects.filter(pk=report.pk).exists()
