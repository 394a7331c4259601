"""The admin shows a staff user nothing of a project they do not administer.

The matrix walks ``admin.site._registry``, so a model registered later is checked as well: it
fails here until ``build_world`` makes an object of it on each side and its admin is scoped (or,
for a model with no project, kept for superusers). The staff user administers project B only, holds
every Django permission (the worst case) and is, depending on the run, not a member of project A,
or a viewer or an editor there. Every view of every model is asked about A's objects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import models
from django.forms import ModelChoiceField
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from alerts.models import (
    AlertEvent,
    AlertInstance,
    AlertRule,
    DeliveryAttempt,
    Notification,
    NotificationChannel,
    Silence,
)
from events.models import Goal, MetricDefinition, Person, ScrapeTarget, StatsdListener
from ml.models import Anomaly, AnomalyModel, ModelDefaults
from projects import services
from projects.models import Membership, Role
from reports.models import Recipient, Report, Run, Schedule

pytestmark = pytest.mark.django_db

SECRET = "alpha-secret"  # in the names of A's objects: no page shown to B's admin may contain it
EXPORTER = "http://93.184.216.34:9100/metrics"  # public: scrape targets refuse internal addresses

# Where each model's project is, as this test sees it (independently of the admin's own paths).
PROJECT_PATHS = {
    "projects.project": "pk",
    "projects.membership": "project_id",
    "projects.ingestkey": "project_id",
    "events.statsdlistener": "ingest_key__project_id",
    "events.scrapetarget": "project_id",
    "events.goal": "project_id",
    "events.person": "project_id",
    "events.metricdefinition": "project_id",
    "alerts.notificationchannel": "project_id",
    "reports.report": "project_id",
    "reports.block": "report__project_id",
    "reports.schedule": "report__project_id",
    "reports.recipient": "report__project_id",
    "reports.run": "report__project_id",
    "alerts.alertrule": "project_id",
    "alerts.alertinstance": "rule__project_id",
    "alerts.alertevent": "rule__project_id",
    "alerts.silence": "project_id",
    "alerts.notification": "channel__project_id",
    "alerts.deliveryattempt": "notification__channel__project_id",
    "dashboards.dashboard": "project_id",
    "dashboards.panel": "dashboard__project_id",
    "dashboards.annotation": "project_id",
    "ml.anomalymodel": "project_id",
    "ml.modelseries": "model__project_id",
    "ml.modeldefaults": "project_id",
    "ml.anomaly": "project_id",
}
# Models of no project: a staff user who is not a superuser must not reach them at all.
GLOBAL_MODELS = {
    "auth.group", "auth.permission", "contenttypes.contenttype",
    "django_celery_beat.periodictask", "django_celery_beat.intervalschedule",
    "django_celery_beat.crontabschedule", "django_celery_beat.solarschedule",
    "django_celery_beat.clockedschedule",
}
ACTIONS = ["index", "changelist", "change", "delete", "history", "bulk", "form", "add",
           "autocomplete"]


@dataclass
class AddSpec:
    """How to fill a model's add form: its relations (field -> model label) and the rest."""

    relations: dict[str, str]
    data: callable
    control: bool = True  # an all-B post must be saved (proves the payload is otherwise valid)


def _split(moment: dt.datetime, name: str) -> dict:
    local = timezone.localtime(moment)
    return {f"{name}_0": local.strftime("%Y-%m-%d"), f"{name}_1": local.strftime("%H:%M:%S")}


RULE_FIELDS = {"query": "avg:cpu{}", "reducer": "avg", "window_minutes": 5, "condition": "gt",
               "threshold": 1, "for_seconds": 0, "severity": "warning", "enabled": "on",
               "labels": "{}", "no_data": "no_data", "renotify_minutes": 0, "message": "{rule}",
               "interval_seconds": 60}
