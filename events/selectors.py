"""Reads of the write path that are not the query engine."""

from __future__ import annotations

import psycopg
from django.conf import settings
from psycopg_pool import PoolTimeout

from analytics_site.errors import ServiceUnavailable
from projects.models import IngestKey as IngestKeyModel

from . import db
from .services import IngestKey


async def ingest_key(raw: str) -> IngestKey | None:
    """The active ingest key with this value, with what the write path needs of its project.
    Read on every request, so a rotated or revoked key stops working at once."""
    if not raw or not raw.startswith(IngestKeyModel.PREFIX) or len(raw) > 64:
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
    key_id, project_id, origins, rate, retention = row
    return IngestKey(id=key_id, project_id=project_id, allowed_origins=tuple(origins or ()),
                     rate_limit_per_s=settings.INGEST_DEFAULT_RATE_PER_S if rate is None else rate,
                     raw_retention_days=retention)
