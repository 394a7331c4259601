"""Series for the models, read through the one read path (``events.query``): a model's query
over a range at its step, one ``detectors.Series`` per group with the other groups of the same
query beside it (the siblings the IsolationForest features use).

A range longer than the engine's 5,000 points per series is asked in pieces, and never further
back than the rollup that resolves the step is kept. The buckets the
engine answers are aligned to the step; only whole buckets (ended a few seconds ago, so that
the rollups have folded them) are scored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from events import query as engine
from projects.models import Project

from .detectors import Series

CHUNK_POINTS = 4000  # under the engine's 5,000 buckets per series, with room for alignment
SETTLE = timedelta(seconds=15)  # a bucket is scored once it ended this long ago


def canonical(query: str) -> str:
    """The engine's canonical text of ``query`` (filters and groups sorted): how models are
    matched with panels and alert rules. The engine's error for a query that does not parse."""
    return engine.parse(query).to_text()


def group_key(tags: dict) -> str:
    return json.dumps(tags, sort_keys=True, separators=(",", ":")) if tags else ""


def label(tags: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "all"


def by_keys(query: str) -> tuple[str, ...]:
    """The tags a query groups by (its first query's, for a formula)."""
    found = engine.queries_of(engine.parse(query))
    return found[0].by if found else ()


@dataclass
class Fetched:
    tags: dict
    series: Series


def whole_buckets_end(now: datetime, step: int) -> datetime:
    """The end of the last bucket that is whole and folded."""
    moment = (now - SETTLE).timestamp()
    return datetime.fromtimestamp(moment // step * step, UTC)


def fetch(project: Project, query: str, *, start: datetime, end: datetime, step: int,
          use_cache: bool = False) -> list[Fetched]:
    """Every group of ``query`` over [start, end) at ``step`` seconds: values per bucket (NaN
    without data), the groups' siblings as ``others``. Groups folded into "other" are left
    out: they are not a series of their own."""
    keep = engine.retention_of(project)
    kept_days = keep.minute_days if step < 3600 else keep.hour_days
    oldest = datetime.now(UTC) - timedelta(days=kept_days) + timedelta(hours=1)
    start = datetime.fromtimestamp(max(start, oldest).timestamp() // step * step, UTC)
    cells: dict[str, dict[int, float | None]] = {}
    tags_of: dict[str, dict] = {}
    times: list[int] = []
    piece = timedelta(seconds=step * CHUNK_POINTS)
    at = start
    while at < end:
        until = min(end, at + piece)
        answer = engine.execute(project, query=query, start=at.isoformat(),
                                end=until.isoformat(), step=step, use_cache=use_cache)
        for item in answer["data"]:
            if item.get("other"):
                continue
            key = group_key(item["tags"] or {})
            tags_of[key] = item["tags"] or {}
            column = cells.setdefault(key, {})
            for ms, value in item["points"]:
                if at.timestamp() <= ms / 1000 < until.timestamp():
                    column[ms // 1000] = value
        times.extend(int(t) for t in range(int(at.timestamp()), int(until.timestamp()), step))
        at = until
    grid = np.array(sorted(set(times)), dtype=np.int64)
    keys = sorted(cells)
    matrix = np.full((len(grid), len(keys)), np.nan)
    position = {int(t): i for i, t in enumerate(grid)}
    for j, key in enumerate(keys):
        for t, value in cells[key].items():
            if value is not None and t in position:
                matrix[position[t], j] = value
    found = []
    for j, key in enumerate(keys):
        siblings = [i for i in range(len(keys)) if i != j]
        names = tuple(label(tags_of[keys[i]]) for i in siblings)
        others = matrix[:, siblings] if siblings else None
        found.append(Fetched(tags_of[key], Series(grid, matrix[:, j], others, names)))
    return found
