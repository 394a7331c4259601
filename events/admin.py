"""Receivers operators configure: StatsD listeners (served by ``manage.py statsd``) and
Prometheus scrape targets (scraped by the worker), each with its health; goals; people (read,
and erased with all their events); metric definitions (what receivers described, and people's
edits, which receivers then leave alone). Scoped like every admin
(see ``projects.admin``): a listener belongs to the project of its ingest key."""

from django.contrib import admin, messages

from projects.admin import ProjectScopedAdmin

from . import catalog, erasure
from .models import Goal, MetricDefinition, Person, ScrapeTarget, StatsdListener


@admin.register(StatsdListener)
class StatsdListenerAdmin(ProjectScopedAdmin):
    project_path = "ingest_key__project"
    list_display = ["name", "host", "port", "udp", "tcp", "ingest_key", "flush_interval_s",
                    "enabled", "last_received_at", "received_total", "rejected_total"]
    list_filter = ["enabled"]
    readonly_fields = ["last_received_at", "received_total", "points_total", "rejected_total",
                       "last_error"]


@admin.register(ScrapeTarget)
class ScrapeTargetAdmin(ProjectScopedAdmin):
    list_display = ["name", "project", "url", "interval_s", "enabled", "up", "last_scrape_at",
                    "last_duration_ms", "last_samples", "last_error"]
    list_filter = ["enabled", "up", "project"]
    readonly_fields = ["up", "last_scrape_at", "last_duration_ms", "last_samples", "last_error",
                       "next_scrape_at"]


@admin.register(Goal)
class GoalAdmin(ProjectScopedAdmin):
    list_display = ["name", "project", "event", "path_pattern", "created_at"]
    list_filter = ["project"]
    search_fields = ["name", "event", "path_pattern"]


@admin.register(Person)
class PersonAdmin(ProjectScopedAdmin):
    """People are written by the rollup fold, never here; deleting one (or the action) erases
    every event of every id linked to them and corrects the rollups (``events.erasure``)."""

    list_display = ["person_id", "project", "first_seen", "last_seen", "events"]
    list_filter = ["project"]
    search_fields = ["person_id"]
    readonly_fields = ["project", "person_id", "first_seen", "last_seen", "events",
                       "bot_events", "properties"]
    actions = ["erase"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a plain delete would leave their events
        return actions

    def delete_model(self, request, obj):
        erasure.erase_person(project=obj.project, person_id=obj.person_id)

    def delete_queryset(self, request, queryset):
        for person in queryset.select_related("project"):
            erasure.erase_person(project=person.project, person_id=person.person_id)

    @admin.action(description="Erase the selected people and all their events",
                  permissions=["delete"])
    def erase(self, request, queryset):
        erased = [erasure.erase_person(project=p.project, person_id=p.person_id)
                  for p in queryset.select_related("project")]
        self.message_user(request, f"Erased {len(erased)} people and "
                                   f"{sum(e.events for e in erased)} events.", messages.SUCCESS)


@admin.register(MetricDefinition)
class MetricDefinitionAdmin(ProjectScopedAdmin):
    list_display = ["name", "project", "unit", "type", "source", "edited_by", "edited_at",
                    "updated_at"]
    list_filter = ["type", "source", "project"]
    search_fields = ["name", "description"]
    readonly_fields = ["source", "edited_by", "edited_at", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        catalog.mark_edited(obj, user=request.user)
        super().save_model(request, obj, form, change)
