"""Goals on the overview: for each goal of the project, the people who converted (did its event,
or viewed a page matching its pattern), its events, and the conversion rate (converted people
over all people of the range), against the previous period.

Reads the per-dimension rollups like the breakdowns (``event`` or ``path`` values; people
counted from the sketches), raw events with filters.
"""

from __future__ import annotations

from psycopg import sql

from ..models import PAGEVIEW_EVENTS
from ..rollups import SKETCH_K, SKETCH_K_ALL
from . import dimensions, executor
from .analytics import change, linked_statement
from .executor import Statement
from .filters import NO_FILTERS, Filters, text
from .timerange import Span


def like_pattern(pattern: str) -> str:
    """A goal's ``*`` pattern as a LIKE pattern (other LIKE characters taken literally)."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def goal_statement(project_id: int, span: Span, *, event: str, path_pattern: str,
                   filters: Filters, linked: bool) -> Statement:
    """(events, converted people, all people) of one goal."""
    dim = "event" if event else "path"
    column = dimensions.column_of(dim)
    if filters.empty:
        rows = dimensions.rollup_rows(dim, column, filters)
        everyone = dimensions.rollup_rows("all", sql.SQL("''"), filters)
        k_all = SKETCH_K_ALL
    else:
        rows = dimensions.raw_rows(column, filters, dim == "path")
        everyone = dimensions.raw_rows(sql.SQL("''"), filters, False)
        k_all = 10**9
    match = sql.SQL("value = {}").format(text(event)) if event else sql.SQL(
        "value LIKE {}").format(text(like_pattern(path_pattern)))
    statement = sql.SQL("""
        WITH matched AS (SELECT '' AS value, events, pageviews, visitors, sessions
                    FROM ({rows}) AS p(value, events, pageviews, visitors, sessions)
                    WHERE {match}),
        everyone AS ({everyone}),
        converted AS ({converted}), total AS ({total})
        SELECT (SELECT coalesce(sum({count}), 0) FROM matched),
               (SELECT coalesce(sum(n), 0) FROM converted),
               (SELECT coalesce(sum(n), 0) FROM total)""").format(
        rows=rows, match=match, everyone=everyone,
        count=sql.SQL("events") if event else sql.SQL("pageviews"),
        converted=dimensions.estimate("matched", "visitors",
                                       SKETCH_K if filters.empty else 10**9, linked),
        total=dimensions.estimate("everyone", "visitors", k_all, linked))
    return Statement(statement, {"project": project_id, **dimensions.pieces(span).params(),
                                 "pageviews": list(PAGEVIEW_EVENTS)},
                     table="events_dimrollup1d" if filters.empty else "events_event")


def goals(project_id: int, span: Span, goals_of_project: list, *, filters: Filters = NO_FILTERS,
          use_cache: bool = True) -> dict:
    """``goals_of_project``: (id, name, event, path_pattern) of each goal."""
    def measure(s, window: Span, linked: bool, goal) -> tuple[int, int, int]:
        _, _, event, pattern = goal
        return s.one(goal_statement(project_id, window, event=event, path_pattern=pattern,
                                    filters=filters, linked=linked))

    def compute() -> dict:
        results = []
        with executor.session() as s:
            linked = s.one(linked_statement(project_id))[0]
            for goal in goals_of_project:
                events, converted, people = measure(s, span, linked, goal)
                _, before, before_people = measure(s, span.previous, linked, goal)
                rate = converted / people if people else None
                before_rate = before / before_people if before_people else None
                results.append({"id": goal[0], "name": goal[1], "event": goal[2],
                                "path_pattern": goal[3], "events": events,
                                "conversions": converted, "conversion_rate": rate,
                                "previous": {"conversions": before,
                                             "conversion_rate": before_rate},
                                "change": change(converted, before)})
        return {"results": results}

    return executor.answer(kind="goals", project_id=project_id, spec={
        **span.spec(), "goals": [list(g) for g in goals_of_project], **filters.spec()},
        reaches_now=span.reaches_now, compute=compute, use_cache=use_cache)
