"""The web process reuses its connections: Redis through one pool per process (not one per
request thread) and PostgreSQL through psycopg-pool — a request that opened both anew spent
most of a small API answer's time connecting."""

import threading

import pytest
from django.core.cache import caches
from django.db import connection


def test_cache_objects_of_different_threads_share_one_redis_pool():
    pools, clients = [], []

    def look():
        cache = caches["default"]
        cache.set("reuse-probe", 1, 30)
        pools.append(cache._cache._get_connection_pool(True))
        clients.append(cache._cache.get_client(write=True))

    threads = [threading.Thread(target=look) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pools) == 4
    assert len({id(pool) for pool in pools}) == 1  # one pool, however many cache objects
    assert len({id(client) for client in clients}) == 1  # and one client over it
    assert caches["default"].get("reuse-probe") == 1


def _backends(database: str) -> set[int]:
    """The web processes' pooled backends (``analytics-web``): not this process's, nor the
    ingest pools earlier tests of the session left open."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> "
                       "pg_backend_pid() AND backend_type = 'client backend' "
                       "AND application_name = 'analytics-web'", [database])
        return {pid for (pid,) in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_web_process_answers_api_requests_on_pooled_connections(ingest_server, django_user_model):
    """Twenty authenticated API requests to the real web server: the same few PostgreSQL
    backends serve them all, and they stay open between requests."""
    import httpx

    from projects import services

    user = django_user_model.objects.create_user("pool-user", password="x")
    project = services.create_project(name="Pool", owner=user)
    raw = services.create_api_token(user=user, name="t", scopes=["read"])[1]
    database = connection.settings_dict["NAME"]
    seen: set[int] = set()
    with httpx.Client(base_url=ingest_server, timeout=10,
                      headers={"Authorization": f"Bearer {raw}"}) as client:
        for _ in range(20):
            answer = client.get("/api/v1/query/autocomplete",
                                params={"project": project.pk, "kind": "function", "q": "mov"})
            assert answer.status_code == 200, answer.text
            assert [r["value"] for r in answer.json()["results"]][:1] == ["moving_avg"]
            seen |= _backends(database)
    # Without a pool each request opened its own backend (20 pids, each gone at once).
    assert 1 <= len(seen) <= 8
    assert seen & _backends(database)  # still open after the last answer


@pytest.mark.django_db(transaction=True)
def test_web_process_recovers_at_once_when_its_pooled_connections_die(ingest_server,
                                                                       django_user_model):
    """After a PostgreSQL restart every idle connection of a web process's pool is dead. The
    next request must get a live one at once: psycopg-pool's own check loop backed off 1, 2,
    4 s per dead connection after the first (a live page took 7 s to come back)."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from projects import access_cache, services

    user = django_user_model.objects.create_user("pool-dead", password="x")
    project = services.create_project(name="Pool dead", owner=user)
    raw = services.create_api_token(user=user, name="t", scopes=["read"])[1]
    params = {"project": project.pk, "kind": "function", "q": "mov"}
    database = connection.settings_dict["NAME"]

    def web_backends() -> set[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s "
                           "AND application_name = 'analytics-web'", [database])
            return {pid for (pid,) in cursor.fetchall()}

    with httpx.Client(base_url=ingest_server, timeout=30,
                      headers={"Authorization": f"Bearer {raw}"}) as client:
        def ask(_=None):
            return client.get("/api/v1/query/autocomplete", params=params)

        with ThreadPoolExecutor(6) as threads:  # several requests at once grow the pool
            for _ in range(5):
                access_cache.bump()  # each round reads the token and role (kept otherwise)
                assert {a.status_code for a in threads.map(ask, range(6))} == {200}
                if len(web_backends()) >= 3:
                    break
        dead = web_backends()
        assert len(dead) >= 3, dead
        with connection.cursor() as cursor:  # what a restart does to them
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                           "datname = %s AND application_name = 'analytics-web'", [database])
        time.sleep(0.2)
        # The server keeps a token's access answers (projects.access_cache): a change of
        # access makes this request read its token and role again, through the dead pool.
        access_cache.bump()
        started = time.monotonic()
        answer = ask()
        took = time.monotonic() - started
        assert answer.status_code == 200, answer.text
        assert [r["value"] for r in answer.json()["results"]][:1] == ["moving_avg"]
        assert took < 0.9, took  # no backoff: with two dead connections it was ≥ 1 s
        assert web_backends() - dead  # a new connection served it
