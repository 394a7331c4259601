"""Evaluating alert rules: the query through ``events.query``, the reducer over the window, the
condition, and the state machine of each group's instance.

    OK ──condition──▶ PENDING ──held `for`──▶ FIRING ──condition false──▶ OK (resolved)
    (for = 0: OK ──▶ FIRING at once)            any ──query failed──▶ ERROR
                                                any ──no data──▶ NO_DATA (or OK / alerting)

``evaluate_due`` takes the enabled rules that are due, in batches locked with SKIP LOCKED (two
evaluators never take the same rule), until its time budget is spent; what it does not reach
stays due for the next cycle. Rules asking the same query over the same window in one cycle share
one execution. Each batch is one transaction: instances, history and queued notifications are
committed together, and deliveries are enqueued only after the commit.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from analytics_site.errors import ApiError
from events import live, units
from events import query as engine

from . import notifications
from .models import (
    AlertEvent,
    AlertInstance,
    AlertRule,
    Condition,
    NoData,
    Notification,
    Silence,
    State,
)

logger = logging.getLogger(__name__)

BATCH = 500
CYCLE_BUDGET_S = 8.0  # the schedule is every 10 s


# -- pure parts -----------------------------------------------------------------------------------
def reduce(values: list[float], reducer: str) -> float | None:
    if not values:
        return None
    if reducer == "last":
        return values[-1]
    if reducer == "avg":
        return sum(values) / len(values)
    if reducer == "min":
        return min(values)
    if reducer == "max":
        return max(values)
    if reducer == "sum":
        return float(sum(values))
    if reducer == "p95":  # nearest rank, like the engine's percentile_disc
        ordered = sorted(values)
        return ordered[max(1, math.ceil(0.95 * len(ordered))) - 1]
    raise ValueError(f"unknown reducer {reducer!r}")


def holds(value: float, condition: str, threshold: float) -> bool:
    return {Condition.GT: value > threshold, Condition.GTE: value >= threshold,
            Condition.LT: value < threshold, Condition.LTE: value <= threshold,
            Condition.EQ: value == threshold, Condition.NE: value != threshold}[condition]


def step_for(window_minutes: int) -> str:
    """Buckets of a minute for windows of two minutes and more (the minute rollup answers), of
    10 s below that."""
    return "1m" if window_minutes >= 2 else "10s"


def window_bounds(now: datetime, window_minutes: int) -> tuple[datetime, datetime]:
    """The window: exactly ``window_minutes`` of buckets, the last one the bucket ``now`` is in
    (so far) — what the backtest reduces too."""
    step = 60 if step_for(window_minutes) == "1m" else 10
    end = datetime.fromtimestamp(now.timestamp() // step * step + step, now.tzinfo)
    return end - timedelta(minutes=window_minutes), end


def group_key(tags: dict) -> str:
    return json.dumps(tags, sort_keys=True, separators=(",", ":")) if tags else ""


@dataclass
class Outcome:
    """What one evaluation saw for one group."""

    group: dict
    value: float | None = None
    error: str = ""
    anomaly: object | None = None  # condition anomaly: the model's anomaly of this series
    unit: str = ""  # of the rule's query (the answer's), for the message

    @property
    def key(self) -> str:
        return group_key(self.group)


def outcomes_of(answer: dict, reducer: str) -> list[Outcome]:
    found = []
    for series in answer["data"]:
        if series.get("other"):
            continue  # the rest folded by a top-N: not a group of its own
        values = [v for _, v in series["points"] if v is not None]
        found.append(Outcome(group=series["tags"] or {}, value=reduce(values, reducer),
                             unit=series.get("unit", "")))
    return found


@dataclass
class Decision:
    state: str
    pending_since: datetime | None
    condition_true: bool | None  # None: no value to compare


def decide(rule, previous: str, pending_since: datetime | None, outcome: Outcome,
           now: datetime) -> Decision:
    """The next state of one instance."""
    if outcome.error:
        return Decision(State.ERROR, None, None)
    if outcome.value is None:
        if rule.no_data == NoData.NO_DATA:
            return Decision(State.NO_DATA, None, None)
        true = rule.no_data == NoData.ALERTING
    elif rule.condition == Condition.ANOMALY:
        true = outcome.anomaly is not None and outcome.value >= rule.threshold
    else:
        true = holds(outcome.value, rule.condition, rule.threshold)
    if not true:
        return Decision(State.OK, None, False)
    if previous == State.FIRING:
        return Decision(State.FIRING, None, True)
    since = pending_since if previous == State.PENDING and pending_since else now
    if now - since >= timedelta(seconds=rule.for_seconds):
        return Decision(State.FIRING, None, True)
    return Decision(State.PENDING, since, True)


def silenced(rule, group: dict, silences: list[Silence], now: datetime) -> bool:
    labels = {**{str(k): str(v) for k, v in (rule.labels or {}).items()},
              **{str(k): str(v) for k, v in group.items()}}
    for silence in silences:
        if silence.project_id != rule.project_id or not (silence.starts_at <= now
                                                         < silence.ends_at):
            continue
        if silence.rule_id is not None and silence.rule_id != rule.pk:
            continue
        if all(labels.get(k) == str(v) for k, v in (silence.matchers or {}).items()):
            return True
    return False


PLACEHOLDER = re.compile(r"\{(rule|state|value|condition|threshold|severity|group|url)\}")


def format_value(value: float | None, unit: str = "") -> str:
    """A value of the rule's query in its unit, as everywhere (``events.units``): 1.2 s."""
    if value is None:
        return "no data"
    return units.format_value(value, unit)


