"""Funnels: how many people go through ordered steps within a conversion window, where they drop
off, how long each step takes, split by a property; and who they are.

Definitions:
- a person is every id linked by ``identify`` (resolved when the report runs, so a link made
  mid-funnel merges the anonymous steps before it with the identified ones after);
- a step is an event name with property filters; the report's filters apply to every step, and
  known crawlers are left out unless asked for;
- every step counts inside the range; a person's attempt starts at any event of step 1, and
  each later step is that step's first event strictly after the previous step's (``ordered``,
  other events may come between), the very next event of the person (``strict``), or any of
  the steps in any order (``any``: reaching step n means doing n of the steps); an attempt
  reaches a step if it happens within the window after the attempt's start;
- each person counts once, with their furthest attempt (the earliest of equal ones), which also
  gives the median time between steps and the breakdown value (of its first event).

Reads: the step events only, for ordered and any-order funnels, from the index on (project,
event, path, time) that carries the id, session and bot flag (an index-only scan when steps
filter on nothing but the path); strict funnels read every event of the people who did step 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from analytics_site.errors import ValidationFailed

from . import executor
from .executor import Statement
from .filters import COLUMNS, NO_FILTERS, Filters, Step, conditions, parse, text
from .people import as_json
from .timerange import Span

ORDERS = ("ordered", "strict", "any")
MAX_STEPS = 10
MAX_WINDOW_S = 90 * 86400
MAX_PEOPLE = 500
PERSON = sql.SQL("coalesce(a.person_id, e.distinct_id)")
ALIAS_JOIN = sql.SQL("LEFT JOIN events_personalias a ON a.project_id = e.project_id "
                     "AND a.distinct_id = e.distinct_id")
INFINITY = sql.SQL("'Infinity'::float8")
# The step rows are read, resolved to people and sorted by person in parallel workers, then
# merged for the windows (without ``executor.PARALLEL``, one process: 2.2 s against 1.7 s for 3
# steps over 10 M events); the attempts (one row per step-1 event) are sorted in memory (about
# 80 MB there).
PARALLEL_SORTS = (*executor.PARALLEL, ("work_mem", "128MB"))


@dataclass(frozen=True)
class FunnelSpec:
    steps: tuple[Step, ...]
    window_s: int
    order: str
    filters: Filters
    breakdown: str | None = None

    def spec(self) -> dict:
        return {"steps": [s.spec() for s in self.steps], "window": self.window_s,
                "order": self.order, "breakdown": self.breakdown, **self.filters.spec()}


def parse_steps(raw) -> tuple[Step, ...]:
    """Steps from ``[{"event": "signup", "filters": ["plan:pro"]}, …]`` (2 to 10)."""
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_STEPS:
        raise ValidationFailed(f"steps: a list of 2 to {MAX_STEPS} steps.",
                               details={"steps": [f"2 to {MAX_STEPS} steps."]})
    steps = []
    for n, item in enumerate(raw):
        event = item.get("event") if isinstance(item, dict) else None
        if not isinstance(event, str) or not event or len(event) > 200 or "\x00" in event:
            raise ValidationFailed(f"steps[{n}].event: an event name of 1 to 200 characters.",
                                   details={"steps": [f"Step {n + 1}: an event name."]})
        given = item.get("filters") or []
        if not isinstance(given, list):
            raise ValidationFailed(f"steps[{n}].filters: a list of key:value.",
                                   details={"steps": [f"Step {n + 1}: filters as a list."]})
        steps.append(Step(event, parse(given).items))
    return tuple(steps)


def check_breakdown(key: str | None) -> str | None:
    if key in (None, ""):
        return None
    if key in COLUMNS or (key.startswith(("prop.", "person.")) and 5 < len(key) <= 106
                          and "\x00" not in key):
        return key
    raise ValidationFailed("breakdown: a column (country, browser, utm_source, …), "
                           "prop.<name> or person.<name>.",
                           details={"breakdown": ["Unknown breakdown."]})


def _breakdown_expr(key: str | None) -> sql.Composable:
    if key is None:
        return sql.SQL("NULL::text")
    if key in COLUMNS:
        return sql.SQL("e.{}").format(sql.Identifier(COLUMNS[key]))
    kind, _, name = key.partition(".")
    if kind == "prop":
        return sql.SQL("(e.properties ->> {})").format(text(name))
    return sql.SQL("(SELECT p.properties ->> {} FROM events_person p "
                   "WHERE p.project_id = e.project_id AND p.person_id = {})").format(
        text(name), PERSON)


def _step_condition(step: Step, spec: FunnelSpec) -> sql.Composable:
    own = Filters(step.filters, bots=True)
    return sql.SQL("e.event = {} AND {} AND {}").format(
        text(step.event), conditions(own), conditions(spec.filters))


def _step_rows(spec: FunnelSpec, every_step_keeps_breakdown: bool,
               person: bool = True) -> sql.Composed:
    """One row per event and step it matches: (ph, person, ts, step, bd) — ``person`` (the id)
    only when asked for. The ids are resolved to people once, after the steps' rows are read (one
    join for all of them)."""
    parts = []
    on_event = spec.breakdown is not None and not spec.breakdown.startswith("person.")
    for n, step in enumerate(spec.steps, 1):
        bd = _breakdown_expr(spec.breakdown) if on_event and (
            n == 1 or every_step_keeps_breakdown) else sql.SQL("NULL::text")
        parts.append(sql.SQL(
            # date_part gives a float8 at once; extract() makes a numeric first (8 % of a funnel)
            "SELECT e.distinct_id, date_part('epoch', e.\"timestamp\") AS ts, "
            '{n} AS step, {bd} AS bd FROM events_event e '
            'WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s '
            'AND e."timestamp" < %(end)s AND {cond}').format(
            n=sql.Literal(n), bd=bd, cond=_step_condition(step, spec)))
    # People are sorted by a hash of their id (a bigint sorts many times faster than text
    # under a collation); the id itself rides along.
    return sql.SQL(
        "SELECT hashtextextended(coalesce(a.person_id, r.distinct_id), 0) AS ph, "
        "{person}r.ts, r.step, r.bd "
        "FROM ({union}) AS r LEFT JOIN events_personalias a "
        "ON a.project_id = %(project)s AND a.distinct_id = r.distinct_id").format(
        union=sql.SQL(" UNION ALL ").join(parts),
        person=sql.SQL("coalesce(a.person_id, r.distinct_id) AS person, ") if person
        else sql.SQL(""))


def _person_breakdown(spec: FunnelSpec, column: str = "bd") -> sql.Composable:
    """The breakdown value of a best attempt: a person property is read once per person."""
    if spec.breakdown is None or not spec.breakdown.startswith("person."):
        return sql.Identifier(column)
    return sql.SQL("(SELECT p.properties ->> {} FROM events_person p "
                   "WHERE p.project_id = %(project)s AND p.person_id = l.person)").format(
        text(spec.breakdown[7:]))


_W = sql.SQL("PARTITION BY ph ORDER BY ts DESC, step ROWS UNBOUNDED PRECEDING")


def _ordered_best(spec: FunnelSpec, people: bool = True) -> sql.Composed:
    """Per person, the furthest attempt: ``best(person, bd, level, chain)``; ``chain`` holds
    each step's time (epoch s), Infinity past the last one reached; without ``people`` (the
    counts), no ``person``: the ids are not carried through the sorts.

    Each attempt is greedy (every step the earliest after the one before, which reaches at least
    as far as any other choice), computed with running minimums over the person's rows from the
    latest back: ``f_i_s`` at a row is the time of step i in the greedy chain that starts at the
    first step-(s+1) row after it; ``f_i_(i-1)`` is just the next step-i time, and
    ``f_i_s = min(f_i_(s+1)) over the step-(s+1) rows after`` (a later start never reaches
    earlier). Step i of an attempt starting at a step-1 row is then ``f_i_1`` — k-1 passes of
    plain minimums, whatever the number of attempts."""
    k = len(spec.steps)
    people = people or (spec.breakdown or "").startswith("person.")
    query = sql.SQL("SELECT * FROM ({rows}) AS r0").format(
        rows=_step_rows(spec, False, person=people))
    for p in range(1, k):
        columns = []
        for i in range(p + 1, k + 1):
            s_ = i - p
            source = sql.SQL("ts") if p == 1 else sql.Identifier(f"f_{i}_{s_ + 1}")
            columns.append(sql.SQL("min({src}) FILTER (WHERE step = {step}) OVER ({w}) AS {name}")
                           .format(src=source, step=sql.Literal(s_ + 1), w=_W,
                                   name=sql.Identifier(f"f_{i}_{s_}")))
        query = sql.SQL("SELECT r.*, {cols} FROM ({inner}) AS r").format(
            cols=sql.SQL(", ").join(columns), inner=query)
    times = [sql.SQL("ts")] + [sql.SQL("coalesce({}, {})").format(
        sql.Identifier(f"f_{i}_1"), INFINITY) for i in range(2, k + 1)]
    reached = sql.SQL(" + ").join(
        [sql.SQL("1")] + [sql.SQL("({} <= ts + %(window)s)::int").format(times[i - 1])
                          for i in range(2, k + 1)])
    # The attempts are sorted with their times as plain columns (narrow rows, no array per
    # attempt); the chain is made for the best one only.
    return sql.SQL("""
        SELECT {person}bd, level, ARRAY[{names}] AS chain FROM (
            SELECT DISTINCT ON (ph) {person}{bd} AS bd, {reached} AS level, {times}
            FROM ({query}) AS l WHERE step = 1
            ORDER BY ph, level DESC, ts) AS b""").format(
        bd=_person_breakdown(spec), reached=reached, query=query,
        times=sql.SQL(", ").join(sql.SQL("{} AS {}").format(t, sql.Identifier(f"t{i}"))
                                 for i, t in enumerate(times, 1)),
        names=sql.SQL(", ").join(sql.Identifier(f"t{i}") for i in range(1, k + 1)),
        person=sql.SQL("person, ") if people else sql.SQL(""))


def _any_best(spec: FunnelSpec) -> sql.Composed:
    return sql.SQL("""
        SELECT DISTINCT ON (ph) person, {bd} AS bd, level, ARRAY[ts] AS chain FROM (
            SELECT ph, person, bd, ts, bit_count((bit_or(1 << (step - 1)) OVER (
                PARTITION BY ph ORDER BY ts
                RANGE BETWEEN CURRENT ROW AND %(window)s FOLLOWING))::bit(32)) AS level
            FROM ({rows}) AS r) AS l
        ORDER BY ph, level DESC, ts""").format(rows=_step_rows(spec, True),
                                                   bd=_person_breakdown(spec))


def _strict_best(spec: FunnelSpec) -> sql.Composed:
    k = len(spec.steps)
    mask = sql.SQL(" + ").join(
        sql.SQL("(CASE WHEN {} THEN {} ELSE 0 END)").format(_step_condition(step, spec),
                                                             sql.Literal(1 << n))
        for n, step in enumerate(spec.steps))
    leads = sql.SQL(", ").join(
        sql.SQL("lead(mask, {i}) OVER w AS m{i}, lead(ts, {i}) OVER w AS t{i}").format(
            i=sql.SQL(str(i))) for i in range(1, k))
    # Step i+1 is reached when every step up to it follows directly, within the window.
    terms, held = [], []
    for i in range(1, k):
        held.append(sql.SQL("(m{i} & {bit}) <> 0 AND t{i} <= ts + %(window)s").format(
            i=sql.SQL(str(i)), bit=sql.Literal(1 << i)))
        terms.append(sql.SQL("(coalesce({}, false))::int").format(sql.SQL(" AND ").join(held)))
    chain = sql.SQL(", ").join([sql.SQL("ts")] + [sql.SQL("t{}").format(sql.SQL(str(i)))
                                                  for i in range(1, k)])
    return sql.SQL("""
        SELECT DISTINCT ON (person) person, bd, 1 + {terms} AS level, ARRAY[{chain}] AS chain
        FROM (
            SELECT person, ts, mask, bd, {leads} FROM (
                SELECT {person} AS person, date_part('epoch', e."timestamp") AS ts,
                       e.uuid, {mask} AS mask, {bd} AS bd
                FROM events_event e {join}
                WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s
                  AND e."timestamp" < %(end)s AND {everywhere}
                  AND {person} IN (SELECT person FROM ({first}) AS f)) AS r
            WINDOW w AS (PARTITION BY person ORDER BY ts, uuid)) AS l
        WHERE mask & 1 <> 0
        ORDER BY person, level DESC, ts""").format(
        terms=sql.SQL(" + ").join(terms), chain=chain, leads=leads, person=PERSON, mask=mask,
        bd=_breakdown_expr(spec.breakdown), join=ALIAS_JOIN,
        everywhere=conditions(spec.filters),
        first=sql.SQL('SELECT {person} AS person FROM events_event e {join} '
                      'WHERE e.project_id = %(project)s AND e."timestamp" >= %(start)s '
                      'AND e."timestamp" < %(end)s AND {cond}').format(
            person=PERSON, join=ALIAS_JOIN, cond=_step_condition(spec.steps[0], spec)))


def best_statement(spec: FunnelSpec, people: bool = True) -> sql.Composed:
    """Each person's furthest attempt; ``people``: with their id."""
    if spec.order == "ordered":
        return _ordered_best(spec, people)
    return {"strict": _strict_best, "any": _any_best}[spec.order](spec)


