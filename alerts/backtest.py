"""Where a rule would have fired: the query over a past range (24 h by default) at the rule's
step, the reducer over a sliding window at every bucket, the condition and ``for`` — the same
``reduce`` / ``holds`` / ``decide`` the evaluator uses, so the preview is what evaluation does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Unpack

from events import query as engine
from projects.models import Project

from .evaluation import Outcome, decide, reduce, step_for
from .models import AlertRule, State
from .services import RuleChanges


def backtest(project: Project, *, hours: int = 24, now: datetime | None = None,
             **fields: Unpack[RuleChanges]) -> dict:
    """``fields``: a rule's, as services.create_rule takes them (left out, a new rule's
    default); the rule is not saved, and a query that does not parse is the engine's error.
    Returns the query's answer, the threshold and, per group, the value the condition compares
    (the reducer over the window at each bucket) and the periods it would have fired:
    ``[{"group", "reduced": [[ms, value]], "periods": [[start_ms, end_ms | null]]}]`` (null:
    still firing at the end)."""
    rule = AlertRule(project=project, **fields)
    now = now or datetime.now(UTC)
    window = timedelta(minutes=rule.window_minutes)
    answer = engine.execute(project, query=rule.query,
                            start=(now - timedelta(hours=hours) - window).isoformat(),
                            end=now.isoformat(), step=step_for(rule.window_minutes)
                            if hours <= 24 else None, now=now)
    groups = []
    for series in answer["data"]:
        if series.get("other"):
            continue
        points = [(datetime.fromtimestamp(t / 1000, UTC), v) for t, v in series["points"]]
        state, pending, periods, reduced = State.OK, None, [], []
        first = now - timedelta(hours=hours)
        for i, (at, _) in enumerate(points):
            if at < first:
                continue
            values = [v for t, v in points[:i + 1] if v is not None and t > at - window]
            outcome = Outcome(group=series["tags"] or {}, value=reduce(values, rule.reducer))
            reduced.append([int(at.timestamp() * 1000), outcome.value])
            decision = decide(rule, state, pending, outcome, at)
            if decision.state == State.FIRING and state != State.FIRING:
                periods.append([int(at.timestamp() * 1000), None])
            elif state == State.FIRING and decision.state != State.FIRING:
                periods[-1][1] = int(at.timestamp() * 1000)
            state, pending = decision.state, decision.pending_since
        groups.append({"group": series["tags"] or {}, "periods": periods, "reduced": reduced})
    return {"data": answer["data"], "meta": answer["meta"], "threshold": rule.threshold,
            "reducer_label": f"{rule.reducer} over {rule.window_minutes} min", "fired": groups}
