"""Autocompletion for the query editors: metric names, a metric's tag keys, a key's values, and
the language's function names, matching a fragment anywhere (any case), prefix matches first,
then the others, each group in alphabetical order.

Names come from the project's series (``events_metricseries``), the one list of what exists,
with each metric's definition beside it. Both kinds of match read the
``(project_id, lower(name) COLLATE "C", name)`` index (migration events 0016) in its order and
stop at the limit: prefix matches as a range of it, substring matches by scanning the project's
part of it until enough are found (PostgreSQL's trigram index would need ``pg_trgm``, which the
embedded server does not ship).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from . import executor, spec
from .executor import Statement

KINDS = ("metric", "tag_key", "tag_value", "function")
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
# Tolerant on purpose: the function registry may be absent in an older spec module.
FUNCTIONS = getattr(spec, "FUNCTIONS", {})


@dataclass(frozen=True)
class Fragment:
    """What was typed (PostgreSQL lowers it, as it lowers the names: the same folding on both
    sides), with its LIKE pattern for the prefix matches."""

    text: str

    @property
    def lowered(self) -> str:
        return self.text.lower()

    @property
    def prefix_pattern(self) -> str:
        escaped = self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return escaped + "%"


def metrics_statement(project_id: int, fragment: Fragment, limit: int) -> Statement:
    """Names starting with the fragment (a range of the name index), then names holding it
    further in (a scan of the project's part of the index in its order, stopping at ``limit``;
    skipped outright — a one-time filter — when the prefix matches fill the list), with their
    definitions."""
    return Statement(sql.SQL(
        """WITH prefixed AS MATERIALIZED (
               SELECT DISTINCT lower(name) COLLATE "C" AS folded, name FROM events_metricseries
               WHERE project_id = %(project)s
                 AND lower(name) COLLATE "C" LIKE lower(%(prefix)s)
               ORDER BY 1, 2 LIMIT %(limit)s
           ), inside AS (
               SELECT DISTINCT lower(name) COLLATE "C" AS folded, name FROM events_metricseries
               WHERE project_id = %(project)s AND strpos(lower(name), lower(%(text)s)) > 1
                 AND (SELECT count(*) FROM prefixed) < %(limit)s
               ORDER BY 1, 2 LIMIT %(limit)s
           ), found AS (
               (SELECT 0 AS rank, folded, name FROM prefixed)
               UNION ALL
               (SELECT 1, folded, name FROM inside)
               ORDER BY 1, 2, 3 LIMIT %(limit)s
           )
           SELECT f.name, d.description, d.unit, d.type FROM found f
           LEFT JOIN events_metricdefinition d ON d.project_id = %(project)s AND d.name = f.name
           ORDER BY f.rank, f.folded, f.name"""),
        {"project": project_id, "prefix": fragment.prefix_pattern, "text": fragment.text,
         "limit": limit}, table="events_metricseries")


def metrics(project_id: int, fragment: Fragment, limit: int) -> list[dict]:
    rows = executor.rows(metrics_statement(project_id, fragment, limit))
    return [{"value": name, "description": description or "", "unit": unit or "",
             "type": kind or ""} for name, description, unit, kind in rows]


def tag_keys_statement(project_id: int, metric: str, fragment: Fragment,
                       limit: int) -> Statement:
    return Statement(sql.SQL(
        """SELECT t.key, count(DISTINCT t.value) AS values
           FROM events_metricseries s, jsonb_each_text(s.tags) AS t(key, value)
           WHERE s.project_id = %(project)s AND s.name = %(metric)s
             AND strpos(lower(t.key), lower(%(text)s)) > 0
           GROUP BY t.key
           ORDER BY strpos(lower(t.key), lower(%(text)s)) <> 1, lower(t.key) COLLATE "C",
                    t.key
           LIMIT %(limit)s"""),
        {"project": project_id, "metric": metric, "text": fragment.text, "limit": limit},
        table="events_metricseries")


def tag_values_statement(project_id: int, metric: str, key: str, fragment: Fragment,
                         limit: int) -> Statement:
    return Statement(sql.SQL(
        """SELECT v.value, count(*) AS series
           FROM events_metricseries s, LATERAL (SELECT s.tags ->> %(key)s AS value) AS v
           WHERE s.project_id = %(project)s AND s.name = %(metric)s AND v.value IS NOT NULL
             AND strpos(lower(v.value), lower(%(text)s)) > 0
           GROUP BY v.value
           ORDER BY strpos(lower(v.value), lower(%(text)s)) <> 1,
                    lower(v.value) COLLATE "C", v.value
           LIMIT %(limit)s"""),
        {"project": project_id, "metric": metric, "key": key, "text": fragment.text,
         "limit": limit}, table="events_metricseries")


def _ranked(candidates: list[dict], fragment: Fragment, limit: int) -> list[dict]:
    text = fragment.lowered
    found = [c for c in candidates if text in c["value"].lower()]
    found.sort(key=lambda c: (not c["value"].lower().startswith(text), c["value"].lower(),
                              c["value"]))
    return found[:limit]


def functions(fragment: Fragment, limit: int) -> list[dict]:
    # The argument kinds and allowed words let the query builder draw a function's inputs.
    candidates = [{"value": f.name, "kind": "function", "signature": f.signature,
                   "description": f.summary, "args": list(f.args[1:]),
                   "choices": list(f.choices)} for f in FUNCTIONS.values()]
    candidates += [{"value": name, "kind": "aggregation", "signature": f"{name}:metric{{}}",
                    "description": "aggregation"} for name in spec.AGGREGATIONS]
    return _ranked(candidates, fragment, limit)


def suggest(project_id: int, *, kind: str, text: str = "", metric: str = "", key: str = "",
            limit: int = DEFAULT_LIMIT) -> list[dict]:
    """Up to ``limit`` suggestions ``{"value", ...}`` for what the editor has typed: metrics
    carry their description, unit and type; tag keys how many values they have; tag values how
    many series carry them; functions their signature and a line of description."""
    fragment = Fragment(text)
    if kind == "function":
        return functions(fragment, limit)
    if kind == "metric":
        return metrics(project_id, fragment, limit)
    if kind == "tag_key":
        rows = executor.rows(tag_keys_statement(project_id, metric, fragment, limit))
        return [{"value": value, "values": count} for value, count in rows]
    rows = executor.rows(tag_values_statement(project_id, metric, key, fragment, limit))
    return [{"value": value, "series": count} for value, count in rows]
