"""Writes for projects, memberships, invitations, ingest keys and API tokens."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from analytics_site.errors import Conflict, NotFound, ValidationFailed

from . import access_cache
from .models import APIToken, IngestKey, Invitation, Membership, Project, Role, Scope
from .tokens import hash_token

User = get_user_model()

MAX_NAME_LENGTH = 100
MAX_ORIGINS = 50
# Invitations cost nothing to make, so one admin could fill the table; this many open at once.
MAX_PENDING_INVITATIONS = 200


def _clean_name(name: str, field: str = "name") -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(f"{field}: may not be blank.",
                               details={field: ["May not be blank."]})
    if len(name) > MAX_NAME_LENGTH:
        message = f"At most {MAX_NAME_LENGTH} characters."
        raise ValidationFailed(f"{field}: {message}", details={field: [message]})
    return name


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "project"
    slug, n = base, 2
    while Project.objects.filter(slug=slug).exists():
        slug = f"{base}-{n}"
        n += 1
    return slug


# -- projects -------------------------------------------------------------------------------------
@transaction.atomic
def create_project(*, name: str, owner: AbstractBaseUser, timezone_name: str = "UTC",
                   slug: str | None = None) -> Project:
    """A new project with ``owner`` as its admin and one ingest key, ready to receive data."""
    from .models import validate_timezone

    name = _clean_name(name)
    try:
        validate_timezone(timezone_name)
    except Exception as exc:
        raise ValidationFailed(f"timezone: {exc.messages[0]}",
                               details={"timezone": exc.messages}) from None
    if slug is not None and Project.objects.filter(slug=slug).exists():
        raise Conflict(f"A project with slug {slug!r} exists.", details={"slug": slug})
    project = Project.objects.create(name=name, slug=slug or _unique_slug(name),
                                     timezone=timezone_name)
    Membership.objects.create(user=owner, project=project, role=Role.ADMIN)
    create_ingest_key(project=project, name="Default", created_by=owner)
    return project


@transaction.atomic
def update_project(*, project: Project, **fields) -> Project:
    allowed = {"name", "timezone", "raw_retention_days", "minute_rollup_retention_days",
               "hour_rollup_retention_days"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationFailed("Unknown fields.", details={f: ["Unknown field."] for f in unknown})
    if "name" in fields:
        fields["name"] = _clean_name(fields["name"])
    for key, value in fields.items():
        setattr(project, key, value)
    project.full_clean(exclude=["slug"])
    project.save()
    return project


def delete_project(*, project: Project) -> None:
    project.delete()


# -- members --------------------------------------------------------------------------------------
def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationFailed(f"role: must be one of {', '.join(Role.values)}.",
                               details={"role": [f"Must be one of {', '.join(Role.values)}."]})


def _ensure_another_admin(membership: Membership) -> None:
    others = (Membership.objects.select_for_update()
              .filter(project=membership.project, role=Role.ADMIN)
              .exclude(pk=membership.pk))
    if membership.role == Role.ADMIN and not others.exists():
        raise Conflict("A project needs at least one admin.",
                       details={"membership": membership.pk})


@transaction.atomic
def change_member_role(*, membership: Membership, role: str) -> Membership:
    _check_role(role)
    if role != Role.ADMIN:
        _ensure_another_admin(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(*, membership: Membership) -> None:
    _ensure_another_admin(membership)
    membership.delete()


# -- invitations ----------------------------------------------------------------------------------
def normalise_identifier(identifier: str) -> str:
    """A username as typed, or an e-mail address in lower case; only its form is checked, never
    whether such an account exists."""
    ident = (identifier or "").strip()
    message = None
    if not ident:
        message = "Enter a username or an e-mail address."
    elif len(ident) > 254:
        message = "At most 254 characters."
    else:
        try:
            UnicodeUsernameValidator()(ident)
        except ValidationError:
            try:
                validate_email(ident)
            except ValidationError:
                message = "Not a username or an e-mail address."
    if message:
        raise ValidationFailed(f"username: {message}", details={"username": [message]})
    return ident.lower() if "@" in ident else ident


@transaction.atomic
def invite_member(*, project: Project, identifier: str, role: str,
                  invited_by: AbstractBaseUser) -> Invitation:
    """A pending invitation for ``identifier``, made the same way whether or not such a user
    exists or is a member already, so the answer cannot tell. Inviting again while one is
    pending renews it (new role, new expiry) and returns it."""
    _check_role(role)
    identifier = normalise_identifier(identifier)
    expires_at = timezone.now() + Invitation.TTL
    pending = Invitation.objects.select_for_update().filter(
        project=project, identifier=identifier, status=Invitation.Status.PENDING)
    invitation = pending.first()
    if invitation is None:
        if (Invitation.objects.filter(project=project, status=Invitation.Status.PENDING)
                .count() >= MAX_PENDING_INVITATIONS):
            raise Conflict(f"A project holds at most {MAX_PENDING_INVITATIONS} pending "
                           "invitations; revoke some first.",
                           details={"max_pending": MAX_PENDING_INVITATIONS})
        try:
            with transaction.atomic():
                return Invitation.objects.create(project=project, identifier=identifier,
                                                 role=role, invited_by=invited_by,
                                                 expires_at=expires_at)
        except IntegrityError:  # the same invitation, made at the same moment by another admin
            invitation = pending.get()
    invitation.role, invitation.invited_by, invitation.expires_at = role, invited_by, expires_at
    invitation.save(update_fields=["role", "invited_by", "expires_at"])
    return invitation


def _lock_open(invitation: Invitation) -> Invitation:
    locked = Invitation.objects.select_for_update().select_related("project").get(
        pk=invitation.pk)
    if not locked.is_open:
        raise NotFound("Invitation not found.", details={"invitation_id": str(invitation.pk)})
    return locked


def _close(invitation: Invitation, *, status: str, by: AbstractBaseUser) -> Invitation:
    invitation.status, invitation.closed_by, invitation.closed_at = status, by, timezone.now()
    invitation.save(update_fields=["status", "closed_by", "closed_at"])
    return invitation


@transaction.atomic
def accept_invitation(*, invitation: Invitation, user: AbstractBaseUser) -> Membership:
    """Make ``user`` a member with the invited role. Someone already a member keeps their role:
    roles change only by an admin's explicit choice (and never below the last admin)."""
    invitation = _lock_open(invitation)
    if not invitation.is_for(user):
        raise NotFound("Invitation not found.", details={"invitation_id": str(invitation.pk)})
    membership, _ = Membership.objects.get_or_create(
        project=invitation.project, user=user, defaults={"role": invitation.role})
    _close(invitation, status=Invitation.Status.ACCEPTED, by=user)
    return membership


