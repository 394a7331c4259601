"""The evaluator on real PostgreSQL with a controllable clock: data written through the real
write path, folded into the rollups, read through events.query; every state of the machine,
grouped instances, silences, reminders and what each transition queues."""

from datetime import UTC, datetime, timedelta

import pytest

from alerts import evaluation, services
from alerts.models import AlertEvent, AlertInstance, AlertRule, Notification, State
from events import rollups

BASE = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)


@pytest.fixture
def project(make_project):
    return make_project("Fleet")


@pytest.fixture
def channel(project, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    return services.create_channel(project=project, name="ops hook", kind="webhook",
                                   url="http://127.0.0.1:9/hook")


def _cpu(store, project, values: dict[str, list[tuple[int, float]]]):
    """values: host -> [(minute offset from BASE, value)]."""
    store.points(project, [
        {"name": "cpu", "value": v, "tags": {"host": host},
         "timestamp": (BASE + timedelta(minutes=m)).isoformat()}
        for host, points in values.items() for m, v in points])
    rollups.fold()


def _rule(project, channel=None, **fields):
    data = {"name": "CPU high", "query": "avg:cpu{}", "reducer": "avg", "window_minutes": 5,
            "condition": "gt", "threshold": 80, "interval_seconds": 10, **fields}
    if channel is not None:
        data["channels"] = [channel.pk]
    return services.create_rule(project=project, **data)


def _run(at: datetime) -> tuple[evaluation.Report, list[int]]:
    queued = []
    report = evaluation.evaluate_due(now=at, enqueue=queued.append)
    return report, queued


def _state(rule, group_key=""):
    return AlertInstance.objects.get(rule=rule, group_key=group_key).state


def test_pending_firing_resolved_with_one_notification_each(store, project, channel):
    _cpu(store, project, {"web-1": [(m, 90.0) for m in range(-10, 1)]})
    rule = _rule(project, channel, for_seconds=60)

    _, queued = _run(BASE)
    assert _state(rule) == State.PENDING and queued == []
    _, queued = _run(BASE + timedelta(seconds=30))
    assert _state(rule) == State.PENDING and queued == []  # `for` (60 s) not yet held
    _, queued = _run(BASE + timedelta(seconds=60))
    assert _state(rule) == State.FIRING
    firing = Notification.objects.get(pk=queued[0])
    assert len(queued) == 1 and firing.kind == "firing" and firing.channel == channel
    assert firing.payload["value"] == 90.0 and firing.payload["threshold"] == 80.0
    assert firing.payload["message"].startswith("[FIRING] CPU high: 90 > 80 — ")
    assert firing.payload["url"].endswith(f"/projects/{project.pk}/alerts/{rule.pk}/")

    _, queued = _run(BASE + timedelta(seconds=90))  # still firing: no second notification
    assert _state(rule) == State.FIRING and queued == []

    _cpu(store, project, {"web-1": [(m, 10.0) for m in range(1, 8)]})
    resolved_at = BASE + timedelta(minutes=7)
    _, queued = _run(resolved_at)
    assert _state(rule) == State.OK
    resolved = Notification.objects.get(pk=queued[0])
    assert len(queued) == 1 and resolved.kind == "resolved"
    assert resolved.payload["message"].startswith("[OK] CPU high: 10 > 80")

    history = list(AlertEvent.objects.filter(rule=rule).order_by("triggered_at")
                   .values_list("previous", "status", "value"))
    assert history == [("ok", "pending", 90.0), ("pending", "firing", 90.0),
                       ("firing", "ok", 10.0)]
    fired = AlertEvent.objects.get(rule=rule, status="firing")
    assert (fired.triggered_at, fired.resolved_at) == (BASE + timedelta(seconds=60), resolved_at)


def test_a_rule_is_evaluated_when_due_only(store, project):
    _cpu(store, project, {"web-1": [(0, 90.0)]})
    rule = _rule(project, interval_seconds=60)
    report, _ = _run(BASE)
    assert report.rules == 1
    rule.refresh_from_db()
    assert rule.next_evaluation_at == BASE + timedelta(seconds=60)
    assert _run(BASE + timedelta(seconds=30))[0].rules == 0
    assert _run(BASE + timedelta(seconds=60))[0].rules == 1


def test_no_data_is_shown_or_treated_as_the_rule_says(store, project, channel):
    shown = _rule(project, channel, name="shown", query="avg:nothing{}")
    as_ok = _rule(project, channel, name="as ok", query="avg:nothing{}", no_data="ok")
    alerting = _rule(project, channel, name="alerting", query="avg:nothing{}",
                     no_data="alerting")
    _, queued = _run(BASE)
    assert (_state(shown), _state(as_ok), _state(alerting)) == ("no_data", "ok", "firing")
    assert [Notification.objects.get(pk=q).payload["rule"]["name"] for q in queued] == [
        "alerting"]
    assert Notification.objects.get(pk=queued[0]).payload["message"].startswith(
        "[FIRING] alerting: no data > 80")


def test_a_failing_query_is_an_error_never_ok(store, project, channel):
    _cpu(store, project, {"web-1": [(m, 90.0) for m in range(-5, 1)]})
    rule = _rule(project, channel)
    _, queued = _run(BASE)
    assert _state(rule) == State.FIRING and len(queued) == 1
    AlertRule.objects.filter(pk=rule.pk).update(query="avg:cpu{host:")  # broken later on
    _, queued = _run(BASE + timedelta(seconds=10))
    instance = AlertInstance.objects.get(rule=rule)
    assert instance.state == State.ERROR
    assert instance.error.startswith("Expected") and "position 13" in instance.error
    rule.refresh_from_db()
    assert rule.last_error == instance.error
    assert queued == []  # an error is shown, not announced as resolved
    event = AlertEvent.objects.filter(rule=rule).first()
    assert (event.previous, event.status, event.error) == ("firing", "error", instance.error)
    # Fixed: back to firing, in the same firing period — not announced a second time.
    AlertRule.objects.filter(pk=rule.pk).update(query="avg:cpu{}")
    _, queued = _run(BASE + timedelta(seconds=20))
    assert _state(rule) == State.FIRING and queued == []


def test_grouped_queries_make_one_instance_per_group(store, project, channel):
    _cpu(store, project, {"web-1": [(m, 95.0) for m in range(-5, 1)],
                          "web-2": [(m, 20.0) for m in range(-5, 1)]})
    rule = _rule(project, channel, query="max:cpu{} by {host}")
    _, queued = _run(BASE)
    states = dict(AlertInstance.objects.filter(rule=rule).values_list("group_key", "state"))
    assert states == {'{"host":"web-1"}': "firing", '{"host":"web-2"}': "ok"}
    note = Notification.objects.get(pk=queued[0])
    assert len(queued) == 1 and note.payload["group"] == {"host": "web-1"}
    assert "(host=web-1)" in note.payload["message"]
    # web-1 stops reporting: its instance has no data, web-2 is still OK.
    _cpu(store, project, {"web-2": [(m, 20.0) for m in range(1, 10)]})
    _run(BASE + timedelta(minutes=9))
    states = dict(AlertInstance.objects.filter(rule=rule).values_list("group_key", "state"))
    assert states == {'{"host":"web-1"}': "no_data", '{"host":"web-2"}': "ok"}


def test_same_query_rules_share_one_execution(store, project):
    _cpu(store, project, {"web-1": [(0, 90.0)]})
    for threshold in (10, 50, 100):
        _rule(project, name=f"cpu > {threshold}", threshold=threshold)
    _rule(project, name="other window", window_minutes=10)
    report, _ = _run(BASE)
    assert (report.rules, report.executions) == (4, 2)


def test_silences_mute_notifications_but_keep_the_history(store, project, channel):
    from alerts.models import Silence

    _cpu(store, project, {"web-1": [(m, 90.0) for m in range(-5, 1)]})
    rule = _rule(project, channel, labels={"team": "web"})
    Silence.objects.create(project=project, matchers={"team": "web"}, reason="maintenance",
                           starts_at=BASE - timedelta(minutes=1),
                           ends_at=BASE + timedelta(seconds=15))
    _, queued = _run(BASE)
    assert _state(rule) == State.FIRING and queued == []
    assert AlertEvent.objects.get(rule=rule, status="firing").silenced is True
    _, queued = _run(BASE + timedelta(seconds=20))  # the silence is over, it still fires
    assert [Notification.objects.get(pk=q).kind for q in queued] == ["firing"]


def test_reminders_follow_the_renotify_interval(store, project, channel):
    _cpu(store, project, {"web-1": [(m, 90.0) for m in range(-5, 4)]})
    _rule(project, channel, renotify_minutes=1)
    kinds = []
    for seconds in (0, 30, 60, 90, 120):
        _, queued = _run(BASE + timedelta(seconds=seconds))
        kinds.append([Notification.objects.get(pk=q).kind for q in queued])
    assert kinds == [["firing"], [], ["reminder"], [], ["reminder"]]


@pytest.mark.parametrize(("reducer", "expected"), [
    ("last", 5.0), ("avg", 3.0), ("min", 1.0), ("max", 5.0), ("sum", 15.0), ("p95", 5.0)])
def test_reducers(reducer, expected):
    assert evaluation.reduce([1.0, 2.0, 3.0, 4.0, 5.0], reducer) == expected
    assert evaluation.reduce([], reducer) is None


@pytest.mark.parametrize(("condition", "value", "expected"), [
    ("gt", 80, False), ("gte", 80, True), ("lt", 79.9, True), ("lte", 80.1, False),
    ("eq", 80, True), ("ne", 80, False)])
def test_conditions(condition, value, expected):
    assert evaluation.holds(value, condition, 80) is expected


def test_templates_fill_placeholders_only(project):
    rule = AlertRule(project=project, name="Disk", query="max:disk{}", condition="gte",
                     threshold=0.9, severity="critical",
                     message="{rule} {severity} {value} {condition} {threshold}{group} "
                             "{value.__class__} {value:>999999}")
    rule.pk = 7
    text = evaluation.render_message(rule, "firing", 0.95, {"mount": "/"})
    assert text == "Disk critical 0.95 ≥ 0.9 (mount=/) {value.__class__} {value:>999999}"


@pytest.mark.parametrize("seconds_into_minute", [0, 30, 59])
def test_the_window_is_exactly_its_minutes_of_buckets(store, project, seconds_into_minute):
    _cpu(store, project, {"web-1": [(m, 1.0) for m in range(-20, 1)]})
    rule = _rule(project, query="sum:cpu{}", reducer="sum", window_minutes=5, threshold=100)
    _run(BASE + timedelta(seconds=seconds_into_minute))
    # Buckets BASE-4m .. BASE: five points of 1, wherever in the minute the cycle runs.
    assert AlertInstance.objects.get(rule=rule).value == 5.0
