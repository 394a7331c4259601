"""Cumulative counters as increases. The engine adds a counter's points over a bucket (``sum:``,
``rate:``), so receivers that get running totals (OTLP cumulative sums, Prometheus counters and
histogram buckets) store the increase since the series' previous report. The previous totals
live in Redis for a day, per project and series. A smaller total or a new start marker is a
reset (the new total counts from zero); the first report of a series only sets the baseline,
unless ``fresh`` says the process just started (then everything it counted is new)."""

from __future__ import annotations

import logging
import math
from typing import Protocol

import orjson

from .ratelimit import client as redis_client

logger = logging.getLogger(__name__)
STATE_TTL_S = 86400


class Totals[Settled](Protocol):
    """A decoded report holding running totals (OTLP's ``Decoded``, Prometheus' ``Collected``
    and ``RemoteWrite``); settled, it gives what is stored (points as dicts, or ``Columns``)."""

    def entries(self) -> list[tuple[str, int, list[float], bool]]: ...

    def settle(self, increases: list[list[float] | None]) -> Settled: ...


async def settle[Settled](report: Totals[Settled], project_id: int) -> Settled:
    """The report's points, its running totals turned into the increases since the previous
    report of each series."""
    return report.settle(await increases(redis_client(), project_id, report.entries()))


async def increases(redis, project_id: int, entries: list[tuple[str, int, list[float], bool]]
                    ) -> list[list[float] | None]:
    """``entries``: (series key, start marker, totals, fresh). Per entry: the increases, or
    None when the entry only set a baseline (or Redis is unavailable)."""
    if not entries:
        return []
    keys = [f"cum:{project_id}:{key}" for key, _, _, _ in entries]
    try:
        previous = await redis.mget(keys)
    except Exception:
        logger.warning("counter state unavailable: this report only sets baselines",
                       exc_info=True)
        return [None] * len(keys)
    results, updates = [], {}
    for (_, start, values, fresh), key, old in zip(entries, keys, previous, strict=True):
        if not all(math.isfinite(v) for v in values):  # no increase, and the total kept
            results.append(None)
            continue
        # A series may report several times in one batch: each against the one before.
        state = orjson.loads(updates[key]) if key in updates else \
            (orjson.loads(old) if old else None)
        if state and None in state["values"]:  # a NaN kept by older code (JSON null)
            state = None
        if state and state["start"] == start and len(state["values"]) == len(values) \
                and all(v >= p for v, p in zip(values, state["values"], strict=True)):
            results.append([v - p for v, p in zip(values, state["values"], strict=True)])
        elif state or fresh:
            results.append(list(values))
        else:
            results.append(None)
        updates[key] = orjson.dumps({"start": start, "values": values})
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for key, value in updates.items():
                pipe.set(key, value, ex=STATE_TTL_S)
            await pipe.execute()
    except Exception:  # the next report then counts from its own baseline
        logger.warning("counter state not saved", exc_info=True)
    return results
