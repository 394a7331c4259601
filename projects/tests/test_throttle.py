"""Failed logins and invalid API tokens are throttled per account and per client address, with
429 and Retry-After past the limit, on the real Redis."""

import logging
import time

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _login(ip, username, password, path="/login/"):
    return Client(REMOTE_ADDR=ip).post(path, {"username": username, "password": password,
                                              "next": "/projects/"})


def _assert_refused(response, max_wait):
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert 0 < wait <= max_wait
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in response.wsgi_request.session
    return wait


def test_eleventh_attempt_on_an_account_is_refused_even_with_the_right_password(make_user):
    make_user("alice")
    for i in range(10):  # each from another address: the account's limit, not the client's
        response = _login(f"10.0.0.{i}", "alice", "wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    refused = _login("10.0.1.1", "alice", "pw-alice")
    _assert_refused(refused, max_wait=900)
    assert "Try again in 15 minutes." in refused.content.decode()
    assert _login("10.0.1.1", "bob", "whatever").status_code == 200  # other accounts still try


def test_a_client_over_its_limit_is_refused_while_other_clients_log_in(make_user):
    make_user("alice")
    for i in range(20):  # twenty accounts, so no single account reaches its limit
        assert _login("10.1.1.1", f"guess{i}", "wrong").status_code == 200
    _assert_refused(_login("10.1.1.1", "alice", "pw-alice"), max_wait=900)
    response = _login("10.1.1.2", "alice", "pw-alice")
    assert (response.status_code, response["Location"]) == (302, "/projects/")


def test_a_successful_login_resets_the_accounts_counter(make_user):
    make_user("alice")
    for i in range(9):
        assert _login(f"10.2.0.{i}", "alice", "wrong").status_code == 200
    assert _login("10.2.1.0", "alice", "pw-alice").status_code == 302
    for i in range(10):
        assert _login(f"10.2.2.{i}", "alice", "wrong").status_code == 200
    _assert_refused(_login("10.2.3.0", "alice", "pw-alice"), max_wait=900)


def test_the_admin_login_is_throttled_on_the_same_counter(make_user):
    make_user("root", is_staff=True, is_superuser=True)
    for i in range(10):
        response = _login(f"10.3.0.{i}", "root", "wrong", path="/admin/login/")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    _assert_refused(_login("10.3.1.0", "root", "pw-root", path="/admin/login/"), max_wait=900)
    _assert_refused(_login("10.3.1.0", "root", "pw-root"), max_wait=900)


def test_refusals_are_logged_with_account_and_client_never_the_password(make_user, caplog):
    make_user("alice")
    with caplog.at_level(logging.INFO, logger="analytics.security"):
        for _ in range(10):
            _login("10.4.0.1", "alice", "hunter2-wrong")
        _login("10.4.0.1", "alice", "pw-alice")
    records = [r for r in caplog.records if r.name == "analytics.security"]
    refused = [r for r in records if r.getMessage() == "login refused: too many failed logins"]
    assert [(r.account, r.client, r.limited_by, r.path) for r in refused] == [
        ("alice", "10.4.0.1", "account", "/login/")]
    locked = [r for r in records if r.getMessage() == "login locked out"]
    assert [(r.account, r.client, r.limited_by) for r in locked] == [
        ("alice", "10.4.0.1", "account")]
    for record in records:
        text = repr(vars(record))
        assert "hunter2" not in text and "pw-alice" not in text


def test_the_lockout_ends_after_login_lockout_s(make_user, settings):
    settings.LOGIN_LOCKOUT_S = 1
    make_user("alice")
    for _ in range(10):
        _login("10.5.0.1", "alice", "wrong")
    _assert_refused(_login("10.5.0.1", "alice", "pw-alice"), max_wait=1)
    deadline = time.monotonic() + 5
    while (response := _login("10.5.0.1", "alice", "pw-alice")).status_code == 429:
        assert time.monotonic() < deadline, "still locked out after LOGIN_LOCKOUT_S"
        time.sleep(0.1)
    assert response.status_code == 302


def test_logins_fail_open_when_redis_is_unreachable(make_user, settings, caplog):
    make_user("alice")
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    with caplog.at_level(logging.ERROR, logger="analytics.security"):
        for _ in range(12):
            assert _login("10.6.0.1", "alice", "wrong").status_code == 200
        assert _login("10.6.0.1", "alice", "pw-alice").status_code == 302
    assert "throttle counters unreachable; not throttling" in caplog.messages


def _bearer(ip, raw):
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_thirty_first_invalid_token_from_a_client_is_rate_limited(
        make_user, token_client, django_assert_num_queries):
    good = token_client(make_user()).raw_token
    for i in range(30):
        response = _bearer("10.7.0.1", f"at_not-a-token-{i}").get("/api/v1/projects/")
        assert (response.status_code, response.json()["code"]) == (401, "UNAUTHORIZED")
    limited = _bearer("10.7.0.1", "at_not-a-token-30").get("/api/v1/projects/")
    assert limited.status_code == 429
    wait = int(limited["Retry-After"])
    assert 0 < wait <= 60
    assert limited.json() == {
        "error": f"Too many invalid API tokens from this client; retry in {wait} s.",
        "code": "RATE_LIMITED", "details": {"retry_after": wait}}
    with django_assert_num_queries(0):  # refused before the token is looked up
        assert _bearer("10.7.0.1", good).get("/api/v1/projects/").status_code == 429
    assert _bearer("10.7.0.2", good).get("/api/v1/projects/").status_code == 200


def test_token_refusals_are_logged_with_the_client(caplog, db):
    with caplog.at_level(logging.WARNING, logger="analytics.security"):
        for i in range(31):
            _bearer("10.8.0.1", f"at_secret-guess-{i}").get("/api/v1/projects/")
    records = [r for r in caplog.records if r.name == "analytics.security"]
    assert [(r.getMessage(), r.client) for r in records] == [
        ("API token client locked out", "10.8.0.1"),
        ("API token refused: too many invalid tokens", "10.8.0.1")]
    assert "secret-guess" not in repr([vars(r) for r in records])


def test_token_requests_fail_open_when_redis_is_unreachable(make_user, token_client, settings,
                                                             caplog):
    """The lockout and the access generation are read together; when that read fails, each
    fails open as before (logged), and the request is served from the database."""
    client = token_client(make_user())
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    with caplog.at_level(logging.WARNING):
        response = client.get("/api/v1/projects/")
    assert response.status_code == 200, response.content
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("throttle counters unreachable; not throttling") == 1
    assert sum(m.startswith("access generation unreadable") for m in messages) == 1