@transaction.atomic
def decline_invitation(*, invitation: Invitation, user: AbstractBaseUser) -> Invitation:
    invitation = _lock_open(invitation)
    if not invitation.is_for(user):
        raise NotFound("Invitation not found.", details={"invitation_id": str(invitation.pk)})
    return _close(invitation, status=Invitation.Status.DECLINED, by=user)


@transaction.atomic
def revoke_invitation(*, invitation: Invitation, revoked_by: AbstractBaseUser) -> Invitation:
    return _close(_lock_open(invitation), status=Invitation.Status.REVOKED, by=revoked_by)


# -- ingest keys ----------------------------------------------------------------------------------
def new_ingest_key_value() -> str:
    return IngestKey.PREFIX + secrets.token_urlsafe(24)


def clean_origins(origins: list[str] | None) -> list[str]:
    origins = origins or []
    if not isinstance(origins, list) or len(origins) > MAX_ORIGINS:
        raise ValidationFailed(f"allowed_origins: a list of at most {MAX_ORIGINS} origins.",
                               details={"allowed_origins": [f"At most {MAX_ORIGINS} origins."]})
    cleaned = []
    for i, origin in enumerate(origins):
        origin = str(origin).strip().rstrip("/")
        scheme, _, host = origin.partition("://")
        if scheme not in {"http", "https"} or not host or "/" in host or len(origin) > 200:
            message = f"{origin!r} is not an origin like https://app.example.com."
            raise ValidationFailed(f"allowed_origins[{i}]: {message}",
                                   details={"allowed_origins": {str(i): [message]}})
        cleaned.append(origin.lower())
    return cleaned


def create_ingest_key(*, project: Project, name: str = "Default",
                      allowed_origins: list[str] | None = None,
                      created_by: AbstractBaseUser | None = None) -> IngestKey:
    return IngestKey.objects.create(
        project=project,
        name=_clean_name(name),
        allowed_origins=clean_origins(allowed_origins),
        key=new_ingest_key_value(),
        created_by=created_by,
    )


def update_ingest_key(*, key: IngestKey, name: str | None = None,
                      allowed_origins: list[str] | None = None) -> IngestKey:
    if name is not None:
        key.name = _clean_name(name)
    if allowed_origins is not None:
        key.allowed_origins = clean_origins(allowed_origins)
    key.save(update_fields=["name", "allowed_origins"])
    return key


def rotate_ingest_key(*, key: IngestKey) -> IngestKey:
    """Give the key a new value; the old value stops working at once."""
    if not key.is_active:
        raise Conflict("A revoked key cannot be rotated.", details={"key": key.pk})
    key.key = new_ingest_key_value()
    key.rotated_at = timezone.now()
    key.save(update_fields=["key", "rotated_at"])
    return key


def revoke_ingest_key(*, key: IngestKey) -> IngestKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


# -- API tokens -----------------------------------------------------------------------------------
def create_api_token(*, user: AbstractBaseUser, name: str, scopes: list[str],
                     expires_at: datetime | None = None) -> tuple[APIToken, str]:
    """Returns the token and its value; the value is not stored and cannot be shown again."""
    name = _clean_name(name)
    if not scopes or any(s not in Scope.values for s in scopes):
        message = f"A non-empty list of {', '.join(Scope.values)}."
        raise ValidationFailed(f"scopes: {message}", details={"scopes": [message]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("expires_at: must be in the future.",
                               details={"expires_at": ["Must be in the future."]})
    raw = APIToken.PREFIX + secrets.token_urlsafe(32)
    token = APIToken.objects.create(
        user=user, name=name, scopes=sorted(set(scopes), key=Scope.rank),
        prefix=raw[:10], token_hash=hash_token(raw), expires_at=expires_at,
    )
    return token, raw


def revoke_api_token(*, token: APIToken) -> APIToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def touch_api_token(*, token: APIToken, resolution_s: int) -> None:
    """Record use, at most once per ``resolution_s`` so reads do not turn into writes."""
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= resolution_s:
        APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
        access_cache.used(token.token_hash, now)  # the kept copy too: no write next request


# -- users ----------------------------------------------------------------------------------------
def get_or_create_user(*, username: str, email: str = "") -> tuple[AbstractBaseUser, bool]:
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user, created