ADD = {
    # Adding a member of B's project twice is refused whatever the form, so no control post.
    "projects.membership": AddSpec({"project": "projects.project", "user": "auth.user"},
                                   lambda n: {"role": Role.VIEWER}, control=False),
    "projects.ingestkey": AddSpec({"project": "projects.project"}, lambda n: {
        "name": f"key {n}", "allowed_origins": "[]", "rate_limit_per_s": ""}),
    "projects.apitoken": AddSpec({"user": "auth.user"}, lambda n: {
        "name": f"token {n}", "scopes": '["read"]', "expires_at_0": "", "expires_at_1": ""}),
    "events.statsdlistener": AddSpec({"ingest_key": "projects.ingestkey"}, lambda n: {
        "name": f"listener {n}", "host": "127.0.0.1", "port": 21000 + n, "udp": "on",
        "tcp": "on", "flush_interval_s": 10, "enabled": "on"}),
    "events.scrapetarget": AddSpec({"project": "projects.project"}, lambda n: {
        "name": f"target {n}", "url": EXPORTER, "interval_s": 15,
        "timeout_s": 5, "labels": "{}", "enabled": "on"}),
    "events.goal": AddSpec({"project": "projects.project"}, lambda n: {
        "name": f"goal {n}", "event": "signup", "path_pattern": ""}),
    "events.metricdefinition": AddSpec({"project": "projects.project"}, lambda n: {
        "name": f"metric.{n}", "description": "", "unit": "ms", "type": "gauge"}),
    "reports.report": AddSpec(
        {"project": "projects.project", "channels": "alerts.notificationchannel",
         "created_by": "auth.user"},
        lambda n: {"title": f"report {n}", "description": "", "timezone": "", "range": "last_7d",
                   "variables": "[]", "compare": "on", "blocks-TOTAL_FORMS": 0,
                   "blocks-INITIAL_FORMS": 0}),
    "reports.schedule": AddSpec({"report": "reports.report"}, lambda n: {
        "kind": "daily", "time": "09:00", "weekday": 0, "day_of_month": 1, "cron": "",
        "enabled": "on"}, control=False),  # B's report already has its schedule
    "reports.recipient": AddSpec({"report": "reports.report"}, lambda n: {
        "email": f"r{n}@example.com", "formats": '["pdf"]', "min_change_percent": ""}),
    "alerts.alertrule": AddSpec(
        {"project": "projects.project", "channels": "alerts.notificationchannel",
         "created_by": "auth.user"},
        lambda n: {"name": f"rule {n}", **RULE_FIELDS}),
    "ml.anomalymodel": AddSpec({"project": "projects.project", "created_by": "auth.user"},
                               lambda n: {"name": f"model {n}", "query": "avg:cpu{}",
                                          "detector": "auto", "sensitivity": "medium",
                                          "training_days": 30, "step_seconds": 300,
                                          "retrain": "nightly", "enabled": "on",
                                          "series-TOTAL_FORMS": 0, "series-INITIAL_FORMS": 0}),
    # One set of defaults a project: B's exists already, so no control post.
    "ml.modeldefaults": AddSpec({"project": "projects.project"}, lambda n: {
        "detector": "auto", "sensitivity": "medium", "training_days": 30, "step_seconds": 300,
        "retrain": "nightly", "training_hour": 3}, control=False),
    "alerts.notificationchannel": AddSpec({"project": "projects.project"}, lambda n: {
        "name": f"channel {n}", "kind": "email", "recipients": '["ops@example.com"]',
        "url": "", "secret": "", "timeout_s": 5, "enabled": "on"}),
    "alerts.silence": AddSpec(
        {"project": "projects.project", "rule": "alerts.alertrule", "created_by": "auth.user"},
        lambda n: {"matchers": "{}", "reason": f"silence {n}",
                   **_split(timezone.now(), "starts_at"),
                   **_split(timezone.now() + dt.timedelta(hours=1), "ends_at")}),
}


def _label(model) -> str:
    return model._meta.label_lower


