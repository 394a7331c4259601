"""Operators set thresholds here: rules, channels and silences are editable; history and
deliveries are read-only records. Scoped like every admin (see ``projects.admin``): what has no
project of its own belongs to its rule's or its channel's."""

from django import forms
from django.contrib import admin

from projects.admin import ProjectScopedAdmin, ProjectScopedInline

from .models import (
    AlertEvent,
    AlertInstance,
    AlertRule,
    DeliveryAttempt,
    Notification,
    NotificationChannel,
    Silence,
)
from .urlguard import UnsafeURL, check_url


class InstanceInline(ProjectScopedInline):
    model = AlertInstance
    project_path = "rule__project"
    extra = 0
    can_delete = False
    fields = ["group_key", "state", "value", "error", "since", "evaluated_at"]
    readonly_fields = fields


@admin.register(AlertRule)
class AlertRuleAdmin(ProjectScopedAdmin):
    list_display = ["name", "project", "query", "reducer", "condition", "threshold",
                    "severity", "enabled", "last_evaluated_at"]
    list_filter = ["enabled", "severity", "project"]
    list_editable = ["threshold", "enabled"]
    search_fields = ["name", "query"]
    filter_horizontal = ["channels"]
    readonly_fields = ["last_evaluated_at", "next_evaluation_at", "last_error", "created_at",
                       "updated_at"]
    inlines = [InstanceInline]

    def save_model(self, request, obj, form, change):
        obj.next_evaluation_at = None  # due: a changed threshold applies in the next cycle
        super().save_model(request, obj, form, change)


class ChannelForm(forms.ModelForm):
    class Meta:
        model = NotificationChannel
        fields = ["project", "name", "kind", "recipients", "url", "secret", "timeout_s",
                  "enabled"]

    def clean_url(self):
        url = self.cleaned_data.get("url")
        if url:
            try:
                check_url(url)  # the same guard as the API
            except UnsafeURL as exc:
                raise forms.ValidationError(exc.message) from None
        return url


@admin.register(NotificationChannel)
class NotificationChannelAdmin(ProjectScopedAdmin):
    form = ChannelForm
    list_display = ["name", "project", "kind", "enabled", "created_at"]
    list_filter = ["kind", "enabled", "project"]


@admin.register(Silence)
class SilenceAdmin(ProjectScopedAdmin):
    list_display = ["reason", "project", "rule", "matchers", "starts_at", "ends_at"]
    list_filter = ["project"]


@admin.register(AlertEvent)
class AlertEventAdmin(ProjectScopedAdmin):
    project_path = "rule__project"
    list_display = ["rule", "group", "previous", "status", "value", "triggered_at",
                    "resolved_at", "silenced"]
    list_filter = ["status", "rule__project"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AttemptInline(ProjectScopedInline):
    model = DeliveryAttempt
    project_path = "notification__channel__project"
    extra = 0
    can_delete = False
    readonly_fields = ["at", "ok", "response_code", "error", "duration_ms"]


@admin.register(Notification)
class NotificationAdmin(ProjectScopedAdmin):
    project_path = "channel__project"
    list_display = ["kind", "channel", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "kind"]
    readonly_fields = ["channel", "event", "kind", "payload", "status", "attempts",
                       "next_attempt_at", "created_at", "sent_at"]
    inlines = [AttemptInline]

    def has_add_permission(self, request):
        return False
