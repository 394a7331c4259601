"""An ingest key is kept per process under the access generation: a request reads one number from
Redis instead of the key and its project from PostgreSQL, and every write of a key or a project
(rotate, revoke, a new rate or retention) is seen on the next request."""

import pytest
from django.db import connection

from events import selectors
from projects import access_cache, services


@pytest.fixture
def look_up(store):
    """The look-up as a web process makes it: on the writer's event loop and ingest pool."""
    return lambda raw: store.run(selectors.ingest_key(raw))


def _set_rate_behind_the_signals(key_id, rate):
    """A write that sends no signal (raw SQL): only the generation tells the processes."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE projects_ingestkey SET rate_limit_per_s = %s WHERE id = %s",
                       [rate, key_id])


def test_a_kept_key_is_used_until_the_generation_moves(ingest_key, look_up):
    first = look_up(ingest_key.key)
    assert first.id == ingest_key.pk and first.project_id == ingest_key.project_id
    _set_rate_behind_the_signals(ingest_key.pk, 7)
    assert look_up(ingest_key.key) == first  # kept: the row was not read again
    access_cache.bump()
    assert look_up(ingest_key.key).rate_limit_per_s == 7


def test_rotating_revoking_and_a_new_retention_take_effect_on_the_next_request(ingest_key,
                                                                                look_up):
    old_value = ingest_key.key
    assert look_up(old_value).raw_retention_days == ingest_key.project.raw_retention_days
    project = ingest_key.project
    project.raw_retention_days = 3
    project.save()
    assert look_up(old_value).raw_retention_days == 3
    services.rotate_ingest_key(key=ingest_key)
    assert look_up(old_value) is None
    assert look_up(ingest_key.key).id == ingest_key.pk
    services.revoke_ingest_key(key=ingest_key)
    assert look_up(ingest_key.key) is None


def test_without_redis_every_request_reads_the_database(ingest_key, look_up, monkeypatch,
                                                        settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    monkeypatch.setattr(selectors.ratelimit, "_clients", type(selectors.ratelimit._clients)())
    assert look_up(ingest_key.key).id == ingest_key.pk
    _set_rate_behind_the_signals(ingest_key.pk, 9)
    assert look_up(ingest_key.key).rate_limit_per_s == 9
    assert selectors._kept == {}