def rule_unit(rule) -> str:
    """The unit of the rule's query (none for an anomaly rule: its values are scores)."""
    if rule.condition == Condition.ANOMALY:
        return ""
    try:
        return engine.query_unit(rule.project, rule.query)
    except ApiError:
        return ""


def rule_url(rule) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}/projects/{rule.project_id}/alerts/{rule.pk}/"


def render_message(rule, state: str, value: float | None, group: dict, unit: str = "") -> str:
    """The rule's template with its placeholders filled (plain replacement: no attribute
    access, no format specs — a template is user input); the value and the threshold in the
    query's ``unit``."""
    fill = {
        "rule": rule.name, "state": State(state).label.upper(),
        "value": format_value(value, unit), "condition": Condition(rule.condition).label,
        "threshold": format_value(rule.threshold, unit),
        "severity": rule.severity,
        "group": f" ({', '.join(f'{k}={v}' for k, v in sorted(group.items()))})" if group
        else "",
        "url": rule_url(rule),
    }
    return PLACEHOLDER.sub(lambda m: fill[m.group(1)], rule.message or "")[:4000]


def anomaly_of(rule, anomaly) -> dict:
    """What a notification says of the anomaly that fired it: why, and where to see it."""
    explanation = list(anomaly.explanation or [])
    return {"id": anomaly.pk, "model": rule.anomaly_model_id,
            "url": f"{settings.PUBLIC_URL.rstrip('/')}/projects/{rule.project_id}/ml/"
                   f"anomalies/{anomaly.pk}/",
            "started_at": anomaly.started_at.isoformat(), "peak_score": anomaly.peak_score,
            "severity": anomaly.severity, "explanation": explanation,
            "text": "; ".join(str(e.get("text", "")) for e in explanation[:3]
                              if isinstance(e, dict) and e.get("text"))}


def payload(rule, kind: str, state: str, value, group: dict, triggered_at: datetime,
            resolved_at: datetime | None = None, anomaly=None, unit: str = "") -> dict:
    body = {
        "kind": kind, "state": state,
        "rule": {"id": rule.pk, "name": rule.name, "query": rule.query,
                 "severity": rule.severity, "labels": rule.labels},
        "project": rule.project_id, "group": group, "value": value, "unit": unit,
        "condition": rule.condition, "threshold": rule.threshold,
        "triggered_at": triggered_at.isoformat(),
        "resolved_at": resolved_at.isoformat() if resolved_at else None,
        "message": render_message(rule, state, value, group, unit), "url": rule_url(rule),
    }
    if anomaly is not None:
        body["anomaly"] = anomaly_of(rule, anomaly)
        why = body["anomaly"]["text"] or "No explanation."
        body["message"] = (f"{body['message']}\nAnomaly: {why} — "
                           f"{body['anomaly']['url']}")[:4000]
    return body


