"""Helpers of the dashboards browser tests."""

from tests.browser.login import login

__all__ = ["login"]