def funnel_statement(project_id: int, span: Span, spec: FunnelSpec) -> Statement:
    """Per breakdown value: people reaching each step and the median seconds from the step
    before."""
    k = len(spec.steps)
    counts = sql.SQL(", ").join(
        sql.SQL("count(*) FILTER (WHERE level >= {})").format(sql.Literal(i))
        for i in range(1, k + 1))
    medians = sql.SQL(", ").join(
        sql.SQL("percentile_cont(0.5) WITHIN GROUP (ORDER BY chain[{i}] - chain[{p}]) "
                "FILTER (WHERE level >= {i})").format(i=sql.SQL(str(i)), p=sql.SQL(str(i - 1)))
        for i in range(2, k + 1)) if spec.order != "any" else sql.SQL(", ").join(
        [sql.SQL("NULL::float8")] * (k - 1))
    grouped = sql.SQL(" GROUP BY bd ORDER BY count(*) DESC, bd") if spec.breakdown else sql.SQL(
        " HAVING count(*) > 0")
    statement = sql.SQL("SELECT {bd}, {counts}, {medians} FROM ({best}) AS b{grouped}").format(
        bd=sql.SQL("bd") if spec.breakdown else sql.SQL("NULL::text"), counts=counts,
        medians=medians, best=best_statement(spec, people=False), grouped=grouped)
    return Statement(statement, _params(project_id, span, spec), table="events_event",
                     planner=PARALLEL_SORTS)