def _side(project, owner, name: str, port: int) -> dict:
    """One object of every project-bound model, named with ``name``."""
    now = timezone.now()
    key = project.ingest_keys.get()
    key.name = f"{name} key"
    key.save()
    channel = NotificationChannel.objects.create(
        project=project, name=f"{name} channel", kind="email", recipients=[f"{name}@example.com"])
    rule = AlertRule.objects.create(project=project, name=f"{name} rule", query="avg:cpu{}",
                                    threshold=1, created_by=owner)
    rule.channels.add(channel)
    instance = AlertInstance.objects.create(rule=rule, state="firing", since=now, evaluated_at=now)
    event = AlertEvent.objects.create(rule=rule, instance=instance, status="firing",
                                      previous="ok", triggered_at=now)
    notification = Notification.objects.create(channel=channel, event=event, kind="firing",
                                               payload={"text": name})
    token, _ = services.create_api_token(user=owner, name=f"{name} token", scopes=["read"])
    objects = [
        project, project.memberships.get(user=owner), key, token, owner, channel, rule, instance,
        event, notification,
        StatsdListener.objects.create(name=f"{name} listener", ingest_key=key, port=port),
        ScrapeTarget.objects.create(project=project, name=f"{name} target",
                                    url=EXPORTER),
        Silence.objects.create(project=project, rule=rule, starts_at=now,
                               ends_at=now + dt.timedelta(hours=1), reason=f"{name} silence",
                               created_by=owner),
        DeliveryAttempt.objects.create(notification=notification, ok=False,
                                       error=f"{name} attempt"),
        Goal.objects.create(project=project, name=f"{name} goal", event="signup"),
        MetricDefinition.objects.create(project=project, name=f"{name} metric",
                                        description=f"{name} definition", edited_by=owner),
        *_report_objects(project, owner, name, now),
        *_ml_objects(project, owner, name, now),
        Person.objects.create(project=project, person_id=f"{name} person", first_seen=now,
                              last_seen=now, events=1, bot_events=0),
    ]
    return {_label(type(obj)): obj for obj in objects}


def _global_objects() -> dict:
    interval = IntervalSchedule.objects.create(every=17, period="seconds")
    objects = [
        Group.objects.create(name=f"{SECRET} group"), interval,
        CrontabSchedule.objects.create(minute="7"),
        SolarSchedule.objects.create(event="sunrise", latitude=48.85, longitude=2.35),
        ClockedSchedule.objects.create(clocked_time=timezone.now()),
        PeriodicTask.objects.create(name=f"{SECRET} task", task="alerts.evaluate",
                                    interval=interval),
    ]
    return {_label(type(obj)): obj for obj in objects}


def _report_objects(project, owner, name: str, now) -> list:
    report = Report.objects.create(project=project, title=f"{name} report", created_by=owner)
    return [report, Schedule.objects.create(report=report),
            Recipient.objects.create(report=report, email=f"{name}@example.com"),
            Run.objects.create(report=report, trigger="manual", range_start=now,
                               range_end=now, error=f"{name} run")]


def _ml_objects(project, owner, name: str, now) -> list:
    model = AnomalyModel.objects.create(project=project, name=f"{name} model",
                                        query="avg:cpu{}", created_by=owner)
    series = model.series.create(key="", error=f"{name} series")
    return [model, series, ModelDefaults.objects.create(project=project),
            Anomaly.objects.create(project=project, model=model, series=series,
                                   started_at=now, last_seen_at=now, peak_at=now,
                                   peak_score=2.0, tags={"host": f"{name} host"})]


