"""Reports in the admin, scoped like every admin (``projects.admin``): reports with their
blocks, schedules (saving one writes its beat row), recipients, and runs with their files and
every delivery attempt (read-only records)."""

from django import forms
from django.contrib import admin

from projects.admin import ProjectScopedAdmin, ProjectScopedInline

from . import scheduling, services
from .models import Block, Delivery, Recipient, Report, Run, RunFile, Schedule


class BlockInline(ProjectScopedInline):
    model = Block
    project_path = "report__project"
    extra = 0
    fields = ["position", "kind", "title", "query", "options"]


@admin.register(Report)
class ReportAdmin(ProjectScopedAdmin):
    list_display = ["title", "project", "range", "timezone", "compare", "updated_at"]
    list_filter = ["range", "project"]
    search_fields = ["title", "description"]
    filter_horizontal = ["channels"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [BlockInline]

    def delete_model(self, request, obj):
        services.delete_report(report=obj)  # its beat row goes with it

    def delete_queryset(self, request, queryset):
        for report in queryset:
            services.delete_report(report=report)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        schedule = Schedule.objects.filter(report=obj).first()
        if schedule is not None:
            scheduling.sync(schedule)  # a new time zone or title


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = ["report", "kind", "time", "weekday", "day_of_month", "cron", "enabled"]

    def clean(self):
        data = super().clean()
        probe = Schedule(**{k: data.get(k) for k in ("kind", "time", "weekday",
                                                      "day_of_month", "cron")})
        try:
            scheduling.cron_of(probe)
        except ValueError as exc:
            raise forms.ValidationError({"cron": str(exc)}) from None
        if data.get("day_of_month") and not 1 <= data["day_of_month"] <= 28:
            raise forms.ValidationError({"day_of_month": "1 to 28."})
        return data


@admin.register(Schedule)
class ScheduleAdmin(ProjectScopedAdmin):
    form = ScheduleForm
    project_path = "report__project"
    list_display = ["report", "kind", "time", "weekday", "day_of_month", "cron", "enabled"]
    list_filter = ["kind", "enabled"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        scheduling.sync(obj)

    def delete_model(self, request, obj):
        scheduling.remove(obj)
        obj.delete()

    def delete_queryset(self, request, queryset):
        for schedule in queryset:
            self.delete_model(request, schedule)


@admin.register(Recipient)
class RecipientAdmin(ProjectScopedAdmin):
    project_path = "report__project"
    list_display = ["email", "report", "formats", "min_change_percent", "created_at"]
    search_fields = ["email"]


class FileInline(ProjectScopedInline):
    model = RunFile
    project_path = "run__report__project"
    extra = 0
    can_delete = False
    fields = ["name", "format", "content_type", "size", "inline"]
    readonly_fields = fields


class DeliveryInline(ProjectScopedInline):
    model = Delivery
    project_path = "run__report__project"
    extra = 0
    can_delete = False
    fields = ["target", "channel", "attempt", "at", "ok", "skipped", "code", "error",
              "duration_ms"]
    readonly_fields = fields


@admin.register(Run)
class RunAdmin(ProjectScopedAdmin):
    project_path = "report__project"
    list_display = ["report", "trigger", "scheduled_for", "status", "attempts", "started_at",
                    "finished_at", "duration_ms"]
    list_filter = ["status", "trigger"]
    readonly_fields = ["report", "trigger", "scheduled_for", "status", "created_at",
                       "started_at", "finished_at", "duration_ms", "range_start", "range_end",
                       "timezone", "recipients", "attempts", "next_attempt_at", "error",
                       "context", "requested_by"]
    exclude = ["snapshot", "link_key"]
    inlines = [FileInline, DeliveryInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
