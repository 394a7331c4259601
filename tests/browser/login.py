"""Logging in through the login page in a browser test (test users' passwords are
pw-<username>, see the root conftest's make_user)."""


def login(page, server, username):
    page.goto(f"{server}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/projects/")