@dataclass
class World:
    projects: dict
    objects: dict  # side -> model label -> one object of that side
    staff: object
    markers: list[str]
    leaks: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)

    def of(self, model, side: str):
        """The objects of ``model`` on ``side`` ('a' or 'b'), or None for a model the test
        cannot place."""
        label, project = _label(model), self.projects[side]
        if label == "auth.user":
            users = get_user_model().objects.filter(memberships__project=project)
            if side == "a":
                users = users.exclude(memberships__project=self.projects["b"])
            return users.distinct()
        if label == "projects.apitoken":
            tokens = model.objects.all()
            return tokens.exclude(user=self.staff) if side == "a" else tokens.filter(
                user=self.staff)
        if label in GLOBAL_MODELS:
            return model._default_manager.all() if side == "a" else model._default_manager.none()
        if label in PROJECT_PATHS:
            return model._default_manager.filter(**{PROJECT_PATHS[label]: project.pk})
        return None

    def a_pks(self, model) -> set:
        return set(self.of(model, "a").values_list("pk", flat=True))

    def touches_a(self, obj) -> bool:
        """Whether ``obj`` is A's or points at anything of A's."""
        model = type(obj)
        if obj.pk in self.a_pks(model):
            return True
        for f in model._meta.get_fields():
            if isinstance(f, models.ForeignKey):
                ids = {getattr(obj, f.attname)}
            elif isinstance(f, models.ManyToManyField):
                ids = set(getattr(obj, f.name).values_list("pk", flat=True))
            else:
                continue
            if self.of(f.related_model, "a") is not None and ids & self.a_pks(f.related_model):
                return True
        return False

    def snapshot(self, model) -> list:
        return list(self.of(model, "a").order_by("pk").values())


def build_world(two_projects, staff_role_in_a) -> World:
    a, b, staff = two_projects["a"], two_projects["b"], two_projects["b_admin"]
    a.name = f"Alpha {SECRET}"
    a.save()
    staff.is_staff = True
    staff.save()
    staff.user_permissions.set(Permission.objects.all())
    if staff_role_in_a:
        Membership.objects.create(project=a, user=staff, role=staff_role_in_a)
    objects = {"a": {**_side(a, two_projects["a_admin"], SECRET, 9125), **_global_objects()},
               "b": _side(b, staff, "beta", 9126)}
    key = objects["a"]["projects.ingestkey"].key
    markers = [SECRET, "a_admin", "a_editor", "a_viewer", key[:10]]
    return World({"a": a, "b": b}, objects, staff, markers)


def _url(model, view: str, *args) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def _relation_fields():
    """Every (source model, field) that an autocomplete request can name."""
    return [(model, f) for model in apps.get_models() for f in model._meta.get_fields()
            if isinstance(f, models.ForeignKey | models.ManyToManyField)]


