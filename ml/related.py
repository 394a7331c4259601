"""Correlations over a project's series, read through ``events.query``: the heat-map of chosen
queries, the series most related to one, and what moved with an anomaly — all through
``ml.correlate``.

A query with ``by {…}`` gives one series per group. Candidates for "most related" and "what
moved" are every metric of the project (grouped by all its tag keys, the 20 largest groups
each) and the events by name, the model outputs (``ml.*``) left out; how many are read is
bounded (``MAX_METRICS``, ``MAX_CANDIDATES``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from analytics_site.errors import ValidationFailed
from events import query as engine
from projects.models import Project

from . import correlate
from .models import Anomaly
from .series import fetch, label

MAX_QUERIES = 25
MAX_SERIES = 60
MAX_METRICS = 40
MAX_CANDIDATES = 400
GROUPS_PER_METRIC = 20
EVENTS_QUERY = "count:events{} by {event} limit 20"


@dataclass
class Column:
    label: str
    query: str
    tags: dict
    values: np.ndarray


def columns(project: Project, queries: list[str], *, start: datetime, end: datetime,
            step: int, limit: int = MAX_SERIES) -> tuple[np.ndarray, list[Column]]:
    """The series of ``queries`` on one grid of buckets."""
    times: np.ndarray | None = None
    found: list[Column] = []
    for query in queries:
        for item in fetch(project, query, start=start, end=end, step=step, use_cache=True):
            if times is None:
                times = item.series.times
            if len(item.series.times) != len(times):
                continue
            name = query if not item.tags else f"{query.split(' by ')[0]} {label(item.tags)}"
            found.append(Column(name, query, item.tags, item.series.values))
            if len(found) >= limit:
                return times, found
    return (times if times is not None else np.zeros(0, dtype=np.int64)), found


def _check(queries: list[str]) -> None:
    if not queries:
        raise ValidationFailed("Choose at least one series.", details={"queries": ["Empty."]})
    if len(queries) > MAX_QUERIES:
        raise ValidationFailed(f"At most {MAX_QUERIES} queries.",
                               details={"queries": [f"At most {MAX_QUERIES}."]})
    for i, query in enumerate(queries):
        try:
            engine.parse(query)
        except Exception as exc:
            message = getattr(exc, "message", str(exc))
            raise ValidationFailed(f"queries[{i}]: {message}",
                                   details={f"queries[{i}]": [message]}) from None


def _answer(times, cols: list[Column], matrix: correlate.Matrix, **extra) -> dict:
    def number(value):
        return None if not np.isfinite(value) else round(float(value), 4)

    return {
        "series": [{"label": c.label, "query": c.query, "tags": c.tags,
                    "points": [[int(t) * 1000, number(v)] for t, v in zip(times, c.values,
                                                                         strict=True)]}
                   for c in cols],
        "matrix": [[number(v) for v in row] for row in matrix.coefficient],
        "lags": matrix.lag.tolist(), "overlap": matrix.points.tolist(), **extra}


def heatmap(project: Project, *, queries: list[str], start: datetime, end: datetime,
            step: int, method: str = "pearson", max_lag: int = 0,
            changes: bool = False) -> dict:
    _check(queries)
    times, cols = columns(project, queries, start=start, end=end, step=step)
    values = np.column_stack([c.values for c in cols]) if cols else np.zeros((len(times), 0))
    found = correlate.correlate(values, method=method, max_lag=max_lag, changes=changes)
    return _answer(times, cols, found, method=method, max_lag=max_lag, step=step,
                   changes=changes)


def candidate_queries(project: Project, *, skip: set[str] = frozenset()) -> list[str]:
    """Every metric of the project grouped by all its tag keys, and the events by name."""
    queries = []
    for item in engine.metric_names(project.pk, limit=MAX_METRICS + len(skip) + 20):
        name = item["name"]
        if name.startswith("ml.") or name in skip:
            continue
        keys = sorted(engine.metric_tags(project.pk, name) or {})
        group = f" by {{{', '.join(keys)}}} limit {GROUPS_PER_METRIC}" if keys else ""
        queries.append(f"avg:{name}{{}}{group}")
        if len(queries) >= MAX_METRICS:
            break
    return [*queries, EVENTS_QUERY]


def most_related(project: Project, *, target: str, start: datetime, end: datetime,
                 step: int, method: str = "pearson", max_lag: int = 0, changes: bool = False,
                 top: int = 20) -> dict:
    """``target``'s first series against every candidate; the heat-map of it and the ``top``
    most related (by |r| at the best lag)."""
    _check([target])
    times, own = columns(project, [target], start=start, end=end, step=step, limit=1)
    if not own:
        return _answer(times, [], correlate.Matrix(np.zeros((0, 0)), np.zeros((0, 0), int),
                                                   np.zeros((0, 0), int)),
                       method=method, max_lag=max_lag, step=step, changes=changes, ranking=[])
    _, pool = columns(project, candidate_queries(project), start=start, end=end, step=step,
                      limit=MAX_CANDIDATES)
    pool = [c for c in pool if c.label != own[0].label]
    if pool:
        found = correlate.related_to(own[0].values, np.column_stack([c.values for c in pool]),
                                     method=method, max_lag=max_lag, changes=changes)
        strength = np.nan_to_num(np.abs(found.coefficient[0]), nan=-1.0)
        order = [int(j) for j in np.argsort(-strength)[:top] if strength[j] >= 0]
    else:
        found, order = None, []
    chosen = [own[0], *[pool[j] for j in order]]
    ranking = [{"label": pool[j].label, "coefficient": round(float(found.coefficient[0, j]), 4),
                "lag": int(found.lag[0, j])} for j in order]
    values = np.column_stack([c.values for c in chosen])
    matrix = correlate.correlate(values, method=method, max_lag=max_lag, changes=changes)
    return _answer(times, chosen, matrix, method=method, max_lag=max_lag, step=step,
                   changes=changes, ranking=ranking)


def _source(query: str) -> str:
    found = engine.queries_of(engine.parse(query))
    return found[0].source if found else ""


def moved_with(anomaly: Anomaly, *, top: int = 8, max_lag: int = 3) -> list[dict]:
    """Series that moved with ``anomaly``: correlated with its series (changes, at a lag of a
    few steps at most) around it, and away from their own level during it."""
    model = anomaly.model
    step = model.step_seconds
    end_at = anomaly.ended_at or anomaly.last_seen_at
    span = max(end_at - anomaly.started_at, timedelta(seconds=step * 6))
    start, end = anomaly.started_at - 4 * span, end_at + span
    times, own = columns(model.project, [model.query], start=start, end=end, step=step)
    mine = next((c for c in own if c.tags == anomaly.tags), None)
    if mine is None or not len(times):
        return []
    sources = {q.source for q in engine.queries_of(engine.parse(model.query))}
    _, pool = columns(model.project, candidate_queries(model.project), start=start, end=end,
                      step=step, limit=MAX_CANDIDATES)
    pool = [c for c in pool if not (_source(c.query) in sources and c.tags == mine.tags)]
    if not pool:
        return []
    found = correlate.related_to(mine.values, np.column_stack([c.values for c in pool]),
                                 max_lag=max_lag, changes=True)
    inside = (times >= anomaly.started_at.timestamp()) & (times < end_at.timestamp())
    rows = []
    for j, column in enumerate(pool):
        r = float(found.coefficient[0, j])
        moved = correlate.shift_sigma(column.values, inside)
        if not np.isfinite(r) or abs(moved) < 3 or abs(r) < 0.5:
            continue
        if r > 0.99 and _source(column.query) in sources:  # its own series, grouped otherwise
            continue
        direction = "rose" if moved > 0 else "fell"
        rows.append({"label": column.label, "query": column.query, "tags": column.tags,
                     "coefficient": round(r, 3), "lag_steps": int(found.lag[0, j]),
                     "sigma": round(moved, 1),
                     "text": (f"{direction} with it: {column.label} "
                              f"({moved:+.1f} \u03c3, r {r:.2f})")})
    rows.sort(key=lambda row: -(abs(row["coefficient"]) * min(1.0, abs(row["sigma"]) / 6)))
    return rows[:top]