def people_statement(project_id: int, span: Span, spec: FunnelSpec, *, step: int,
                     converted: bool, limit: int, offset: int) -> Statement:
    """The people who reached ``step`` (``converted``) or stopped right before it."""
    level = sql.SQL("level >= %(step)s") if converted else sql.SQL("level = %(step)s - 1")
    statement = sql.SQL("""
        SELECT b.person, p.first_seen, p.last_seen, p.events, p.properties, b.level,
               count(*) OVER () AS total
        FROM ({best}) AS b
        LEFT JOIN events_person p ON p.project_id = %(project)s AND p.person_id = b.person
        WHERE {level}
        ORDER BY b.person LIMIT %(limit)s OFFSET %(offset)s""").format(
        best=best_statement(spec), level=level)
    return Statement(statement, {**_params(project_id, span, spec), "step": step,
                                 "limit": limit, "offset": offset}, table="events_event",
                     planner=PARALLEL_SORTS)


def _params(project_id: int, span: Span, spec: FunnelSpec) -> dict:
    return {**span.params(project_id), "window": float(spec.window_s)}


def _steps_of(spec: FunnelSpec, counts: list[int], medians: list) -> list[dict]:
    entered = counts[0] if counts else 0
    out = []
    for n, step in enumerate(spec.steps):
        reached = counts[n] if counts else 0
        before = counts[n - 1] if n and counts else entered
        out.append({
            "step": n + 1, "event": step.event, "filters": [f.text() for f in step.filters],
            "people": reached,
            "conversion": reached / entered if entered else None,
            "from_previous": reached / before if before else None,
            "dropped": (before - reached) if n else 0,
            "median_s": medians[n - 1] if n and medians else None,
        })
    return out