# -- one batch ------------------------------------------------------------------------------------
@dataclass
class Report:
    rules: int = 0
    executions: int = 0
    transitions: int = 0
    notifications: int = 0
    errors: int = 0
    batches: int = 0
    queued: list[int] = field(default_factory=list)  # notification ids to deliver
    # (report id, notification ids, fired at, rule name): firings whose rule names a report;
    # those notifications wait for it (notifications.request_reports)
    reports: list[tuple] = field(default_factory=list)


def _answer(rule, now: datetime, memo: dict, report: Report):
    start, end = window_bounds(now, rule.window_minutes)
    key = (rule.project_id, rule.query, rule.window_minutes, end)
    if key not in memo:
        report.executions += 1
        try:
            memo[key] = engine.execute(
                rule.project, query=rule.query, start=start.isoformat(), end=end.isoformat(),
                step=step_for(rule.window_minutes), now=now,
                use_cache=False)  # shared through `memo` in the cycle; fresh every cycle
        except ApiError as exc:
            memo[key] = exc
        except DatabaseError as exc:  # the statement was cancelled, the server went away ...
            memo[key] = exc
    return memo[key]


def _outcomes(rule, answer, instances: dict[str, AlertInstance]) -> list[Outcome]:
    if isinstance(answer, Exception):
        message = getattr(answer, "message", None) or str(answer).strip() or type(answer).__name__
        keys = instances or {"": None}
        return [Outcome(group=(instances[k].group if k in instances else {}), error=message)
                for k in keys]
    seen = outcomes_of(answer, rule.reducer)
    keys = {o.key for o in seen}
    unit = next((s.get("unit", "") for s in answer["data"]), "")
    # Groups that were there before and are gone now have no data.
    seen += [Outcome(group=i.group, unit=unit) for k, i in instances.items() if k not in keys]
    if not seen:
        seen = [Outcome(group={}, unit=unit)]
    return seen


def _anomaly_outcomes(rule, now: datetime, instances: dict[str, AlertInstance]) -> list[Outcome]:
    """Condition anomaly: per series of the rule's model, the highest-scoring of its anomalies
    open now or ended within the window (not marked "not an anomaly"), its peak score the
    value; without one, the series' last score. Read through the rule's foreign key (the
    alerts app does not import ml)."""
    model = rule.anomaly_model
    if model is None:
        keys = instances or {"": None}
        return [Outcome(group=(instances[k].group if k in instances else {}),
                        error="The rule's anomaly model was deleted.") for k in keys]
    start = now - timedelta(minutes=rule.window_minutes)
    best: dict[int, object] = {}
    for anomaly in (model.anomalies.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start),
                                           started_at__lte=now)
                    .exclude(feedback="not_anomaly").order_by("peak_score")):
        best[anomaly.series_id] = anomaly  # the highest last
    seen = []
    for series in model.series.all():
        anomaly = best.get(series.pk)
        seen.append(Outcome(group=series.tags or {}, anomaly=anomaly,
                            value=anomaly.peak_score if anomaly else series.last_score))
    keys = {o.key for o in seen}
    seen += [Outcome(group=i.group) for k, i in instances.items() if k not in keys]
    return seen or [Outcome(group={})]


