"""The metric catalogue's writes: definitions (description, unit, type) that receivers describe
from their protocol's metadata, and that people edit.

Receivers call ``describe`` once per batch with the names the batch's metadata describes. Its
cost stays off the per-point path: a per-process memo of what was last written per (project,
name) drops what is already known, and what is left (new or changed definitions) is one upsert
statement. A definition a person edited (``edited_at`` set) is never changed by a receiver, and a
receiver's empty field never blanks a known one. The catalogue is bookkeeping: a failure to write
it is logged and never costs the points.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

import orjson
import psycopg
from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone
from psycopg_pool import PoolTimeout

from projects.models import Project

from . import db, freshness
from .models import MetricDefinition
from .names import METRIC_NAME

logger = logging.getLogger(__name__)

# (description, unit, type): what a receiver knows of one metric name.
Definition = tuple[str, str, str]

MEMO_SIZE = 100_000
# Written again after this long, so a definition deleted in the admin comes back.
MEMO_TTL_S = 3600
MAX_DESCRIPTION = 2000
_memo: OrderedDict[tuple[int, str], tuple[Definition, float]] = OrderedDict()

UPSERT = """
INSERT INTO events_metricdefinition AS d (project_id, name, description, unit, type, source,
                                          created_at, updated_at)
SELECT %(project)s, r.name, r.description, r.unit, r.type, %(source)s, now(), now()
FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(name text, description text, unit text, type text)
ORDER BY r.name
ON CONFLICT (project_id, name) DO UPDATE SET
    description = coalesce(nullif(EXCLUDED.description, ''), d.description),
    unit = coalesce(nullif(EXCLUDED.unit, ''), d.unit),
    type = coalesce(nullif(EXCLUDED.type, ''), d.type),
    source = coalesce(nullif(d.source, ''), EXCLUDED.source),
    updated_at = now()
WHERE d.edited_at IS NULL
  AND (coalesce(nullif(EXCLUDED.description, ''), d.description),
       coalesce(nullif(EXCLUDED.unit, ''), d.unit),
       coalesce(nullif(EXCLUDED.type, ''), d.type)) IS DISTINCT FROM (d.description, d.unit, d.type)
RETURNING d.unit
"""


def _clean(definition: Definition) -> Definition:
    description, unit, kind = definition
    unit = "".join(c for c in unit if c.isprintable())[:MetricDefinition.MAX_UNIT].strip()
    return (description.replace("\x00", "")[:MAX_DESCRIPTION].strip(), unit,
            kind if kind in MetricDefinition.Type.values else "")


def _unknown(project_id: int, definitions: dict[str, Definition]) -> dict[str, Definition]:
    now = time.monotonic()
    fresh = {}
    for name, definition in definitions.items():
        known = _memo.get((project_id, name))
        if known is not None and known[0] == definition and now - known[1] < MEMO_TTL_S:
            continue
        if METRIC_NAME.match(name) and any(definition):
            fresh[name] = definition
    return fresh


async def describe(*, project_id: int, source: str, definitions: dict[str, Definition]) -> int:
    """Record what a receiver's metadata says of these metric names; returns how many were
    sent to the database (new or changed since this process last wrote them)."""
    if not definitions:
        return 0
    fresh = _unknown(project_id, {name: _clean(d) for name, d in definitions.items()})
    if not fresh:
        return 0
    rows = [{"name": name, "description": d[0], "unit": d[1], "type": d[2]}
            for name, d in fresh.items()]
    try:
        async with (await db.pool()).connection() as conn:
            units = await (await conn.execute(UPSERT, {
                "project": project_id, "source": source,
                "rows": orjson.dumps(rows).decode()})).fetchall()
    except (psycopg.Error, PoolTimeout) as exc:
        logger.warning("metric definitions not recorded: %s", exc)
        return 0
    if any(unit for unit, in units):  # a written row has a unit (the upsert never clears one)
        await sync_to_async(freshness.bump_catalogue, thread_sensitive=False)(project_id)
    now = time.monotonic()
    for name, definition in fresh.items():
        _memo[(project_id, name)] = (definition, now)
        _memo.move_to_end((project_id, name))
    while len(_memo) > MEMO_SIZE:
        _memo.popitem(last=False)
    return len(fresh)


def edit_definition(*, project, name: str, user, **fields) -> MetricDefinition:
    """A person's edit of ``description``, ``unit`` and/or ``type`` (validated by the caller);
    creates the definition if the metric had none. From now on receivers leave it alone."""
    with transaction.atomic():
        definition, _ = (MetricDefinition.objects.select_for_update()
                         .get_or_create(project=project, name=name))
        for field, value in fields.items():
            setattr(definition, field, value)
        mark_edited(definition, user=user)
        definition.save()
    return definition


def mark_edited(definition: MetricDefinition, *, user) -> None:
    """Mark ``definition`` as a person's (the admin saves it itself)."""
    definition.edited_by = user
    definition.edited_at = timezone.now()


def written(sender, instance: MetricDefinition, **kwargs) -> None:
    """A definition saved or deleted through the ORM (an edit, the admin): answers cached with
    the old units are not read again, once it commits. (Not for the definitions a project's
    deletion takes with it: its answers go with it.)"""
    if isinstance(kwargs.get("origin"), Project):
        return
    transaction.on_commit(lambda: freshness.bump_catalogue(instance.project_id))