class Prober:
    """Asks the admin, as B's staff user, about one model's A objects; returns findings."""

    def __init__(self, world: World, client: Client):
        self.world, self.client, self.n = world, client, 0

    def exposed(self, response) -> list[str]:
        if response.status_code != 200:
            return []
        text = response.content.decode()
        return [f"{response.request['PATH_INFO']} shows {m!r}" for m in self.world.markers
                if m in text]

    def is_global(self, model) -> bool:
        return _label(model) in GLOBAL_MODELS or _label(model) == "auth.user"

    def refused(self, model, status: int, missing_status: int) -> bool:
        """An object out of reach answers like one that does not exist (404, or 403 where the
        view is refused to everyone, e.g. a read-only model's POST); a model of no project
        answers 403 or 404."""
        if self.is_global(model):
            return status in (403, 404)
        return status == missing_status and status in (403, 404)

    def index(self, model):
        found = []
        for path in (reverse("admin:index"),
                     reverse("admin:app_list", args=[model._meta.app_label])):
            response = self.client.get(path)
            found += self.exposed(response)
            if response.status_code == 200 and self.is_global(model):
                listed = [m["model"] for app in response.context["app_list"]
                          for m in app["models"]]
                if model in listed:
                    found.append(f"{path} lists it")
        return found

    def changelist(self, model):
        found, a_pks = [], self.world.a_pks(model)
        for query in ("", "?" + urlencode({"q": SECRET})):
            response = self.client.get(_url(model, "changelist") + query)
            if response.status_code != 200:
                if not self.is_global(model) and not query:
                    self.world.broken.append(f"{_label(model)}: changelist {response.status_code}")
                continue
            if self.is_global(model):
                found.append("the changelist opens")
            shown = {obj.pk for obj in response.context["cl"].result_list}
            if shown & a_pks:
                found.append(f"lists {sorted(shown & a_pks)}{query}")
            if not query:
                found += self.exposed(response)
                b_obj = self.world.objects["b"].get(_label(model))
                if b_obj is not None and b_obj.pk not in shown:
                    self.world.broken.append(f"{_label(model)}: B's own object not listed")
        return found

    def _missing_pk(self, model):
        last = model._default_manager.order_by("-pk").values_list("pk", flat=True).first()
        return (last or 0) + 10**6

    def _object_view(self, model, view, post_data=None):
        obj = self.world.objects["a"][_label(model)]
        before = self.world.snapshot(model)
        found = []
        for method, data in (("get", {}), ("post", post_data)):
            if data is None:
                continue
            send = getattr(self.client, method)
            missing = send(_url(model, view, self._missing_pk(model)), data).status_code
            response = send(_url(model, view, obj.pk), data)
            if not self.refused(model, response.status_code, missing):
                found.append(f"{method.upper()} {view} answers {response.status_code}"
                             f" (a missing id: {missing})")
            found += self.exposed(response)
        if self.world.snapshot(model) != before:
            found.append(f"{view} changed A's objects")
        return found

    def change(self, model):
        return self._object_view(model, "change", post_data={})

    def delete(self, model):
        return self._object_view(model, "delete", post_data={"post": "yes"})

    def history(self, model):
        return self._object_view(model, "history")

    def bulk(self, model):
        """Every changelist action, and list_editable, aimed at A's objects."""
        url, a_pks = _url(model, "changelist"), sorted(self.world.a_pks(model))
        listing = self.client.get(url)
        names, editable = ["delete_selected"], []
        if listing.status_code == 200:
            names = [name for name, _ in listing.context["action_form"].fields["action"].choices
                     if name] or names
            editable = list(listing.context["cl"].list_editable)
        before = self.world.snapshot(model)
        for name in names:
            self.client.post(url, {"action": name, "index": 0, "_selected_action": a_pks,
                                   "post": "yes"})
        if editable:
            data = {"_save": "Save", "form-TOTAL_FORMS": len(a_pks),
                    "form-INITIAL_FORMS": len(a_pks), "form-MIN_NUM_FORMS": 0,
                    "form-MAX_NUM_FORMS": 1000}
            for i, pk in enumerate(a_pks):
                data[f"form-{i}-id"] = pk
                data.update({f"form-{i}-{name}": "0" for name in editable})
            self.client.post(url, data)
        return [f"actions {names} changed A's objects"] if self.world.snapshot(model) != before \
            else []

    def _scan_form(self, form, where: str) -> list[str]:
        found = []
        for name, form_field in form.fields.items():
            if not isinstance(form_field, ModelChoiceField) or form_field.widget.is_hidden:
                continue  # a formset's hidden row id: Django resolves it in the rows' queryset
            remote = form_field.queryset.model
            a_objects = self.world.of(remote, "a")
            if a_objects is None:
                found.append(f"{where} {name}: choices of {_label(remote)}, which the test "
                             "cannot place")
            elif form_field.queryset.filter(pk__in=a_objects.values("pk")).exists():
                found.append(f"{where} {name} offers A's {_label(remote)}")
        return found

    def form(self, model):
        found = []
        pages = [("add", _url(model, "add"))]
        b_obj = self.world.objects["b"].get(_label(model))
        if b_obj is not None:
            pages.append(("change", _url(model, "change", b_obj.pk)))
        for where, url in pages:
            response = self.client.get(url)
            if response.status_code != 200:
                if where == "change" and not self.is_global(model):
                    self.world.broken.append(f"{_label(model)}: B's change form "
                                             f"{response.status_code}")
                continue
            if self.is_global(model):
                found.append(f"the {where} form opens")
            found += self.exposed(response)
            found += self._scan_form(response.context["adminform"].form, where)
            for inline in response.context["inline_admin_formsets"]:
                formset = inline.formset
                for form in [*formset.forms, formset.empty_form]:
                    found += self._scan_form(form, f"{where} inline {formset.prefix}")
        return found

    def _post_add(self, model, spec: AddSpec, sides: dict, management: dict, form):
        self.n += 1
        data = {**spec.data(self.n), **management}
        for name, label in spec.relations.items():
            obj = self.world.objects[sides[name]][label]
            many = isinstance(model._meta.get_field(name), models.ManyToManyField)
            data[name] = [obj.pk] if many else obj.pk
        before = set(model._default_manager.values_list("pk", flat=True))
        response = self.client.post(_url(model, "add"), data)
        new = list(model._default_manager.exclude(pk__in=before))
        return response, new

    def add(self, model):
        label, url = _label(model), _url(model, "add")
        page = self.client.get(url)
        if page.status_code != 200:
            before = model._default_manager.count()
            response = self.client.post(url, {})
            if response.status_code not in (403, 404) or model._default_manager.count() != before:
                return [f"POST add answers {response.status_code}"]
            return []
        spec = ADD.get(label)
        if spec is None:
            self.world.broken.append(f"{label}: no add payload in ADD")
            return []
        form = page.context["adminform"].form
        management = {}
        for inline in page.context["inline_admin_formsets"]:
            formset = inline.formset
            management.update({f"{formset.prefix}-{k}": v
                               for k, v in formset.management_form.initial.items()})
        found = []
        for name in spec.relations:
            sides = {other: "b" for other in spec.relations} | {name: "a"}
            response, new = self._post_add(model, spec, sides, management, form)
            found += [f"POST add with A's {name} saved {obj!r}" for obj in new
                      if self.world.touches_a(obj)]
            if response.status_code == 200 and name in form.fields:
                errors = response.context["adminform"].form.errors
                if name not in errors:
                    self.world.broken.append(f"{label}: add with A's {name} refused for "
                                             f"another reason: {errors.as_data()}")
        if spec.control:
            response, new = self._post_add(model, spec, dict.fromkeys(spec.relations, "b"),
                                           management, form)
            if response.status_code != 302 or len(new) != 1:
                errors = (response.context["adminform"].form.errors.as_data()
                          if response.status_code == 200 else response.status_code)
                self.world.broken.append(f"{label}: the all-B add was not saved: {errors}")
        return found

    def autocomplete(self, model):
        found = []
        for source, f in _relation_fields():
            if model not in (source, f.related_model):
                continue
            remote_a = self.world.of(f.related_model, "a")
            for term in ("", SECRET):
                response = self.client.get(reverse("admin:autocomplete"), {
                    "app_label": source._meta.app_label, "model_name": source._meta.model_name,
                    "field_name": f.name, "term": term})
                if response.status_code != 200:
                    continue
                found += self.exposed(response)
                ids = {r["id"] for r in response.json()["results"]}
                if remote_a is None or ids & {str(pk) for pk in remote_a.values_list(
                        "pk", flat=True)}:
                    found.append(f"{_label(source)}.{f.name} completes A's objects")
        return found


