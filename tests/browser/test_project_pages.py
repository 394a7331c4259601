"""The login, project list and project settings pages in a real browser."""

import pytest
from playwright.sync_api import expect

from projects.models import IngestKey, Role

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username, password):
    page.goto(f"{live_server.url}/projects/")
    assert "/login/" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/projects/")


def test_log_in_open_a_project_and_copy_its_snippet(page, live_server, make_user, make_project,
                                                     screenshot):
    owner = make_user("maria")
    viewer = make_user("li")
    project = make_project("Storefront", owner=owner, members={viewer: Role.VIEWER})
    make_project("Internal tools", owner=owner)
    make_project("Someone else's", owner=make_user("other"))
    page.goto(f"{live_server.url}/login/")
    screenshot(page, "login")

    _login(page, live_server, "maria", "pw-maria")
    cards = page.locator(".project-card h2").all_inner_texts()
    assert cards == ["Internal tools", "Storefront"]
    screenshot(page, "projects", full_page=True)

    page.click(".project-card >> text=Storefront")
    page.wait_for_url(f"{live_server.url}/projects/{project.pk}/settings/")
    key = IngestKey.objects.get(project=project).key
    assert key in page.inner_text("#snippet")
    copy = page.locator("button[data-copy-target=snippet]")
    copy.click()
    expect(copy).to_have_text("Copied")  # polls: the label goes back to "Copy" after 1.5 s
    members = page.locator("#members-h + .table-wrap tbody tr td:first-child").all_inner_texts()
    assert members == ["li", "maria"]
    screenshot(page, "project-settings", full_page=True)
    assert page.console_errors == []


def test_phone_layout_keeps_the_snippet_readable(page, live_server, make_user, make_project,
                                                 screenshot):
    make_project("Storefront", owner=make_user("maria"))
    page.set_viewport_size({"width": 390, "height": 844})
    _login(page, live_server, "maria", "pw-maria")
    page.click(".project-card >> text=Storefront")
    box = page.locator("#snippet").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390
    screenshot(page, "project-settings-phone", full_page=True)
    assert page.console_errors == []
