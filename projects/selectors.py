"""Reads, always scoped to what the caller may see.

A project someone is not a member of does not exist for them: lookups answer 404, never 403, so
the API does not reveal which ids exist. A member whose role is too low gets 403.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from analytics_site.errors import Forbidden, NotFound

from . import access_cache
from .models import APIToken, IngestKey, Invitation, Membership, Project, Role, Scope
from .tokens import hash_token


def projects_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def role_of(user: AbstractBaseUser, project: Project) -> str | None:
    if user.is_superuser:
        return Role.ADMIN
    return (Membership.objects.filter(user=user, project=project)
            .values_list("role", flat=True).first())


def roles_for(user: AbstractBaseUser, projects) -> dict[int, str]:
    """The user's role in each of ``projects`` (admin everywhere for a superuser), one query."""
    ids = [p.pk for p in projects]
    if user.is_superuser:
        return dict.fromkeys(ids, Role.ADMIN)
    return dict(Membership.objects.filter(user=user, project_id__in=ids)
                .values_list("project_id", "role"))


def require_scope(token: APIToken | None, scope: str) -> None:
    """A request made with a personal token may do only what the token's scopes allow."""
    if token is not None and not token.allows(scope):
        raise Forbidden(f"This token lacks the {scope} scope.",
                        details={"required_scope": scope, "scopes": token.scopes})


def get_project_for(user: AbstractBaseUser | AnonymousUser, project_id, *,
                    min_role: str = Role.VIEWER, token: APIToken | None = None,
                    scope: str = Scope.READ) -> Project:
    """The project if ``user`` may see it (404 otherwise) and act on it at ``min_role``
    with a token allowing ``scope`` (403 otherwise)."""
    # One query: the project with the caller's role (every API request makes this lookup) —
    # none for a token request whose answer ``access_cache`` keeps.
    try:
        if not user.is_authenticated:
            raise Project.DoesNotExist
        kept = access_cache.role(user.pk, int(project_id)) if token is not None else None
        if kept is not None:
            project, role = kept
        elif user.is_superuser:
            project, role = Project.objects.get(pk=int(project_id)), Role.ADMIN
        else:
            membership = (Membership.objects.select_related("project")
                          .get(user=user, project_id=int(project_id)))
            project, role = membership.project, membership.role
        if token is not None and kept is None:
            access_cache.keep_role(user.pk, project, role)
    except (Project.DoesNotExist, Membership.DoesNotExist, ValueError, TypeError):
        raise NotFound("Project not found.", details={"project_id": str(project_id)}) from None
    _allow(role, min_role=min_role, token=token, scope=scope)
    return project


def get_scoped_for(user: AbstractBaseUser | AnonymousUser, queryset: QuerySet, object_id, *,
                   label: str, id_field: str = "id", project_path: str = "project",
                   min_role: str = Role.VIEWER,
                   token: APIToken | None = None, scope: str = Scope.READ):
    """An object of ``queryset`` that belongs (through ``project_path``) to a project the user
    may see — 404 with ``label`` otherwise — and that they may act on at ``min_role`` with a
    token allowing ``scope`` (403 otherwise). The one scoped lookup every app uses."""
    try:
        obj = (queryset.select_related(project_path)
               .get(pk=int(object_id), **{f"{project_path}__in": projects_for(user)}))
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"{label} not found.", details={id_field: str(object_id)}) from None
    project = obj
    for part in project_path.split("__"):
        project = getattr(project, part)
    require(user, project, min_role=min_role, token=token, scope=scope)
    return obj


def can_edit(user: AbstractBaseUser, project: Project) -> bool:
    """Whether the user's role lets them change the project's dashboards, alerts and reports."""
    role = role_of(user, project)
    return role is not None and Role.rank(role) >= Role.rank(Role.EDITOR)


def require(user: AbstractBaseUser, project: Project, *, min_role: str,
            token: APIToken | None = None, scope: str = Scope.READ) -> str:
    role = role_of(user, project)
    if role is None:
        raise NotFound("Project not found.", details={"project_id": str(project.pk)})
    return _allow(role, min_role=min_role, token=token, scope=scope)


def _allow(role: str, *, min_role: str, token: APIToken | None, scope: str) -> str:
    if Role.rank(role) < Role.rank(min_role):
        raise Forbidden(f"This needs the {min_role} role in the project; you have {role}.",
                        details={"required_role": min_role, "role": role})
    require_scope(token, scope)
    return role


def memberships_of(project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")


def invitations_of(project: Project) -> QuerySet[Invitation]:
    """The project's open invitations, for its admins (check the role first)."""
    return (project.invitations.filter(status=Invitation.Status.PENDING,
                                       expires_at__gt=timezone.now())
            .select_related("invited_by").order_by("-created_at", "-id"))


def invitation_of(project: Project, invitation_id) -> Invitation:
    try:
        return invitations_of(project).get(pk=int(invitation_id))
    except (Invitation.DoesNotExist, ValueError, TypeError):
        raise NotFound("Invitation not found.",
                       details={"invitation_id": str(invitation_id)}) from None


def invitations_for(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Invitation]:
    """Open invitations addressed to ``user`` by username or e-mail, whoever made them."""
    if not user.is_authenticated:
        return Invitation.objects.none()
    return (Invitation.objects.filter(status=Invitation.Status.PENDING,
                                      expires_at__gt=timezone.now(),
                                      identifier__in=Invitation.identifiers_of(user))
            .select_related("project", "invited_by").order_by("-created_at", "-id"))


def invitation_for(user: AbstractBaseUser, invitation_id) -> Invitation:
    """One of ``user``'s own open invitations; anyone else's answers 404 like a missing one."""
    try:
        return invitations_for(user).get(pk=int(invitation_id))
    except (Invitation.DoesNotExist, ValueError, TypeError):
        raise NotFound("Invitation not found.",
                       details={"invitation_id": str(invitation_id)}) from None


def ingest_keys_of(project: Project) -> QuerySet[IngestKey]:
    return project.ingest_keys.order_by("created_at")


def active_ingest_key(project: Project) -> IngestKey | None:
    return project.ingest_keys.filter(revoked_at__isnull=True).order_by("created_at").first()


def tokens_of(user: AbstractBaseUser) -> QuerySet[APIToken]:
    return APIToken.objects.filter(user=user).order_by("-created_at")


def token_by_value(raw: str) -> APIToken | None:
    """The token of this value with its user, whatever its state (the caller checks it): kept by
    ``access_cache`` under the generation the request read (``access_cache.read_generation``)."""
    if not raw.startswith(APIToken.PREFIX) or len(raw) > 200:
        return None
    digest = hash_token(raw)
    token = access_cache.token(digest)
    if token is None:
        token = APIToken.objects.select_related("user").filter(token_hash=digest).first()
        if token is not None:
            access_cache.keep_token(digest, token)
    return token


def ingest_key_by_value(raw: str) -> IngestKey | None:
    if not raw.startswith(IngestKey.PREFIX) or len(raw) > 64:
        return None
    return (IngestKey.objects.select_related("project")
            .filter(key=raw, revoked_at__isnull=True).first())