@pytest.mark.parametrize("staff_role_in_a", [None, Role.VIEWER, Role.EDITOR],
                         ids=["not-a-member-of-A", "viewer-in-A", "editor-in-A"])
def test_no_admin_view_leaks_another_projects_objects(two_projects, staff_role_in_a):
    world = build_world(two_projects, staff_role_in_a)
    client = Client()
    client.force_login(world.staff)
    prober = Prober(world, client)
    registry = sorted(admin.site._registry, key=_label)
    unplaced = [_label(m) for m in registry if _label(m) not in world.objects["a"]
                or world.of(m, "a") is None]
    assert not unplaced, f"give these models an A object in build_world: {unplaced}"

    cells = 0
    leaky_cells = []
    for model in registry:
        for action in ACTIONS:
            cells += 1
            found = getattr(prober, action)(model)
            if found:
                leaky_cells.append(f"{_label(model)} x {action}: {'; '.join(found)}")
    print(f"\nadmin leak matrix: {len(registry)} models x {len(ACTIONS)} actions = {cells} "
          f"checks, leaks: {len(leaky_cells)} (staff user {staff_role_in_a or 'not a member'} "
          "in A)")
    assert not leaky_cells, "\n".join(leaky_cells)
    assert not world.broken, "\n".join(world.broken)


