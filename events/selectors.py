"""Reads that are not the query engine: the ingest key of a request, a project's goals."""

from __future__ import annotations

import re
import time

import orjson
import psycopg
from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from psycopg_pool import PoolTimeout
from redis.exceptions import RedisError

from analytics_site.errors import ServiceUnavailable
from projects import access_cache
from projects.models import IngestKey as IngestKeyModel

from . import db
from .ingest import ratelimit
from .kept import Kept
from .services import IngestKey

# What keys and site names can look like: anything else is not looked up at all (a NUL, for one,
# would not even reach PostgreSQL).
KEY_SHAPE = re.compile(r"^pk_[A-Za-z0-9_-]{1,61}$")
SITE_SHAPE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?$")


# raw key -> what the write path needs, under the access generation: see ``ingest_key``.
KEPT_MAX = 20_000  # emptied when full
KEPT_MAX_AGE_S = 30.0
_kept = Kept(max_age_s=KEPT_MAX_AGE_S, max_size=KEPT_MAX)


async def _access_generation() -> int | None:
    """``projects.access_cache``'s generation (bumped by every write of a key or a project, at
    once and when it commits), read with the ingestion's own Redis client; None without Redis."""
    name = cache.make_key(access_cache.GENERATION_KEY)
    try:
        redis = ratelimit.client()
        value = await redis.get(name)
        if value is None:
            await redis.set(name, time.time_ns(), nx=True)
            value = await redis.get(name)
        return int(value)
    except (RedisError, OSError, TypeError, ValueError):
        return None


async def ingest_key(raw: str) -> IngestKey | None:
    """The active ingest key with this value, with what the write path needs of its project.

    Kept per process under the access generation (one Redis round trip instead of a statement
    on a pooled connection, which was 12 % of a web process's samples in py-spy on 1,000-point
    batches; no change in throughput showed beyond the machine's noise) and for at most
    KEPT_MAX_AGE_S; a rotated or revoked key, or a project's changed retention, bumps the
    generation, so it takes effect on the next request in every process. Without Redis every
    request reads the database. Unknown keys are not kept."""
    if not raw or not raw.startswith(IngestKeyModel.PREFIX) or not KEY_SHAPE.match(raw):
        return None
    generation = await _access_generation()
    if (kept := _kept.find(raw, generation)) is not None:
        return kept
    found = await _read_ingest_key(raw)
    if found is not None:
        _kept.keep(raw, generation, found)
    return found


async def _read_ingest_key(raw: str) -> IngestKey | None:
    try:
        async with (await db.pool()).connection() as conn:
            row = await (await conn.execute(
                """SELECT k.id, k.project_id, k.allowed_origins, k.rate_limit_per_s,
                      p.raw_retention_days
               FROM projects_ingestkey k JOIN projects_project p ON p.id = k.project_id
               WHERE k.key = %s AND k.revoked_at IS NULL""", [raw])).fetchone()
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise ServiceUnavailable("Storage is unavailable; retry later.", retry_after=5) from exc
    if row is None:
        return None
    return _key_info(*row)


def _key_info(key_id: int, project_id: int, origins: list | None, rate: int | None,
              retention: int) -> IngestKey:
    return IngestKey(id=key_id, project_id=project_id, allowed_origins=tuple(origins or ()),
                     rate_limit_per_s=settings.INGEST_DEFAULT_RATE_PER_S if rate is None else rate,
                     raw_retention_days=retention)


def ingest_key_of(project) -> IngestKey | None:
    """What the write path needs of the project's active ingest key (for server-side writers
    such as the demo data), read with the ORM."""
    from projects.selectors import active_ingest_key

    key = active_ingest_key(project)
    if key is None:
        return None
    return _key_info(key.pk, project.pk, key.allowed_origins, key.rate_limit_per_s,
                     project.raw_retention_days)


async def ingest_key_for_site(domain: str) -> IngestKey | None:
    """The active ingest key that allows the site ``domain`` as an origin (https or http) —
    how a Plausible-style event, which carries a domain and no key, finds its project."""
    if not domain or not SITE_SHAPE.match(domain.lower()):
        return None
    origins = [orjson.dumps([f"{scheme}://{domain.lower()}"]).decode()
               for scheme in ("https", "http")]
    try:
        async with (await db.pool()).connection() as conn:
            row = await (await conn.execute(
                """SELECT k.key FROM projects_ingestkey k
                   WHERE k.revoked_at IS NULL
                     AND (k.allowed_origins @> %s::jsonb OR k.allowed_origins @> %s::jsonb)
                   ORDER BY k.id LIMIT 1""", origins)).fetchone()
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise ServiceUnavailable("Storage is unavailable; retry later.", retry_after=5) from exc
    return await ingest_key(row[0]) if row else None


def goals_of(project) -> QuerySet:
    """The project's goals, by name."""
    from .models import Goal

    return Goal.objects.filter(project=project).order_by("name", "id")
