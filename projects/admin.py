"""Django admin for operators. Superusers see everything. Other staff see only the projects in
which they have the admin role (and their own tokens): lists, pages, form choices, list filters,
inlines and autocompletes all go through ``ProjectScoped``, and an object outside answers 404 like
one that does not exist. Models that belong to no project (users, groups, beat schedules) are for
superusers only: a staff user could otherwise read every account or make themselves superuser."""

from django.contrib import admin, messages
from django.contrib.admin.filters import RelatedOnlyFieldListFilter
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import Http404
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from . import services
from .models import APIToken, IngestKey, Membership, Project, Role


def administered_projects(user) -> QuerySet[Project]:
    """The projects in which ``user`` has the admin role: all a staff user reaches here."""
    return Project.objects.filter(memberships__user=user, memberships__role=Role.ADMIN)


def co_members(user) -> QuerySet:
    """The people a staff user may pick in a form: the members of the projects they
    administer."""
    members = Membership.objects.filter(project__in=administered_projects(user)).values("user")
    return get_user_model().objects.filter(pk__in=members)


class ProjectScoped:
    """Scopes a ModelAdmin or an inline, for a staff user who is not a superuser, to the projects
    they administer: its rows are reached through ``project_path`` (a lookup to the project, ""
    for Project itself), and every relation in its forms offers only what the related model's
    own admin shows them."""

    project_path = "project"

    def scope(self, request, queryset):
        lookup = f"{self.project_path}__in" if self.project_path else "pk__in"
        return queryset.filter(**{lookup: administered_projects(request.user)})

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else self.scope(request, queryset)

    def get_field_queryset(self, db, db_field, request):
        queryset = super().get_field_queryset(db, db_field, request)
        if request.user.is_superuser:
            return queryset
        model = db_field.remote_field.model
        related_admin = self.admin_site._registry.get(model)
        if isinstance(related_admin, ProjectScoped):
            return related_admin.get_queryset(request)
        if model is get_user_model():
            return co_members(request.user)
        return model._default_manager.none()  # a model no scoped admin covers: nothing

    def get_autocomplete_fields(self, request):
        # An autocomplete of a model only superusers see (users) would answer 403: those
        # fields fall back to a select of the scoped choices.
        fields = super().get_autocomplete_fields(request)
        if request.user.is_superuser:
            return fields
        return [name for name in fields if isinstance(
            self.admin_site._registry.get(self.model._meta.get_field(name).related_model),
            ProjectScoped)]

    def get_list_filter(self, request):
        # A filter on a relation lists every project (rule, key …) there is; offer only those
        # of the caller's rows instead.
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        return [(f, RelatedOnlyFieldListFilter)
                if isinstance(f, str) and get_fields_from_path(self.model, f)[-1].is_relation
                else f for f in filters]


class ProjectScopedAdmin(ProjectScoped, admin.ModelAdmin):
    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects to the index with a message; an object outside the caller's projects
        # must look exactly like one that does not exist: 404.
        raise Http404(f"{opts.verbose_name} not found")

    def get_readonly_fields(self, request, obj=None):
        # Who made an object is a record, not a choice: picked from co-members only, it would
        # also refuse to save an object whose author has left the project.
        fields = super().get_readonly_fields(request, obj)
        if (request.user.is_superuser or "created_by" in fields
                or not _has_field(self.model, "created_by")):
            return fields
        return [*fields, "created_by"]

    def save_model(self, request, obj, form, change):
        if not change and _has_field(self.model, "created_by") and obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