def evaluate_rules(rules: list[AlertRule], now: datetime, memo: dict, report: Report) -> None:
    """Evaluate ``rules`` (locked by the caller's transaction) at ``now``."""
    by_rule: dict[int, dict[str, AlertInstance]] = {r.pk: {} for r in rules}
    for instance in AlertInstance.objects.filter(rule__in=rules):
        by_rule[instance.rule_id][instance.group_key] = instance
    silences = list(Silence.objects.filter(project__in={r.project_id for r in rules},
                                           starts_at__lte=now, ends_at__gt=now))
    channels: dict[int, list] = {}  # read when a rule has something to send (rarely)
    new_instances, changed, events, notes = [], [], [], []
    closing: list[AlertInstance] = []  # instances whose firing period ends now
    for rule in rules:
        report.rules += 1
        instances = by_rule[rule.pk]
        if rule.condition == Condition.ANOMALY:
            outcomes = _anomaly_outcomes(rule, now, instances)
        else:
            outcomes = _outcomes(rule, _answer(rule, now, memo, report), instances)
        errors = []
        for outcome in outcomes:
            instance = instances.get(outcome.key)
            previous = instance.state if instance else State.OK
            pending = instance.pending_since if instance else None
            decision = decide(rule, previous, pending, outcome, now)
            if outcome.error:
                errors.append(outcome.error)
            if instance is None:
                instance = AlertInstance(rule=rule, group_key=outcome.key, group=outcome.group,
                                         state=State.OK, since=now, evaluated_at=now)
                new_instances.append(instance)
            else:
                changed.append(instance)
            instance.value = outcome.value
            instance.error = outcome.error
            instance.evaluated_at = now
            instance.pending_since = decision.pending_since
            muted = silenced(rule, outcome.group, silences, now)
            kinds = []
            if decision.state != previous:
                report.transitions += 1
                instance.state, instance.since = decision.state, now
                events.append(AlertEvent(rule=rule, instance=instance, group=outcome.group,
                                         status=decision.state, previous=previous,
                                         value=outcome.value, error=outcome.error,
                                         triggered_at=now, silenced=muted))
                if previous == State.FIRING and decision.state == State.OK:
                    closing.append(instance)
                if decision.state == State.FIRING and not instance.notified_firing and not muted:
                    kinds.append(Notification.Kind.FIRING)
                    instance.notified_firing = True
                elif decision.state == State.OK and instance.notified_firing:
                    if not muted:
                        kinds.append(Notification.Kind.RESOLVED)
                    instance.notified_firing = False
            elif (decision.state == State.FIRING and rule.renotify_minutes and not muted
                  and instance.notified_firing and instance.last_notified_at
                  and now - instance.last_notified_at >= timedelta(
                      minutes=rule.renotify_minutes)):
                kinds.append(Notification.Kind.REMINDER)
            elif decision.state == State.FIRING and not instance.notified_firing and not muted:
                # It fired while silenced and still fires after the silence: announce it now.
                kinds.append(Notification.Kind.FIRING)
                instance.notified_firing = True
            for kind in kinds:
                instance.last_notified_at = now
                state = State.OK if kind == Notification.Kind.RESOLVED else State.FIRING
                body = payload(rule, kind, state, outcome.value, outcome.group,
                               triggered_at=instance.since if kind != Notification.Kind.RESOLVED
                               else now, resolved_at=now if state == State.OK else None,
                               anomaly=outcome.anomaly if state == State.FIRING else None,
                               unit=outcome.unit)
                if rule.pk not in channels:
                    channels[rule.pk] = list(rule.channels.filter(enabled=True))
                held = rule.report_id is not None and kind == Notification.Kind.FIRING
                if held:  # it waits for the report, at most REPORT_WAIT (then goes without)
                    body["report"] = {"id": rule.report_id, "status": "rendering"}
                for channel in channels[rule.pk]:
                    notes.append((events[-1] if decision.state != previous else None,
                                  Notification(channel=channel, kind=kind, payload=body,
                                               next_attempt_at=now + notifications.REPORT_WAIT
                                               if held else None)))
        rule.last_evaluated_at = now
        rule.next_evaluation_at = now + timedelta(seconds=rule.interval_seconds)
        rule.last_error = "; ".join(sorted(set(errors)))[:2000]
        report.errors += bool(errors)

    AlertInstance.objects.bulk_create(new_instances)
    _save_instances(changed)
    AlertEvent.objects.bulk_create(events)
    if closing:  # their firing periods end now (one statement for the batch)
        AlertEvent.objects.filter(instance_id__in=[i.pk for i in closing], status=State.FIRING,
                                  resolved_at__isnull=True, triggered_at__lt=now).update(
            resolved_at=now)
    for event, note in notes:
        note.event = event
    created = Notification.objects.bulk_create([n for _, n in notes])
    report.notifications += len(created)
    waiting: dict[tuple, list[int]] = {}
    for note in created:
        if note.payload.get("report"):
            waiting.setdefault((note.payload["report"]["id"], note.payload["rule"]["name"]),
                               []).append(note.pk)
        else:
            report.queued.append(note.pk)
    report.reports += [(report_id, ids, now.isoformat(), name)
                       for (report_id, name), ids in waiting.items()]
    _save_rules(rules)
    if events:
        projects = {e.rule.project_id for e in events}
        transaction.on_commit(lambda: _announce(projects))