def test_superuser_sees_and_edits_everything(two_projects, django_user_model):
    world = build_world(two_projects, None)
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root")
    client = Client()
    client.force_login(root)
    for model in sorted(admin.site._registry, key=_label):
        a_obj, b_obj = world.objects["a"][_label(model)], world.objects["b"].get(_label(model))
        listing = client.get(_url(model, "changelist"))
        assert listing.status_code == 200, _label(model)
        shown = {obj.pk for obj in listing.context["cl"].result_list}
        assert a_obj.pk in shown and (b_obj is None or b_obj.pk in shown), _label(model)
        assert client.get(_url(model, "change", a_obj.pk)).status_code == 200, _label(model)

    form = client.get(_url(StatsdListener, "add")).context["adminform"].form
    keys = set(form.fields["ingest_key"].queryset)
    assert {world.objects["a"]["projects.ingestkey"], world.objects["b"]["projects.ingestkey"]} \
        <= keys
    completed = client.get(reverse("admin:autocomplete"), {
        "app_label": "projects", "model_name": "membership", "field_name": "project"}).json()
    assert {r["text"] for r in completed["results"]} == {f"Alpha {SECRET}", "Beta"}

    target = world.objects["a"]["events.scrapetarget"]
    response = client.post(_url(ScrapeTarget, "change", target.pk), {
        "project": world.projects["a"].pk, "name": "renamed by root", "url": target.url,
        "interval_s": 30, "timeout_s": 5, "labels": "{}", "enabled": "on"})
    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.name, target.interval_s) == ("renamed by root", 30)
    channel = world.objects["a"]["alerts.notificationchannel"]
    response = client.post(_url(AlertRule, "add"), {
        "project": world.projects["a"].pk, "name": "added by root", "channels": [channel.pk],
        "instances-TOTAL_FORMS": 0, "instances-INITIAL_FORMS": 0, **RULE_FIELDS})
    assert response.status_code == 302
    assert list(AlertRule.objects.get(name="added by root").channels.all()) == [channel]


def test_staff_edits_a_rule_whose_author_left_and_new_rules_are_theirs(two_projects, make_user):
    world = build_world(two_projects, None)
    former = make_user("former")
    rule = world.objects["b"]["alerts.alertrule"]
    rule.created_by = former  # no longer a member of B, so not among the choices
    rule.save()
    client = Client()
    client.force_login(world.staff)
    data = {"project": world.projects["b"].pk, "name": rule.name, **RULE_FIELDS,
            "threshold": 7, "instances-TOTAL_FORMS": 0, "instances-INITIAL_FORMS": 0}
    assert client.post(_url(AlertRule, "change", rule.pk), data).status_code == 302
    rule.refresh_from_db()
    assert (rule.threshold, rule.created_by) == (7, former)
    data.update(name="new by staff", created_by=two_projects["a_admin"].pk)
    assert client.post(_url(AlertRule, "add"), data).status_code == 302
    assert AlertRule.objects.get(name="new by staff").created_by == world.staff


def test_staff_cannot_make_themselves_superuser_with_every_permission(two_projects):
    world = build_world(two_projects, None)
    staff = world.staff
    client = Client()
    client.force_login(staff)
    User = get_user_model()
    assert client.get(_url(User, "password_change", staff.pk)).status_code == 403
    response = client.post(_url(User, "change", staff.pk), {
        "username": staff.username, "is_staff": "on", "is_superuser": "on", "is_active": "on"})
    assert response.status_code == 403
    staff.refresh_from_db()
    assert not staff.is_superuser