def funnel(project_id: int, span: Span, *, steps: tuple[Step, ...], window_s: int,
           order: str = "ordered", filters: Filters = NO_FILTERS, breakdown: str | None = None,
           compare: bool = False, use_cache: bool = True) -> dict:
    spec = FunnelSpec(steps, window_s, order, filters, breakdown)
    k = len(steps)

    def compute() -> dict:
        with executor.session() as s:
            rows = s.rows(funnel_statement(project_id, span, spec))
            previous = s.rows(funnel_statement(project_id, span.previous,
                                               FunnelSpec(steps, window_s, order, filters)))\
                if compare else None
        totals = [sum(r[1 + i] for r in rows) for i in range(k)]
        overall = _steps_of(spec, totals, _overall_medians(rows, k, spec))
        body = {"steps": overall, "order": order, "window_s": window_s,
                "conversion": totals[-1] / totals[0] if totals and totals[0] else None,
                "breakdown": breakdown,
                "breakdowns": [{"value": r[0], "steps": _steps_of(
                    spec, list(r[1:1 + k]), list(r[1 + k:]))} for r in rows]
                if breakdown else []}
        if previous is not None:
            before = [sum(r[1 + i] for r in previous) for i in range(k)]
            body["previous"] = {"people": before,
                                "conversion": before[-1] / before[0] if before[0] else None}
        return body

    return executor.answer(kind="funnel", project_id=project_id,
                           spec={**span.spec(), **spec.spec(), "compare": compare},
                           reaches_now=span.reaches_now, compute=compute, use_cache=use_cache)


