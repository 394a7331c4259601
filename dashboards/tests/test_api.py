"""Dashboards and panels over the REST API: CRUD, roles, scoping, query and layout validation."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def board(two_projects, token_client):
    client = token_client(two_projects["a_editor"])
    a = two_projects["a"]
    dashboard = client.post(f"/api/v1/projects/{a.pk}/dashboards/", {"name": "Web"},
                            format="json").json()
    ids = []
    for title, query in (("Latency", "p95:http.latency_ms{} by {host}"),
                         ("Signups", "count:events{event:signup}")):
        response = client.post(f"/api/v1/dashboards/{dashboard['id']}/panels/",
                               {"title": title, "query": query, "w": 6, "h": 4}, format="json")
        assert response.status_code == 201, response.json()
        ids.append(response.json()["id"])
    return {"client": client, "id": dashboard["id"], "panels": ids}


def test_create_read_rename_duplicate_delete(board, two_projects, token_client):
    client = board["client"]
    body = client.get(f"/api/v1/dashboards/{board['id']}/").json()
    assert body["name"] == "Web"
    # New panels go below the others.
    assert [(p["title"], p["x"], p["y"]) for p in body["panels"]] == [
        ("Latency", 0, 0), ("Signups", 0, 4)]
    renamed = client.patch(f"/api/v1/dashboards/{board['id']}/", {"name": "Web shop"},
                           format="json")
    assert renamed.json()["name"] == "Web shop"
    copy = client.post(f"/api/v1/dashboards/{board['id']}/duplicate/").json()
    assert copy["name"] == "Copy of Web shop"
    assert [p["query"] for p in copy["panels"]] == [p["query"] for p in body["panels"]]
    listed = client.get(f"/api/v1/projects/{two_projects['a'].pk}/dashboards/").json()
    assert [d["name"] for d in listed] == ["Copy of Web shop", "Web shop"]
    assert client.delete(f"/api/v1/dashboards/{copy['id']}/").status_code == 204
    assert client.get(f"/api/v1/dashboards/{copy['id']}/").status_code == 404


def test_viewers_read_outsiders_see_nothing(board, two_projects, token_client):
    viewer = token_client(two_projects["a_viewer"])
    assert viewer.get(f"/api/v1/dashboards/{board['id']}/").status_code == 200
    denied = viewer.patch(f"/api/v1/dashboards/{board['id']}/", {"name": "x"}, format="json")
    assert (denied.status_code, denied.json()["code"]) == (403, "FORBIDDEN")
    outsider = token_client(two_projects["b_admin"])
    for response in (
        outsider.get(f"/api/v1/dashboards/{board['id']}/"),
        outsider.post(f"/api/v1/dashboards/{board['id']}/duplicate/"),
        outsider.patch(f"/api/v1/panels/{board['panels'][0]}/", {"title": "x"}, format="json"),
        outsider.get(f"/api/v1/projects/{two_projects['a'].pk}/dashboards/"),
    ):
        assert response.status_code == 404


def test_panel_queries_and_options_are_checked(board):
    client = board["client"]
    bad = client.post(f"/api/v1/dashboards/{board['id']}/panels/",
                      {"title": "Bad", "query": "avg:cpu{host:a env:b}"}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "QUERY_SYNTAX")
    assert bad.json()["details"] == {"position": 15, "expected": ["}", ","]}
    panel = board["panels"][0]
    ok = client.patch(f"/api/v1/panels/{panel}/", {"type": "stat", "options": {
        "unit": "ms", "thresholds": [{"value": 500, "color": "#e03131"},
                                     {"value": 200, "color": "#f59f00"}]}}, format="json")
    assert ok.json()["options"]["thresholds"][0] == {"value": 200.0, "color": "#f59f00"}
    wrong = client.patch(f"/api/v1/panels/{panel}/", {"options": {"colour": "red"}},
                         format="json")
    assert list(wrong.json()["details"]) == ["options.colour"]
    wrong_type = client.patch(f"/api/v1/panels/{panel}/", {"type": "pie"}, format="json")
    assert list(wrong_type.json()["details"]) == ["type"]


def test_the_anomaly_band_option_is_a_bool_on_line_and_area_panels(board):
    client = board["client"]
    panel = board["panels"][0]
    url = f"/api/v1/panels/{panel}/"
    on = client.patch(url, {"type": "area", "options": {"anomaly_band": True}}, format="json")
    assert (on.status_code, on.json()["options"]) == (200, {"anomaly_band": True})
    for body, status in (
        ({"options": {"anomaly_band": "yes"}}, 400),
        ({"type": "bar", "options": {"anomaly_band": True}}, 400),
        ({"type": "stat"}, 400),  # the stored option stays: a stat panel draws no band
    ):
        wrong = client.patch(url, body, format="json")
        assert (wrong.status_code, wrong.json()["code"], list(wrong.json()["details"])) == (
            status, "VALIDATION_ERROR", ["options.anomaly_band"])
    created = client.post(f"/api/v1/dashboards/{board['id']}/panels/", {
        "title": "Gauge", "query": "avg:cpu{}", "type": "gauge",
        "options": {"anomaly_band": True}}, format="json")
    assert (created.status_code, list(created.json()["details"])) == (
        400, ["options.anomaly_band"])
    off = client.patch(url, {"type": "bar", "options": {"anomaly_band": False}}, format="json")
    assert (off.status_code, off.json()["type"]) == (200, "bar")
    stored = client.get(f"/api/v1/dashboards/{board['id']}/").json()["panels"][0]
    assert (stored["id"], stored["options"]) == (panel, {"anomaly_band": False})


def test_layout_saves_whole_and_refuses_overlaps_and_the_grid_edge(board):
    client, (a, b) = board["client"], board["panels"]
    url = f"/api/v1/dashboards/{board['id']}/layout/"
    saved = client.put(url, [{"id": a, "x": 6, "y": 0, "w": 6, "h": 4},
                             {"id": b, "x": 0, "y": 0, "w": 6, "h": 6}], format="json")
    assert saved.status_code == 200, saved.json()
    assert [(p["id"], p["x"], p["h"]) for p in saved.json()] == [(b, 0, 6), (a, 6, 4)]
    overlap = client.put(url, [{"id": a, "x": 3, "y": 0, "w": 6, "h": 4},
                               {"id": b, "x": 0, "y": 0, "w": 6, "h": 6}], format="json")
    assert overlap.status_code == 400
    assert sorted(overlap.json()["details"]["panels"]) == sorted([a, b])
    outside = client.put(url, [{"id": a, "x": 8, "y": 0, "w": 6, "h": 4},
                               {"id": b, "x": 0, "y": 0, "w": 6, "h": 6}], format="json")
    assert list(outside.json()["details"]) == ["layout[0]"]
    missing = client.put(url, [{"id": a, "x": 0, "y": 0, "w": 6, "h": 4}], format="json")
    assert missing.status_code == 400
    after = client.get(f"/api/v1/dashboards/{board['id']}/").json()["panels"]
    assert [(p["id"], p["x"], p["y"]) for p in after] == [(b, 0, 0), (a, 6, 0)]  # unchanged


def test_variables_are_validated_and_kept_on_duplicate(board):
    client = board["client"]
    url = f"/api/v1/dashboards/{board['id']}/"
    ok = client.patch(url, {"variables": [{"name": "host", "metric": "cpu", "tag": "host"}]},
                      format="json")
    assert ok.json()["variables"] == [{"name": "host", "metric": "cpu", "tag": "host"}]
    twice = client.patch(url, {"variables": [{"name": "h", "metric": "cpu", "tag": "host"},
                                             {"name": "h", "metric": "cpu", "tag": "env"}]},
                         format="json")
    assert list(twice.json()["details"]) == ["variables[1].name"]
    copy = client.post(f"/api/v1/dashboards/{board['id']}/duplicate/").json()
    assert copy["variables"] == [{"name": "host", "metric": "cpu", "tag": "host"}]


def test_export_then_import_gives_the_same_dashboard(board, two_projects, token_client):
    client = board["client"]
    exported = client.get(f"/api/v1/dashboards/{board['id']}/export/")
    assert exported["Content-Disposition"].startswith("attachment")
    body = exported.json()
    assert [p["title"] for p in body["panels"]] == ["Latency", "Signups"]
    a = two_projects["a"]
    imported = client.post(f"/api/v1/projects/{a.pk}/dashboards/import/", body, format="json")
    assert imported.status_code == 201, imported.json()
    again = client.get(f"/api/v1/dashboards/{imported.json()['id']}/export/").json()
    assert again == body
    broken = {**body, "panels": [*body["panels"], {"title": "Bad", "query": "avg:x{"}]}
    refused = client.post(f"/api/v1/projects/{a.pk}/dashboards/import/", broken, format="json")
    assert (refused.status_code, refused.json()["code"], refused.json()["details"]["panel"]) == (
        400, "QUERY_SYNTAX", 2)
    assert len(client.get(f"/api/v1/projects/{a.pk}/dashboards/").json()) == 2  # nothing kept
    viewer = token_client(two_projects["a_viewer"])
    assert viewer.post(f"/api/v1/projects/{a.pk}/dashboards/import/", body,
                       format="json").status_code == 403


def test_annotations_by_range_and_dashboard(board, two_projects, token_client):
    client = board["client"]
    a = two_projects["a"]
    url = f"/api/v1/projects/{a.pk}/annotations/"
    everywhere = client.post(url, {"text": "Deploy 41", "at": "2026-11-20T10:00:00Z"},
                             format="json")
    assert everywhere.status_code == 201, everywhere.json()
    here = client.post(url, {"text": "Incident", "at": "2026-11-21T10:00:00Z",
                             "ends_at": "2026-11-21T11:30:00Z", "dashboard": board["id"]},
                       format="json").json()
    backwards = client.post(url, {"text": "x", "at": "2026-11-21T10:00:00Z",
                                  "ends_at": "2026-11-21T09:00:00Z"}, format="json")
    assert list(backwards.json()["details"]) == ["ends_at"]
    listed = client.get(f"{url}?start=2026-11-21T11:00:00Z&end=2026-11-22T00:00:00Z"
                        f"&dashboard={board['id']}").json()
    assert [x["text"] for x in listed] == ["Incident"]  # the band reaches into the range
    assert [x["text"] for x in client.get(url).json()] == ["Deploy 41", "Incident"]
    viewer = token_client(two_projects["a_viewer"])
    assert viewer.post(url, {"text": "no", "at": "2026-11-20T10:00:00Z"},
                       format="json").status_code == 403
    outsider = token_client(two_projects["b_admin"])
    assert outsider.get(url).status_code == 404
    assert outsider.delete(f"/api/v1/annotations/{here['id']}/").status_code == 404
    assert client.delete(f"/api/v1/annotations/{here['id']}/").status_code == 204


def test_annotation_times_are_stored_in_utc_whatever_their_offset(board, two_projects):
    # PostgreSQL refuses offsets beyond ±15:59 that Python parses: converted before they reach it.
    client = board["client"]
    url = f"/api/v1/projects/{two_projects['a'].pk}/annotations/"
    made = client.post(url, {"text": "Far east", "at": "2026-11-21T10:00:00+21:02",
                             "ends_at": "2026-11-21T12:00:00-17:30"}, format="json")
    assert made.status_code == 201, made.json()
    assert (made.json()["at"], made.json()["ends_at"]) == ("2026-11-20T12:58:00Z",
                                                           "2026-11-22T05:30:00Z")
    listed = client.get(url, {"start": "2026-11-20T12:00:00+21:02",
                              "end": "2026-11-22T00:00:00+21:02"})
    assert [x["text"] for x in listed.json()] == ["Far east"]


@pytest.mark.parametrize(("body", "field"), [
    ({"text": "x", "at": "9999-12-31T23:00:00-05:00"}, "at"),
    ({"text": "x", "at": "0001-01-01T00:30:00+01:00"}, "at"),
    ({"text": "x", "at": "2026-11-21T10:00:00Z", "ends_at": "2026-11-21T10:00:00+24:00"},
     "ends_at"),
    ({"text": "deploy\x00", "at": "2026-11-21T10:00:00Z"}, "text"),
])
def test_annotation_times_and_text_postgresql_cannot_hold_are_refused(board, two_projects, body,
                                                                       field):
    response = board["client"].post(f"/api/v1/projects/{two_projects['a'].pk}/annotations/",
                                    body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert list(response.json()["details"]) == [field]


@pytest.mark.parametrize(("params", "field"), [
    ({"start": "2026-11-21\x00"}, "start"),
    ({"end": "9999-12-31T23:59:00-12:00"}, "end"),
    ({"dashboard": "²"}, "dashboard"),
])
def test_bad_annotation_filters_are_named(board, two_projects, params, field):
    response = board["client"].get(f"/api/v1/projects/{two_projects['a'].pk}/annotations/",
                                   params)
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert list(response.json()["details"]) == [field]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("dashboards/{id}/", {"description": "a\x00b"}, "description"),
    ("dashboards/{id}/", {"variables": [{"name": "host", "metric": "cpu", "tag": "h\x00"}]},
     "variables"),
    ("dashboards/{id}/panels/", {"title": "CPU", "query": "avg:cpu{}",
                                 "options": {"unit\x00": "%"}}, "options"),
    ("panels/{panel}/", {"title": "CPU\x00"}, "title"),
])
def test_nul_characters_in_dashboards_and_panels_are_named(board, path, body, field):
    url = "/api/v1/" + path.format(id=board["id"], panel=board["panels"][0])
    client = board["client"]
    response = client.post(url, body, format="json") if path.endswith("panels/") \
        else client.patch(url, body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert list(response.json()["details"]) == [field]


def test_a_new_dashboard_keeps_the_variables_it_is_created_with(two_projects, token_client):
    client = token_client(two_projects["a_editor"])
    url = f"/api/v1/projects/{two_projects['a'].pk}/dashboards/"
    host = {"name": "host", "metric": "cpu", "tag": "host"}
    made = client.post(url, {"name": "Hosts", "variables": [host]}, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["variables"] == [host]
    refused = client.post(url, {"name": "Bad", "variables": [{**host, "name": "1st"}]},
                          format="json")
    assert (refused.status_code, refused.json()["details"]) == (
        400, {"variables[0].name": ["Letters, digits and _, unique."]})


@pytest.mark.parametrize(("options", "field"), [
    ('{"max": 1' + "0" * 400 + "}", "options.max"),
    ('{"thresholds": [{"value": -1' + "0" * 400 + ', "color": "#e03131"}]}',
     "options.thresholds[0]"),
])
def test_option_numbers_beyond_any_float_are_refused(board, options, field):
    response = board["client"].post(
        f"/api/v1/dashboards/{board['id']}/panels/",
        f'{{"title": "CPU", "query": "avg:cpu{{}}", "options": {options}}}',
        content_type="application/json")
    assert (response.status_code, response.json()["details"]) == (
        400, {field: ["Must be a number."]})


def test_a_panel_moves_only_with_the_layout(board):
    response = board["client"].patch(f"/api/v1/panels/{board['panels'][0]}/",
                                     {"title": "Moved", "x": 6}, format="json")
    assert (response.status_code, response.json()["details"]) == (
        400, {"x": ["Unknown field."]})


def test_a_layout_is_checked_for_shape_then_for_the_dashboard_s_panels(board):
    client, (a, b) = board["client"], board["panels"]
    url = f"/api/v1/dashboards/{board['id']}/layout/"
    second = {"id": b, "x": 6, "y": 0, "w": 6, "h": 4}
    for body, details in (
        ({"id": a}, {"layout": ["A list of {id, x, y, w, h}."]}),
        ([{"id": a, "x": "0", "y": 0, "w": 6, "h": 4}, second],
         {"layout[0]": ["x, y, w and h are integers."]}),
        ([{"id": str(a), "x": 0, "y": 0, "w": 6, "h": 4}, second],
         {"layout": ["Each panel once."], "panels": [a, b]}),
    ):
        response = client.put(url, body, format="json")
        assert (response.status_code, response.json()["details"]) == (400, details)


def test_an_imported_panel_is_refused_by_its_place_before_anything_is_made(board, two_projects):
    client = board["client"]
    a = two_projects["a"]
    body = client.get(f"/api/v1/dashboards/{board['id']}/export/").json()
    body["panels"][1]["options"] = {"color": "red"}
    refused = client.post(f"/api/v1/projects/{a.pk}/dashboards/import/", body, format="json")
    assert (refused.status_code, refused.json()["details"]) == (
        400, {"panels": {"1": {"options.color": ["A colour like #4c6ef5."]}}})
    assert len(client.get(f"/api/v1/projects/{a.pk}/dashboards/").json()) == 1
