"""Helpers of the dashboards browser tests."""


def login(page, server, username):
    """Log in through the login page (test users' passwords are pw-<username>)."""
    page.goto(f"{server}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/projects/")