def _overall_medians(rows, k: int, spec: FunnelSpec) -> list:
    """The median per step over everyone (exact without a breakdown; with one, the
    people-weighted mean of the groups' medians is not a median, so it is left out)."""
    if spec.breakdown is not None or not rows:
        return [None] * (k - 1)
    return list(rows[0][1 + k:])


def funnel_people(project_id: int, span: Span, *, steps: tuple[Step, ...], window_s: int,
                  order: str, filters: Filters, step: int, converted: bool, limit: int = 100,
                  offset: int = 0) -> dict:
    if not 1 <= step <= len(steps) or (not converted and step < 2):
        raise ValidationFailed(f"step: 1 to {len(steps)} (2 or more for drop-offs).",
                               details={"step": ["Out of range."]})
    spec = FunnelSpec(steps, window_s, order, filters)
    rows = executor.rows(people_statement(project_id, span, spec, step=step,
                                          converted=converted, limit=min(limit, MAX_PEOPLE),
                                          offset=offset))
    return {"count": rows[0][6] if rows else 0, "results": [
        {"person_id": person, "first_seen": first.isoformat() if first else None,
         "last_seen": last.isoformat() if last else None, "events": events,
         "properties": as_json(properties) or {}, "reached": level}
        for person, first, last, events, properties, level, _ in rows]}

