"""A model's judgement of each bucket, kept as metric series of the project — ``ml.expected``,
``ml.lower``, ``ml.upper`` and ``ml.score``, tagged with the series' own tags and ``ml_model``
/ ``ml_series`` — written through the write path like any client's points and read back
through the one read path. So a dashboard draws a model's band over any range from the same
tables and rollups as the data, and an alert's anomaly condition is a query of ``ml.score``.

Writing is best effort, after the scores are committed: a lost write leaves a gap in the band,
never a wrong anomaly. Points older than the project's raw retention are refused by the write
path (a long backfill keeps only its recent band)."""

from __future__ import annotations

import asyncio
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from events import db, services
from events import query as engine
from projects.models import Project

from .detectors import Scores

logger = logging.getLogger(__name__)

NAMES = {"expected": "ml.expected", "lower": "ml.lower", "upper": "ml.upper",
         "score": "ml.score"}
BATCH = 5000


def tags_for(model_id: int, series_id: int, tags: dict) -> dict:
    kept = dict(list(sorted(tags.items()))[:30])
    return {**kept, "ml_model": str(model_id), "ml_series": str(series_id)}


def points(model_id: int, series_id: int, tags: dict, scores: Scores) -> list[dict]:
    """The four points of each scored bucket."""
    out = []
    labelled = tags_for(model_id, series_id, tags)
    for i in range(len(scores)):
        stamp = datetime.fromtimestamp(int(scores.times[i]), UTC).isoformat()
        for field, name in NAMES.items():
            value = float(getattr(scores, field)[i])
            if math.isfinite(value):
                out.append({"name": name, "value": value, "tags": labelled,
                            "timestamp": stamp})
    return out


async def _send(project: Project, items: list[dict]) -> int:
    key = services.IngestKey(id=0, project_id=project.pk, allowed_origins=(),
                             rate_limit_per_s=0, raw_retention_days=project.raw_retention_days)
    stored = 0
    try:
        for i in range(0, len(items), BATCH):
            result = await services.record_points(key=key, items=items[i:i + BATCH])
            stored += result.stored
    finally:
        await (await db.pool()).close()
    return stored


def write(project: Project, items: list[dict]) -> int:
    """Store ``items`` (from ``points``) through the write path; the number stored. Runs on
    a thread of its own, so it works from a worker, a view or a test with a running loop."""
    if not items:
        return 0
    try:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, _send(project, items)).result(timeout=120)
    except Exception:
        logger.warning("could not store the band of %s points", len(items), exc_info=True)
        return 0


def read(project: Project, model_id: int, *, by: tuple[str, ...], start, end,
         step=None, extra_filters: str = "") -> dict:
    """The band of a model over a range: ``{"expected"|"lower"|"upper"|"score": answer}``,
    each grouped like the model's query."""
    group = f" by {{{', '.join(by)}}}" if by else ""
    filters = f"ml_model:{model_id}" + (f", {extra_filters}" if extra_filters else "")
    queries = {field: f"{'max' if field == 'score' else 'avg'}:{name}{{{filters}}}{group}"
               for field, name in NAMES.items()}
    return engine.execute(project, queries=queries, start=start, end=end, step=step)