# One UPDATE ... FROM unnest(...) per batch: Django's bulk_update builds a CASE per row and
# field, which took ~1 s per 500 instances.
def _save_instances(instances: list[AlertInstance]) -> None:
    if not instances:
        return
    columns = list(zip(*[(i.pk, i.state, i.value, i.error, i.since, i.pending_since,
                          i.notified_firing, i.last_notified_at, i.evaluated_at)
                         for i in instances], strict=True))
    with connection.cursor() as cursor:
        cursor.execute("""
            UPDATE alerts_alertinstance AS i
            SET state = u.state, value = u.value, error = u.error, since = u.since,
                pending_since = u.pending_since, notified_firing = u.notified_firing,
                last_notified_at = u.last_notified_at, evaluated_at = u.evaluated_at
            FROM unnest(%s::bigint[], %s::text[], %s::float8[], %s::text[],
                        %s::timestamptz[], %s::timestamptz[], %s::bool[], %s::timestamptz[],
                        %s::timestamptz[])
                 AS u(id, state, value, error, since, pending_since, notified_firing,
                      last_notified_at, evaluated_at)
            WHERE i.id = u.id""", [list(c) for c in columns])


def _save_rules(rules: list[AlertRule]) -> None:
    columns = list(zip(*[(r.pk, r.last_evaluated_at, r.next_evaluation_at, r.last_error)
                         for r in rules], strict=True))
    with connection.cursor() as cursor:
        cursor.execute("""
            UPDATE alerts_alertrule AS r
            SET last_evaluated_at = u.last_evaluated_at,
                next_evaluation_at = u.next_evaluation_at, last_error = u.last_error
            FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], %s::text[])
                 AS u(id, last_evaluated_at, next_evaluation_at, last_error)
            WHERE r.id = u.id""", [list(c) for c in columns])


def _announce(projects: set[int]) -> None:
    """Tell open pages of these projects that alert states changed (dashboards redraw their
    alert bands and badges). Best effort, like every live message."""
    for project_id in projects:
        live.publish_sync(project_id, {"type": "live.alerts"})


# -- cycles ---------------------------------------------------------------------------------------
# Cycles run every 10 s and start a little early or late (beat's ticks, a busy worker): a rule
# is taken by the cycle nearest its due time, so a 10 s rule is evaluated every cycle instead
# of every other one when a cycle starts at 9.9 s.
DUE_SLACK = timedelta(seconds=5)


def due_rules(now: datetime):
    return (AlertRule.objects.filter(enabled=True)
            .filter(Q(next_evaluation_at__isnull=True)
                    | Q(next_evaluation_at__lte=now + DUE_SLACK)))


def evaluate_due(now: datetime | None = None, budget_s: float = CYCLE_BUDGET_S,
                 batch: int = BATCH, enqueue=None) -> Report:
    """One cycle: due rules in locked batches until none is left or the budget is spent.

    Each batch reads the clock anew (a cycle of many rules lasts seconds: data that arrived
    meanwhile counts) unless ``now`` is given (tests). Its notifications are queued as soon as
    it commits, not at the end of the cycle."""
    report = Report()
    memo: dict = {}
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline:
        at = now or timezone.now()
        queued = len(report.queued)
        asked = len(report.reports)
        with transaction.atomic():
            rules = list(due_rules(at).select_related("project")
                         .select_for_update(skip_locked=True, of=("self",))
                         .order_by("next_evaluation_at", "id")[:batch])
            if not rules:
                break
            report.batches += 1
            evaluate_rules(rules, at, memo, report)
        notifications.enqueue(report.queued[queued:], enqueue)
        notifications.request_reports(report.reports[asked:])
    return report


def evaluate_now(rule: AlertRule, now: datetime | None = None, enqueue=None) -> Report:
    """Evaluate one rule at once (the "evaluate now" button), due or not."""
    now = now or timezone.now()
    report = Report()
    with transaction.atomic():
        locked = list(AlertRule.objects.filter(pk=rule.pk).select_related("project")
                      .select_for_update(of=("self",)))
        evaluate_rules(locked, now, {}, report)
    notifications.enqueue(report.queued, enqueue)
    notifications.request_reports(report.reports)
    return report
