"""Django admin for operators. Superusers see everything; other staff see only the projects they
administer (and their own tokens), and an object outside that answers 404 like everywhere else."""

from django.contrib import admin, messages
from django.http import Http404

from . import services
from .models import APIToken, IngestKey, Membership, Project, Role


class ProjectScopedAdmin(admin.ModelAdmin):
    """Restricts the queryset to projects the staff user administers."""

    project_path = "project"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        lookup = f"{self.project_path}__memberships" if self.project_path else "memberships"
        return qs.filter(**{f"{lookup}__user": request.user, f"{lookup}__role": Role.ADMIN})

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # Django redirects to the index with a message; an object outside the caller's projects
        # must look exactly like one that does not exist: 404.
        raise Http404(f"{opts.verbose_name} not found")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "project" and not request.user.is_superuser:
            kwargs["queryset"] = Project.objects.filter(
                memberships__user=request.user, memberships__role=Role.ADMIN)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


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
class APITokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "scope_list", "expires_at", "last_used_at",
                    "is_active", "created_at"]
    list_filter = ["expires_at", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    readonly_fields = ["prefix", "token_hash", "last_used_at", "created_at", "revoked_at"]
    actions = ["revoke"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(user=request.user)

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(f"{opts.verbose_name} not found")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name", "scopes", "expires_at"]
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
