"""A dashboard in headless Chromium against the real server: every panel drawn from the query
engine, a panel dragged and still there after a reload, a failed save rolled back with a
message, and the list page's create / duplicate / delete."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from dashboards import services
from dashboards.models import Dashboard, Panel
from events import rollups
from projects.models import Role
from tests.browser.login import login

pytestmark = pytest.mark.slow




@pytest.fixture
def board(store, ingest, make_user, make_project):
    owner = make_user("maria")
    project = make_project("Storefront", owner=owner, members={make_user("vik"): Role.VIEWER})
    now = datetime.now(UTC)
    store.points(project, [
        {"name": "http.latency_ms", "value": 20 + (i % 7) * 5, "tags": {"host": f"web-{i % 3}"},
         "timestamp": (now - timedelta(minutes=i)).isoformat()} for i in range(120)])
    store.events(project, [{"event": "signup", "distinct_id": f"u{i}",
                            "timestamp": (now - timedelta(minutes=3 * i)).isoformat()}
                           for i in range(10)])
    rollups.fold()
    dashboard = services.create_dashboard(project=project, name="API health", user=owner)
    for title, kind, query, options, box in (
        ("Latency by host", "line", "avg:http.latency_ms{} by {host}", {}, (0, 0, 6, 4)),
        ("p95 latency", "stat", "p95:http.latency_ms{}",
         {"unit": "ms", "thresholds": [{"value": 40, "color": "#e03131"}]}, (6, 0, 3, 4)),
        ("Latency gauge", "gauge", "avg:http.latency_ms{}", {"max": 100}, (9, 0, 3, 4)),
        ("Sign-ups", "bar", "count:events{event:signup}", {}, (0, 4, 4, 4)),
        ("Hosts", "table", "max:http.latency_ms{} by {host}", {"calculation": "max"},
         (4, 4, 4, 4)),
        ("Heat", "heatmap", "avg:http.latency_ms{} by {host}", {}, (8, 4, 4, 4)),
    ):
        services.create_panel(dashboard=dashboard, title=title, type=kind, query=query,
                              options=options, x=box[0], y=box[1], w=box[2], h=box[3])
    return project, dashboard


def test_every_panel_is_drawn(page, ingest_server, board, screenshot):
    project, dashboard = board
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{dashboard.pk}/?range=6h")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    for kind in ("line", "stat", "gauge", "bar", "heatmap"):
        expect(page.locator(f"[data-type={kind}] .main-svg").first).to_be_attached()
    assert page.locator("[data-type=stat] .stat").inner_text().endswith(" ms")
    assert page.locator("[data-type=table] tbody tr").count() == 3
    assert page.locator(".panel-status.error").count() == 0
    screenshot(page, "dashboard", full_page=True)
    assert page.console_errors == []


def _drag(page, handle, dx, dy):
    page.locator(handle).scroll_into_view_if_needed()
    box = page.locator(handle).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=5)
    page.mouse.move(x + dx, y + dy, steps=5)
    page.mouse.up()


def test_a_dragged_panel_stays_where_it_was_dropped(page, ingest_server, board):
    project, dashboard = board
    bar = Panel.objects.get(dashboard=dashboard, title="Sign-ups")
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{dashboard.pk}/")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    column = page.locator("#dashboard").bounding_box()["width"] / 12
    _drag(page, f"[data-panel='{bar.pk}'] .panel-drag", 0, 4 * 76)  # four rows down
    expect(page.locator("#dashboard")).to_have_attribute("data-saves", "1")
    bar.refresh_from_db()
    assert (bar.x, bar.y) == (0, 8)
    page.reload()
    style = page.locator(f"[data-panel='{bar.pk}']").get_attribute("style")
    assert "grid-row: 9 / span 4" in style
    _drag(page, f"[data-panel='{bar.pk}'] .panel-resize", column * 2, 0)  # two columns wider
    expect(page.locator("#dashboard")).to_have_attribute("data-saves", "1")
    bar.refresh_from_db()
    assert (bar.x, bar.y, bar.w) == (0, 8, 6)
    assert page.console_errors == []


def test_a_failed_save_is_rolled_back_with_a_message(page, ingest_server, board):
    project, dashboard = board
    bar = Panel.objects.get(dashboard=dashboard, title="Sign-ups")
    page.route("**/layout/", lambda route: route.fulfill(
        status=500, content_type="application/json",
        body='{"error": "Internal error.", "code": "INTERNAL_ERROR", "details": {}}'))
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{dashboard.pk}/")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    _drag(page, f"[data-panel='{bar.pk}'] .panel-drag", 0, 4 * 76)
    expect(page.locator("#layout-error")).to_contain_text("Could not save the layout")
    row = page.locator(f"[data-panel='{bar.pk}']").evaluate(
        "el => getComputedStyle(el).gridRowStart")
    assert row == "5"  # back where it was
    bar.refresh_from_db()
    assert (bar.x, bar.y) == (0, 4)


def test_viewers_cannot_drag_and_the_list_page_manages_dashboards(page, ingest_server, board):
    project, dashboard = board
    login(page, ingest_server, "vik")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{dashboard.pk}/")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    assert page.locator(".panel-drag").count() == 0
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/")
    assert page.locator("form[action$='/dashboards/new/']").count() == 0

    page.context.clear_cookies()
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/")
    page.fill("input[name=name]", "Checkout funnel")
    page.click("text=Create dashboard")
    page.wait_for_url("**/dashboards/*/")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/")
    page.locator("tr", has_text="API health").locator("text=Duplicate").click()
    expect(page.locator(".message")).to_contain_text("Copy of API health")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("tr", has_text="Checkout funnel").locator("text=Delete").click()
    expect(page.locator(".message")).to_contain_text("Deleted")
    assert sorted(Dashboard.objects.filter(project=project).values_list("name", flat=True)) == [
        "API health", "Copy of API health"]
    assert Panel.objects.filter(dashboard__name="Copy of API health").count() == 6


def test_a_variable_changes_every_panel_and_lives_in_the_url(page, ingest_server, board):
    project, dashboard = board
    services.update_dashboard(dashboard=dashboard, variables=[
        {"name": "host", "metric": "http.latency_ms", "tag": "host"}])
    Panel.objects.filter(dashboard=dashboard, title="Hosts").update(
        query="max:http.latency_ms{host:$host} by {host}")
    Panel.objects.filter(dashboard=dashboard, title="Latency by host").update(
        query="avg:http.latency_ms{host:$host} by {host}")
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{dashboard.pk}/")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    assert page.locator("[data-type=table] tbody tr").count() == 3
    expect(page.locator("details.variable summary")).to_have_text("$host: All")
    page.click("details.variable summary")
    page.check("input[name=var-host][value=web-1]")
    page.wait_for_url("**var-host=web-1**")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    assert page.locator("[data-type=table] tbody td:first-child").all_inner_texts() == [
        "host:web-1"]
    traces = page.locator("[data-type=line] .legendtext").all_inner_texts()
    assert traces in ([], ["host:web-1"])  # one series: no legend, or a legend of one
    expect(page.locator("details.variable summary")).to_have_text("$host: web-1")
    assert page.console_errors == []


def test_drag_to_zoom_narrows_the_range_for_every_panel(page, ingest_server, board):
    project, dashboard = board
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{dashboard.pk}/?range=6h")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    area = page.locator("[data-type=line] .nsewdrag").first.bounding_box()
    y = area["y"] + area["height"] / 2
    page.mouse.move(area["x"] + area["width"] * 0.6, y)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.9, y, steps=8)
    page.mouse.up()
    page.wait_for_url("**from=**")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    expect(page.locator("a.zoomed")).to_be_visible()
    from urllib.parse import parse_qs, urlsplit

    asked = parse_qs(urlsplit(page.url).query)
    start, end = (datetime.fromisoformat(asked[k][0].replace("Z", "+00:00"))
                  for k in ("from", "to"))
    assert timedelta(minutes=20) < end - start < timedelta(hours=3)  # 30 % of six hours
    assert page.console_errors == []


def test_export_and_import_from_the_pages(page, ingest_server, board, tmp_path):
    project, dashboard = board
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{dashboard.pk}/")
    with page.expect_download() as download:
        page.click("text=Export JSON")
    path = tmp_path / "export.json"
    download.value.save_as(path)
    Dashboard.objects.filter(pk=dashboard.pk).delete()
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/")
    page.set_input_files("input[type=file]", str(path))
    page.click("button:has-text('Import')")
    expect(page.locator(".message")).to_contain_text("Imported “API health”")
    imported = Dashboard.objects.get(project=project)
    assert imported.panels.count() == 6


def test_a_public_link_shows_the_dashboard_and_nothing_else(page, ingest_server, board,
                                                            token_client):
    project, dashboard = board
    owner_api = token_client(project.memberships.get(role=Role.ADMIN).user)
    link = owner_api.post(f"/api/v1/dashboards/{dashboard.pk}/public-link/")
    assert link.status_code == 201
    url = link.json()["url"].replace("http://testserver", ingest_server)
    assert Dashboard.objects.get(pk=dashboard.pk).public_token_hash != link.json()["token"]

    response = page.goto(url)  # not logged in
    assert response.headers["referrer-policy"] == "no-referrer"
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    assert page.locator(".panel-status.error").count() == 0
    expect(page.locator("[data-type=line] .main-svg").first).to_be_attached()
    text = page.locator("body").inner_text()
    assert "Storefront" not in text and "Export JSON" not in text
    assert page.locator(".panel-drag, nav").count() == 0

    token = link.json()["token"]
    other = services.create_dashboard(project=project, name="Private", user=None)
    secret = services.create_panel(dashboard=other, title="Secret", query="count:events{}")
    base = f"{ingest_server}/public/dashboards/{token}"
    assert page.request.get(f"{base}/panels/{secret.pk}/").status == 404
    assert page.request.get(f"{ingest_server}/api/v1/query").status in (401, 403, 405)
    assert owner_api.delete(f"/api/v1/dashboards/{dashboard.pk}/public-link/").status_code == 204
    assert page.goto(url).status == 404
    first = dashboard.panels.first()
    assert page.request.get(f"{base}/panels/{first.pk}/").status == 404


def test_annotations_are_drawn_and_added_by_hand(page, ingest_server, board):
    from dashboards.models import Annotation

    project, dashboard = board
    services.create_annotation(project=project, text="Deploy 41",
                               at=datetime.now(UTC) - timedelta(hours=1))
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{dashboard.pk}/?range=6h")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    for kind in ("line", "bar"):
        assert page.locator(f"[data-type={kind}] .shapelayer path").count() >= 1

    page.on("dialog", lambda dialog: dialog.accept("Deploy 42"))
    page.click("#annotate")
    area = page.locator("[data-type=line] .nsewdrag").first.bounding_box()
    page.mouse.click(area["x"] + area["width"] * 0.95, area["y"] + area["height"] / 2)
    expect(page.locator("#annotate")).to_have_text("Add annotation")
    added = Annotation.objects.get(text="Deploy 42")
    assert added.dashboard_id == dashboard.pk
    assert datetime.now(UTC) - added.at < timedelta(hours=1)
    assert page.console_errors == []


def test_the_panel_editor_previews_marks_errors_and_saves(page, ingest_server, board,
                                                         screenshot):
    project, dashboard = board
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{dashboard.pk}/")
    page.click("text=Add panel")
    page.wait_for_url("**/panels/new/")
    page.fill("input[name=title]", "Worst host")
    page.fill("textarea[name=query]", "max:http.latency_ms{host:web-1 env:prod}")
    expect(page.locator("#query-error .error")).to_contain_text("position 31")
    assert page.locator("#query-error .caret").inner_text().splitlines()[1] == " " * 31 + "^"
    page.fill("textarea[name=query]", "max:http.latency_ms{} by {host}")
    expect(page.locator("#query-error")).to_be_hidden()
    expect(page.locator("#preview .main-svg").first).to_be_attached()
    expect(page.locator("#preview-meta")).to_contain_text("3 series")
    page.select_option("select[name=type]", "table")
    expect(page.locator("#preview tbody tr")).to_have_count(3)
    page.select_option("select[name=type]", "line")
    expect(page.locator("#preview .main-svg").first).to_be_attached()
    screenshot(page, "panel-editor", full_page=True)
    page.select_option("select[name=type]", "table")
    page.click("text=Save panel")
    page.wait_for_url(f"**/dashboards/{dashboard.pk}/")
    saved = Panel.objects.get(dashboard=dashboard, title="Worst host")
    assert (saved.type, saved.query) == ("table", "max:http.latency_ms{} by {host}")
    expect(page.locator(f"[data-panel='{saved.pk}'] tbody tr")).to_have_count(3)

    page.click(f"[data-panel='{saved.pk}'] .panel-edit")
    page.fill("input[name=title]", "Hottest host")
    page.fill("input[name=unit]", "ms")
    page.click("text=Save panel")
    page.wait_for_url(f"**/dashboards/{dashboard.pk}/")
    saved.refresh_from_db()
    assert (saved.title, saved.options["unit"]) == ("Hottest host", "ms")
    # The browser logs the preview's 400 for the bad query; nothing else may fail.
    assert [e for e in page.console_errors if "status of 400" not in e] == []


def test_new_points_reach_a_subscribed_panel_without_a_refresh(page, ingest_server, board):
    import httpx

    from projects.models import IngestKey

    project, dashboard = board
    live = services.create_panel(dashboard=dashboard, title="Live gauge", type="stat",
                                 query="last:live.gauge{}", x=0, y=12, w=4, h=3)
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{dashboard.pk}/")  # refresh off
    expect(page.locator("#live-state")).to_have_attribute("data-state", "connected")
    expect(page.locator(f"[data-panel='{live.pk}'] .panel-status")).to_contain_text(
        "No metric named 'live.gauge'")
    key = IngestKey.objects.get(project=project).key
    response = httpx.post(f"{ingest_server}/api/v1/metrics", headers={"X-API-Key": key},
                          json={"name": "live.gauge", "value": 42})
    assert response.status_code == 202
    # What the worker does every 2 s (in a thread of its own here: Playwright keeps an event
    # loop in this one); the fold announces the new data to the page.
    folding = threading.Thread(target=rollups.fold)
    folding.start()
    folding.join(30)
    expect(page.locator(f"[data-panel='{live.pk}'] .stat")).to_have_text("42", timeout=5000)
    expect(page.locator("#live-state .age")).to_contain_text("updated")
    assert page.console_errors == []


def _send_point(ingest_server, project, name, value):
    import httpx

    from projects.models import IngestKey

    key = IngestKey.objects.get(project=project).key
    response = httpx.post(f"{ingest_server}/api/v1/metrics", headers={"X-API-Key": key},
                          json={"name": name, "value": value})
    assert response.status_code == 202


def _fold():
    # What the worker does every 2 s, in a thread of its own (Playwright keeps an event loop in
    # this one); the fold announces the new data to the pages.
    folding = threading.Thread(target=rollups.fold)
    folding.start()
    folding.join(30)


def test_a_custom_range_applies_to_every_panel_and_is_checked(page, ingest_server, board):
    from urllib.parse import parse_qs, urlsplit

    project, dashboard = board
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{dashboard.pk}/?range=6h")
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    page.click("#custom-range summary")
    page.fill("#range-from", "2026-01-02T10:00")
    page.fill("#range-to", "2026-01-02T09:00")
    page.click("#range-apply")
    expect(page.locator("#range-error")).to_have_text("From must be before To.")
    assert "from=" not in page.url
    # The browser's zone is UTC (Playwright's default): local input = UTC instant.
    page.fill("#range-to", "2026-01-02T12:30")
    page.click("#range-apply")
    page.wait_for_url("**from=**")
    asked = parse_qs(urlsplit(page.url).query)
    assert (asked["from"], asked["to"], asked["refresh"]) == (
        ["2026-01-02T10:00:00.000Z"], ["2026-01-02T12:30:00.000Z"], ["off"])
    expect(page.locator("#dashboard")).to_have_attribute("data-drawn", "true")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "paused")
    x_range = page.evaluate(
        "() => document.querySelector('[data-type=line] .plot')._fullLayout.xaxis.range")
    # The axis spans the asked range, to whole buckets of the step the engine chose.
    assert x_range[0].startswith("2026-01-02 10:00")
    assert "2026-01-02 12:30" <= x_range[1][:16] <= "2026-01-02 13:00"
    assert page.locator("#range-from").input_value() == "2026-01-02T10:00"
    assert page.console_errors == []


def test_a_cut_socket_goes_yellow_then_green_with_what_arrived_meanwhile(page, ingest_server,
                                                                         board):
    project, dashboard = board
    live = services.create_panel(dashboard=dashboard, title="Live gauge", type="stat",
                                 query="last:live.gauge{}", x=0, y=12, w=4, h=3)
    _send_point(ingest_server, project, "live.gauge", 1)
    _fold()
    cut = {"on": False, "routes": []}

    def route(ws):
        if cut["on"]:
            ws.close(code=1011, reason="cut by the test")
            return
        ws.connect_to_server()
        cut["routes"].append(ws)

    page.route_web_socket("**/ws/projects/**", route)
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{dashboard.pk}/")
    stat = page.locator(f"[data-panel='{live.pk}'] .stat")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "connected")
    expect(stat).to_have_text("1")

    cut["on"] = True
    cut["routes"][-1].close(code=1006, reason="network")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator("#live-state .label")).to_contain_text("Reconnecting")
    _send_point(ingest_server, project, "live.gauge", 7)  # while the page is cut off
    _fold()
    page.wait_for_timeout(2500)  # at least one refused reconnect
    assert page.locator("#live-state").get_attribute("data-state") == "reconnecting"
    assert stat.inner_text() == "1"  # nothing reached the page meanwhile

    cut["on"] = False
    expect(page.locator("#live-state")).to_have_attribute("data-state", "connected",
                                                          timeout=15000)
    expect(stat).to_have_text("7")  # the point that arrived meanwhile, drawn on reconnect
    assert [e for e in page.console_errors if "WebSocket" not in e] == []


def test_without_websockets_the_page_polls(page, ingest_server, board):
    project, dashboard = board
    live = services.create_panel(dashboard=dashboard, title="Live gauge", type="stat",
                                 query="last:live.gauge{}", x=0, y=12, w=4, h=3)
    _send_point(ingest_server, project, "live.gauge", 1)
    _fold()
    page.route_web_socket("**/ws/projects/**",
                          lambda ws: ws.close(code=1008, reason="blocked by a proxy"))
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{dashboard.pk}/")  # refresh off
    stat = page.locator(f"[data-panel='{live.pk}'] .stat")
    expect(stat).to_have_text("1")
    _send_point(ingest_server, project, "live.gauge", 5)
    _fold()
    # Three refused sockets (about 3.5 s), then a poll every 10 s (refresh is off).
    expect(stat).to_have_text("5", timeout=20000)
    assert page.locator("#live-state").get_attribute("data-state") == "reconnecting"
