"""Operators configure anomaly models here, and each project's defaults for new ones (detector,
sensitivity, training window, step, and the night's hour of its training schedule); anomalies
are read-only records. Scoped like every admin (see ``projects.admin``)."""

import contextlib

from django.contrib import admin

from analytics_site.errors import ApiError
from projects.admin import ProjectScopedAdmin, ProjectScopedInline

from .models import Anomaly, AnomalyModel, ModelDefaults, ModelSeries, Status
from .series import canonical
from .services import RELEARN
from .training import request_training


class SeriesInline(ProjectScopedInline):
    model = ModelSeries
    project_path = "model__project"
    extra = 0
    can_delete = False
    fields = ["key", "detector", "status", "error", "trained_at", "trained_points",
              "scored_until", "last_score"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AnomalyModel)
class AnomalyModelAdmin(ProjectScopedAdmin):
    list_display = ["name", "project", "query", "detector", "sensitivity", "training_days",
                    "step_seconds", "retrain", "enabled", "status", "trained_at"]
    list_filter = ["status", "detector", "enabled", "project"]
    list_editable = ["sensitivity", "enabled"]
    search_fields = ["name", "query"]
    readonly_fields = ["status", "error", "trained_at", "next_training_at",
                       "training_requested_at", "last_scored_at", "evaluation", "importance",
                       "created_at", "updated_at"]
    inlines = [SeriesInline]

    def save_model(self, request, obj, form, change):
        """As ``ml.services``: the query kept in the engine's canonical text, and a change of
        what the model learns starts its series over; the beat's training task takes it up."""
        with contextlib.suppress(ApiError):  # else as written: its training says why
            obj.query = canonical(obj.query)
        relearn = change and any(name in form.changed_data for name in RELEARN)
        if relearn:
            obj.status = Status.NEW
        super().save_model(request, obj, form, change)
        if relearn:
            ModelSeries.objects.filter(model=obj).update(
                version=0, state=None, rolling=None, status=Status.NEW, scored_until=None,
                detector="")
        if obj.enabled and (relearn or "training_days" in form.changed_data):
            request_training(obj)


@admin.register(ModelDefaults)
class ModelDefaultsAdmin(ProjectScopedAdmin):
    list_display = ["project", "detector", "sensitivity", "training_days", "step_seconds",
                    "retrain", "training_hour"]


@admin.register(Anomaly)
class AnomalyAdmin(ProjectScopedAdmin):
    list_display = ["model", "project", "started_at", "ended_at", "severity", "peak_score",
                    "feedback", "backfill"]
    list_filter = ["severity", "feedback", "backfill"]
    readonly_fields = ["project", "model", "series", "tags", "started_at", "ended_at",
                       "last_seen_at", "peak_at", "peak_score", "severity", "value",
                       "expected", "lower", "upper", "points", "explanation", "groups",
                       "related", "feedback", "feedback_by", "feedback_at", "backfill",
                       "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
