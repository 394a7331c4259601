"""What an API-token request needs to know before its view runs — the token, its user, their role
in the project it names — remembered per web process while nothing about access has changed.

Each token request looked up its token (with the user) and then the caller's membership in the
project: two statements, and a pooled connection checked out for them, which were most of what a
small API read cost besides the engine. Here both answers are kept per process under the *access
generation*: one number in Redis, read once per token request, and bumped by every write of a
token, a user, a membership, a project or an ingest key (``events.selectors`` keeps ingest keys
under it the same way) — at once and again when the write commits, so a request
that read the old rows in between cannot keep them past the commit. A revoked or expired token, a
deactivated user, a removed member or a changed role is therefore refused on the next request in
every process. A write that sends no signal (``queryset.update()``, ``bulk_create``, raw SQL,
another program) must call ``bump()``; and whatever such a write, a lost bump (Redis away at that
moment) or a Redis restored to an older number could leave behind, no entry is used longer than
``MAX_AGE_S`` after it was read from the database. Only what was found is kept (an unknown
token or a stranger's project is looked up each time, and costs the caller its lockout as
before; a kept token's revocation, expiry and user are checked on every request); each request
gets model instances of its own, made from copies of the kept field values. With Redis out of
reach nothing is kept and every request reads the database, as before.
"""

from __future__ import annotations

import copy
import logging
import time
from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from .models import APIToken, IngestKey, Membership, Project

logger = logging.getLogger(__name__)

GENERATION_KEY = "access:generation"
MAX_ENTRIES = 20_000  # per map; emptied when full
MAX_AGE_S = 30.0
# Saves that change nothing about access (a login's time, a token's last use).
UNWATCHED_FIELDS = frozenset({"last_login", "last_used_at"})

# token hash -> (generation, kept at, token fields, user fields)
_tokens: dict[str, tuple[int, float, dict, dict]] = {}
# (user, project) -> (generation, kept at, project fields, role)
_roles: dict[tuple[int, int], tuple[int, float, dict, str]] = {}
# The generation this request read (None: not a token request, or no Redis).
_current: ContextVar[int | None] = ContextVar("access_generation", default=None)


def _fields(instance) -> dict:
    return copy.deepcopy({f.attname: getattr(instance, f.attname)
                          for f in instance._meta.concrete_fields})


def _fresh(found) -> bool:
    generation = _current.get()
    return (found is not None and generation is not None and found[0] == generation
            and time.monotonic() - found[1] < MAX_AGE_S)


def _made(model, fields: dict):
    instance = model(**copy.deepcopy(fields))  # its own lists and dicts (scopes, …)
    instance._state.adding = False
    instance._state.db = "default"
    return instance


def read_generation(*, read: tuple[int | None] | RedisError | None = None) -> int | None:
    """The access generation, now (None without Redis: then nothing is kept or used). A lost key
    starts again from the clock, never from a number an older entry could carry. ``read``: the
    value the caller just fetched from ``GENERATION_KEY`` along with its own keys (one round
    trip), as a 1-tuple, or the error that read met; None to fetch it here."""
    try:
        if isinstance(read, RedisError):
            raise read
        generation = cache.get(GENERATION_KEY) if read is None else read[0]
        if generation is None:
            cache.add(GENERATION_KEY, time.time_ns(), None)
            generation = cache.get(GENERATION_KEY)
    except RedisError as exc:
        logger.warning("access generation unreadable; reading tokens from the database: %s", exc)
        generation = None
    _current.set(generation)
    return generation


def token(digest: str) -> APIToken | None:
    """The kept token of this hash, with its user, if kept under the generation just read."""
    found = _tokens.get(digest)
    if not _fresh(found):
        return None
    kept = _made(APIToken, found[2])
    kept.user = _made(get_user_model(), found[3])
    return kept


def keep_token(digest: str, found: APIToken) -> None:
    generation = _current.get()
    if generation is None:
        return
    if len(_tokens) >= MAX_ENTRIES:
        _tokens.clear()
    _tokens[digest] = (generation, time.monotonic(), _fields(found), _fields(found.user))


def used(digest: str, last_used_at) -> None:
    """The token's use was recorded: keep its new time, so the next request does not write it
    again."""
    found = _tokens.get(digest)
    if found is not None:
        found[2]["last_used_at"] = last_used_at


def role(user_id: int, project_id: int) -> tuple[Project, str] | None:
    found = _roles.get((user_id, project_id))
    if not _fresh(found):
        return None
    return _made(Project, found[2]), found[3]


def keep_role(user_id: int, project: Project, role_name: str) -> None:
    generation = _current.get()
    if generation is None:
        return
    if len(_roles) >= MAX_ENTRIES:
        _roles.clear()
    _roles[(user_id, project.pk)] = (generation, time.monotonic(), _fields(project), role_name)


def forget() -> None:
    """This request is not a token request: it neither reads nor keeps anything."""
    _current.set(None)


def bump() -> None:
    """Every process's kept answers are stale."""
    try:
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # no key yet: a fresh start from the clock
            cache.add(GENERATION_KEY, time.time_ns(), None)
    except RedisError as exc:
        # Other processes find out within MAX_AGE_S; this one at once.
        logger.error("access generation not bumped: %s", exc)
        _tokens.clear()
        _roles.clear()


def changed(sender, update_fields=None, **kwargs) -> None:
    """A token, user, membership, project or ingest key was written: now, and again once it
    commits."""
    if update_fields and set(update_fields) <= UNWATCHED_FIELDS:
        return
    bump()
    transaction.on_commit(bump)


def migrated(**kwargs) -> None:
    """A migration may have written any of them (with models that send no signal)."""
    bump()


WATCHED = (APIToken, Membership, Project, IngestKey)  # ingest keys: events.selectors
