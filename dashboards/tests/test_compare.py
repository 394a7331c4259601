"""A panel's comparison overlay ("compare with" previous period, 1 day or 1 week earlier): the
query text it builds, the option checked on the panels API, and the panel's data endpoint
answering the overlay with last week's values on this week's buckets."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from dashboards import compare, services
from events import rollups

WEEK = 7 * 86400


@pytest.mark.parametrize(("option", "span", "step", "query", "label"), [
    ("previous_period", 86400, 300, "timeshift(avg:cpu{} by {host}, 1d)", "previous 24 h"),
    ("previous_period", 21600, 120, "timeshift(avg:cpu{} by {host}, 6h)", "previous 6 h"),
    ("previous_period", 7 * 86400, 3600, "timeshift(avg:cpu{} by {host}, 1w)",
     "previous 7 days"),
    # A custom range rounds to whole steps, which the engine's timeshift needs.
    ("previous_period", 5000, 15, "timeshift(avg:cpu{} by {host}, 4995s)",
     "previous 1 h 23 min 15 s"),
    ("previous_period", 5400.4, 60, "timeshift(avg:cpu{} by {host}, 90m)", "previous 1 h 30 min"),
    ("1d", 21600, 120, "timeshift(avg:cpu{} by {host}, 1d)", "1 day earlier"),
    ("1w", 86400, 300, "timeshift(avg:cpu{} by {host}, 1w)", "1 week earlier"),
])
def test_the_compare_option_builds_a_timeshift_of_whole_steps(option, span, step, query, label):
    shift = compare.shift_of(option, span_seconds=span, step=step)
    assert shift % step == 0
    assert compare.overlay_query("avg:cpu{} by {host}", shift) == query
    assert compare.label_of(option, shift) == label


@pytest.fixture
def board(two_projects, token_client):
    client = token_client(two_projects["a_editor"])
    dashboard = client.post(f"/api/v1/projects/{two_projects['a'].pk}/dashboards/",
                            {"name": "Shop"}, format="json").json()
    return {"client": client, "id": dashboard["id"], "project": two_projects["a"]}


@pytest.mark.django_db
def test_the_compare_option_is_one_of_four_on_time_series_panels(board):
    client = board["client"]
    url = f"/api/v1/dashboards/{board['id']}/panels/"
    created = client.post(url, {"title": "Orders", "query": "sum:orders{}", "type": "bar",
                                "options": {"compare": "1w"}}, format="json")
    assert (created.status_code, created.json()["options"]) == (201, {"compare": "1w"})
    panel = f"/api/v1/panels/{created.json()['id']}/"
    for body in ({"options": {"compare": "2w"}}, {"options": {"compare": True}},
                 {"options": {"compare": None}}, {"type": "stat"},
                 {"type": "gauge", "options": {"compare": "previous_period"}}):
        wrong = client.patch(panel, body, format="json")
        assert (wrong.status_code, wrong.json()["code"], list(wrong.json()["details"])) == (
            400, "VALIDATION_ERROR", ["options.compare"]), body
    listed = client.patch(panel, {"options": {"compare": "week"}}, format="json").json()
    assert listed["details"]["options.compare"] == ["none", "previous_period", "1d", "1w"]
    table = client.post(url, {"title": "T", "query": "sum:orders{}", "type": "table",
                              "options": {"compare": "1d"}}, format="json")
    assert (table.status_code, list(table.json()["details"])) == (400, ["options.compare"])
    off = client.patch(panel, {"type": "stat", "options": {"compare": "none"}}, format="json")
    assert (off.status_code, off.json()["options"]) == (200, {"compare": "none"})


@pytest.mark.django_db(transaction=True)
def test_the_panel_data_carries_last_weeks_series_on_this_weeks_buckets(board, store):
    project = board["project"]
    project.raw_retention_days = 30  # last week's points are taken as they come
    project.save(update_fields=["raw_retention_days"])
    end = datetime.fromtimestamp(datetime.now(UTC).timestamp() // 3600 * 3600, UTC)
    start = end - timedelta(hours=6)  # 6 h: a 2-minute step
    now_at = [end - timedelta(minutes=m) for m in (20, 80, 140)]
    week = {t - timedelta(seconds=WEEK): v for t, v in zip(now_at, (1.5, 2.0, 3.25), strict=True)}
    before = {t - timedelta(hours=6): v for t, v in zip(now_at, (100, 200, 300), strict=True)}
    points = {**dict(zip(now_at, (10, 20, 30), strict=True)), **week, **before}
    store.points(project, [{"name": "orders", "value": v, "timestamp": t.isoformat()}
                           for t, v in points.items()])
    rollups.fold()
    dashboard = project.dashboards.get(pk=board["id"])
    weekly = services.create_panel(dashboard=dashboard, title="Orders", query="sum:orders{}",
                                   options={"compare": "1w", "anomaly_band": True})
    previous = services.create_panel(dashboard=dashboard, title="Orders", query="sum:orders{}",
                                     options={"compare": "previous_period"})
    ms = {int(t.timestamp() * 1000): v for t, v in zip(now_at, (1.5, 2.0, 3.25), strict=True)}
    ask = {"start": start.isoformat(), "end": end.isoformat()}

    answer = board["client"].get(f"/api/v1/panels/{weekly.pk}/data/", ask).json()
    assert answer["meta"]["resolution"] == 120
    assert {p[0]: p[1] for p in answer["data"][0]["points"] if p[1] is not None} == {
        int(t.timestamp() * 1000): float(v) for t, v in zip(now_at, (10, 20, 30), strict=True)}
    overlay = answer["compare"]
    assert {k: overlay[k] for k in ("option", "label", "shift", "query")} == {
        "option": "1w", "label": "1 week earlier", "shift": "1w",
        "query": "timeshift(sum:orders{}, 1w)"}
    assert overlay["meta"]["resolution"] == 120
    shifted = overlay["data"][0]["points"]
    assert [p[0] for p in shifted] == [p[0] for p in answer["data"][0]["points"]]
    assert {p[0]: p[1] for p in shifted if p[1] is not None} == ms

    # A public link's panel answers the same overlay.
    token = services.create_public_link(dashboard=dashboard)
    public = APIClient().get(f"/public/dashboards/{token}/panels/{weekly.pk}/", ask).json()
    assert public["compare"]["data"] == overlay["data"]

    answer = board["client"].get(f"/api/v1/panels/{previous.pk}/data/", ask).json()
    assert (answer["compare"]["label"], answer["compare"]["query"]) == (
        "previous 6 h", "timeshift(sum:orders{}, 6h)")
    assert {p[0]: p[1] for p in answer["compare"]["data"][0]["points"] if p[1] is not None} == {
        int(t.timestamp() * 1000): float(v) for t, v in zip(now_at, (100, 200, 300), strict=True)}


@pytest.mark.django_db
def test_a_panel_without_the_option_answers_as_the_query_api(board):
    client = board["client"]
    created = client.post(f"/api/v1/dashboards/{board['id']}/panels/",
                          {"title": "Orders", "query": "sum:orders{}"}, format="json").json()
    answer = client.get(f"/api/v1/panels/{created['id']}/data/", {"start": "now-1h"})
    assert answer.status_code == 200
    assert "compare" not in answer.json()
    assert answer.json()["data"] == []
    bad = client.get(f"/api/v1/panels/{created['id']}/data/", {"start": "yesterday"})
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_RANGE")


@pytest.mark.django_db
def test_a_day_earlier_over_a_range_of_week_steps_runs_both_at_a_day(board):
    client = board["client"]
    created = client.post(f"/api/v1/dashboards/{board['id']}/panels/", {
        "title": "Orders", "query": "sum:orders{}", "options": {"compare": "1d"}},
        format="json").json()
    # 350 days would be drawn in weeks, which a shift of one day is not a whole number of.
    answer = client.get(f"/api/v1/panels/{created['id']}/data/", {"start": "now-350d"}).json()
    assert answer["meta"]["resolution"] == 86400
    assert (answer["compare"]["query"], answer["compare"]["meta"]["resolution"]) == (
        "timeshift(sum:orders{}, 1d)", 86400)
