"""Reads that are not the query engine: the ingest key of a request, a project's goals."""

from __future__ import annotations

import re

import orjson
import psycopg
from django.conf import settings
from django.db.models import QuerySet
from psycopg_pool import PoolTimeout

from analytics_site.errors import ServiceUnavailable
from projects.models import IngestKey as IngestKeyModel

from . import db
from .services import IngestKey

# What keys and site names can look like: anything else is not looked up at all (a NUL, for one,
# would not even reach PostgreSQL).
KEY_SHAPE = re.compile(r"^pk_[A-Za-z0-9_-]{1,61}$")
SITE_SHAPE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?$")


async def ingest_key(raw: str) -> IngestKey | None:
    """The active ingest key with this value, with what the write path needs of its project.
    Read on every request, so a rotated or revoked key stops working at once."""
    if not raw or not raw.startswith(IngestKeyModel.PREFIX) or not KEY_SHAPE.match(raw):
        return None
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
