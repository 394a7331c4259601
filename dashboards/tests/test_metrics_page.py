"""The metrics explorer page through the test client: members only (404 for anyone else), the
definition editable for editors and read-only for viewers, the "Add to dashboard" and "Create
alert" links only for those who may use them, and the panel editor and the alert rule form
prefilled from those links."""

import json
import re

import pytest

from dashboards import services

pytestmark = pytest.mark.django_db


def _page(client, user, project):
    client.force_login(user)
    return client.get(f"/projects/{project.pk}/metrics/")


def test_outsiders_get_not_found_and_strangers_the_login(client, two_projects):
    project = two_projects["a"]
    anonymous = client.get(f"/projects/{project.pk}/metrics/")
    assert (anonymous.status_code, anonymous["Location"]) == (
        302, f"/login/?next=/projects/{project.pk}/metrics/")
    assert _page(client, two_projects["b_admin"], project).status_code == 404
    assert client.get("/projects/999999/metrics/").status_code == 404


def test_viewers_see_the_definition_read_only_and_no_links(client, two_projects):
    project = two_projects["a"]
    services.create_dashboard(project=project, name="Ops", user=two_projects["a_admin"])
    response = _page(client, two_projects["a_viewer"], project)
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["can_edit"] is False
    for read_only in ('<dd id="metric-description">', '<dd id="metric-unit">',
                      '<dd id="metric-type">'):
        assert read_only in html
    # (The chart's query box is for viewers too: it edits nothing.)
    for control in ("metric-definition", '<textarea id="metric-description"', 'name="unit"',
                    "<select id=\"metric-type\"", "add-to-dashboard", "create-alert", "Ops"):
        assert control not in html
    assert '<textarea id="metric-query-text"' in html
    # The nav names the page, current.
    assert re.search(rf'<a href="/projects/{project.pk}/metrics/" aria-current="page">Metrics</a>',
                     html)


def test_editors_get_the_editors_and_the_links(client, two_projects):
    project = two_projects["a"]
    ops = services.create_dashboard(project=project, name="Ops", user=two_projects["a_admin"])
    other = services.create_dashboard(project=two_projects["b"], name="Theirs",
                                      user=two_projects["b_admin"])
    response = _page(client, two_projects["a_editor"], project)
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["can_edit"] is True
    assert '<form id="metric-definition"' in html
    assert '<textarea id="metric-description" name="description"' in html
    assert '<input id="metric-unit" name="unit" maxlength="32" list="metric-units"' in html
    assert re.findall(r'<select id="metric-type" name="type">(.*?)</select>', html) == [
        '<option value="">—</option><option value="gauge">Gauge</option>'
        '<option value="counter">Counter</option><option value="rate">Rate</option>'
        '<option value="distribution">Distribution</option><option value="set">Set</option>']
    assert '<option value="ms"></option>' in html  # the known units, suggested
    # Only this project's dashboards, each to its new-panel page.
    assert re.findall(r'<select id="metric-dashboard">(.*?)</select>', html) == [
        f'<option value="/projects/{project.pk}/dashboards/{ops.pk}/panels/new/">Ops</option>']
    assert other.name not in html
    assert (f'<a id="create-alert" href="/projects/{project.pk}/alerts/new/" '
            f'data-base="/projects/{project.pk}/alerts/new/">Create alert</a>') in html


def test_an_editor_without_dashboards_is_offered_to_create_one(client, two_projects):
    project = two_projects["a"]
    html = _page(client, two_projects["a_editor"], project).content.decode()
    assert "add-to-dashboard" not in html
    assert f'<a href="/projects/{project.pk}/dashboards/">create one</a>' in html


def test_the_panel_editor_and_the_rule_form_take_a_prefilled_query(client, two_projects):
    project = two_projects["a"]
    ops = services.create_dashboard(project=project, name="Ops", user=two_projects["a_admin"])
    client.force_login(two_projects["a_editor"])
    query = "avg:checkout.latency{}"
    panel = client.get(f"/projects/{project.pk}/dashboards/{ops.pk}/panels/new/",
                       {"title": "checkout.latency", "query": query})
    assert (panel.context["panel"]["title"], panel.context["panel"]["query"]) == (
        "checkout.latency", query)
    rule = client.get(f"/projects/{project.pk}/alerts/new/",
                      {"name": "checkout.latency", "query": query})
    assert (rule.context["rule_data"]["name"], rule.context["rule_data"]["query"]) == (
        "checkout.latency", query)
    # As data for the page's script (escaped), not markup.
    script = re.search(r'<script id="rule-data" type="application/json">(.*?)</script>',
                       rule.content.decode()).group(1)
    assert json.loads(script)["query"] == query
    # Without them, empty as before.
    plain = client.get(f"/projects/{project.pk}/alerts/new/")
    assert (plain.context["rule_data"]["name"], plain.context["rule_data"]["query"]) == ("", "")