def _has_field(model, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


class ProjectScopedInline(ProjectScoped, admin.TabularInline):
    """Its rows belong to the parent's, but its own relations need scoping too."""


class MembershipInline(ProjectScopedInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_add_permission(request, obj)


@admin.register(Project)
class ProjectAdmin(ProjectScopedAdmin):
    project_path = ""
    list_display = ["name", "slug", "timezone", "member_count", "raw_retention_days",
                    "minute_rollup_retention_days", "hour_rollup_retention_days", "created_at"]
    list_filter = ["timezone", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "timezone"]}),
        ("Retention", {"fields": ["raw_retention_days", "minute_rollup_retention_days",
                                  "hour_rollup_retention_days"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="Members")
    def member_count(self, obj):
        return obj.memberships.count()

    def has_add_permission(self, request):
        return request.user.is_superuser


@admin.register(Membership)
class MembershipAdmin(ProjectScopedAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "user__email", "project__name"]
    list_select_related = ["user", "project"]
    autocomplete_fields = ["user", "project"]

    def has_add_permission(self, request):
        """Other staff invite from the project's settings page: picking any account here would
        skip the invitation, which keeps private whether an account exists."""
        return request.user.is_superuser and super().has_add_permission(request)


@admin.register(IngestKey)
class IngestKeyAdmin(ProjectScopedAdmin):
    list_display = ["name", "project", "short_key", "is_active", "origin_count", "created_at",
                    "rotated_at", "last_used_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "project"]
    search_fields = ["name", "project__name", "key"]
    list_select_related = ["project"]
    readonly_fields = ["key", "created_by", "created_at", "rotated_at", "revoked_at",
                       "last_used_at"]
    actions = ["rotate", "revoke"]

    @admin.display(description="Key")
    def short_key(self, obj):
        return f"{obj.key[:12]}…"

    @admin.display(boolean=True, description="Active")
    def is_active(self, obj):
        return obj.is_active

    @admin.display(description="Origins")
    def origin_count(self, obj):
        return len(obj.allowed_origins) or "any"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.key = services.new_ingest_key_value()
            obj.created_by = request.user
        obj.allowed_origins = services.clean_origins(obj.allowed_origins)
        super().save_model(request, obj, form, change)

    @admin.action(description="Rotate selected keys (old values stop working)")
    def rotate(self, request, queryset):
        rotated = [services.rotate_ingest_key(key=k) for k in queryset if k.is_active]
        self.message_user(request, f"Rotated {len(rotated)} key(s).", messages.SUCCESS)

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            services.revoke_ingest_key(key=key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


@admin.register(APIToken)
class APITokenAdmin(ProjectScopedAdmin):
    """Personal tokens belong to a person, not to a project: a staff user sees their own."""

    list_display = ["name", "user", "prefix", "scope_list", "expires_at", "last_used_at",
                    "is_active", "created_at"]
    list_filter = ["expires_at", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    readonly_fields = ["prefix", "token_hash", "last_used_at", "created_at", "revoked_at"]
    actions = ["revoke"]

    def scope(self, request, queryset):
        return queryset.filter(user=request.user)

    def get_fields(self, request, obj=None):
        if obj is None:  # others' tokens are made for themselves (see save_model)
            owner = ["user"] if request.user.is_superuser else []
            return [*owner, "name", "scopes", "expires_at"]
        return ["user", "name", "scopes", "expires_at", "prefix", "token_hash", "last_used_at",
                "created_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*self.readonly_fields, "user", "scopes"]

    @admin.display(description="Scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    @admin.display(boolean=True, description="Active")
    def is_active(self, obj):
        return obj.is_active

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, raw = services.create_api_token(
            user=obj.user if request.user.is_superuser else request.user,
            name=obj.name, scopes=obj.scopes, expires_at=obj.expires_at)
        obj.pk = token.pk
        obj.__dict__.update({k: v for k, v in token.__dict__.items() if not k.startswith("_")})
        self.message_user(request, f"Token created. Copy it now, it is not shown again: {raw}",
                          messages.WARNING)

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            services.revoke_api_token(token=token)
        self.message_user(request, f"Revoked {queryset.count()} token(s).", messages.SUCCESS)


class SuperuserOnly:
    """For the admin of a model that belongs to no project: hidden from everyone else, whatever
    Django permissions they hold."""

    def has_module_permission(self, request):
        return request.user.is_superuser and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return request.user.is_superuser and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


def _for_superusers_only(model, model_admin) -> None:
    admin.site.unregister(model)
    admin.site.register(model, type(model_admin.__name__, (SuperuserOnly, model_admin),
                                    {"__module__": __name__}))


# Registered by their own apps (imported above, so already registered whatever the app order).
for _model, _model_admin in [
    (get_user_model(), auth_admin.UserAdmin),
    (Group, auth_admin.GroupAdmin),
    (PeriodicTask, beat_admin.PeriodicTaskAdmin),
    (IntervalSchedule, beat_admin.IntervalScheduleAdmin),
    (CrontabSchedule, beat_admin.CrontabScheduleAdmin),
    (SolarSchedule, beat_admin.SolarScheduleAdmin),
    (ClockedSchedule, beat_admin.ClockedScheduleAdmin),
]:
    _for_superusers_only(_model, _model_admin)
