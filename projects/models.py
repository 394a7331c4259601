"""Projects, who may see them, and the credentials that reach them.

A *project* is the unit of isolation: every event, metric, dashboard, alert and report belongs to
one, and every lookup goes through the caller's memberships (see ``projects.selectors``).
"""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone (e.g. Europe/Paris).")


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    ADMIN = "admin", "Admin"

    @classmethod
    def rank(cls, role: str) -> int:
        return {cls.VIEWER: 1, cls.EDITOR: 2, cls.ADMIN: 3}[role]


class Scope(models.TextChoices):
    """What a personal API token may do; each scope includes the ones below it."""

    READ = "read", "Read"
    WRITE = "write", "Write"
    ADMIN = "admin", "Admin"

    @classmethod
    def rank(cls, scope: str) -> int:
        return {cls.READ: 1, cls.WRITE: 2, cls.ADMIN: 3}[scope]


class Project(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone],
                                help_text="Day boundaries of charts and reports.")
    raw_retention_days = models.PositiveIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Days raw events and metric points are kept.")
    minute_rollup_retention_days = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Days the 1-minute rollups are kept.")
    hour_rollup_retention_days = models.PositiveIntegerField(
        default=365, validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Days the 1-hour rollups are kept.")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership",
                                     related_name="projects")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # Each coarser table must outlive the finer one: late data (accepted up to the raw
        # retention) is rolled up into buckets that must still exist.
        if (self.raw_retention_days and self.minute_rollup_retention_days
                and self.minute_rollup_retention_days < self.raw_retention_days):
            raise ValidationError({"minute_rollup_retention_days":
                                   "Keep 1-minute rollups at least as long as raw data."})
        if (self.minute_rollup_retention_days and self.hour_rollup_retention_days
                and self.hour_rollup_retention_days < self.minute_rollup_retention_days):
            raise ValidationError({"hour_rollup_retention_days":
                                   "Keep 1-hour rollups at least as long as 1-minute rollups."})


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="unique_membership"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class Invitation(models.Model):
    """An admin's offer of a role in a project to a username or e-mail address.

    It is made whether or not such an account exists, so inviting tells the admin nothing about
    other people's accounts; whoever logs in with that username or e-mail address (now, or with
    an account made later) sees it and accepts or declines it.
    """

    TTL = timedelta(days=14)

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        REVOKED = "revoked", "Revoked"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    identifier = models.CharField(
        max_length=254, help_text="Username or e-mail address as typed (an e-mail in lower case).")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+",
                                  help_text="Who accepted, declined or revoked it.")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "identifier"],
                                    condition=models.Q(status="pending"),
                                    name="unique_pending_invitation"),
        ]
        indexes = [models.Index(fields=["identifier", "status"], name="invitation_addressee")]

    def __str__(self) -> str:
        return f"{self.identifier} to {self.project} ({self.role}, {self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PENDING and self.expires_at > timezone.now()

    @staticmethod
    def identifiers_of(user) -> set[str]:
        """The identifiers an invitation may name ``user`` by: the username, the e-mail."""
        names = {user.get_username()}
        if "@" in user.get_username():
            names.add(user.get_username().lower())
        if user.email:
            names.add(user.email.strip().lower())
        return names

    def is_for(self, user) -> bool:
        return self.identifier in self.identifiers_of(user)


class IngestKey(models.Model):
    """A public, write-only key that SDKs and the tracking snippet send data with.

    It is public by design (it sits in every tracked page), so it is stored as is and shown on
    the project page; it can only write data into its project, never read. Rotating replaces the
    value at once; revoking disables it for good.
    """

    PREFIX = "pk_"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="ingest_keys")
    name = models.CharField(max_length=100, default="Default")
    key = models.CharField(max_length=64, unique=True)
    allowed_origins = models.JSONField(
        default=list, blank=True,
        help_text="Browser origins allowed to send with this key, e.g. https://shop.example.com; "
                  "empty allows every origin.")
    rate_limit_per_s = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Items (events or points) per second this key may send; empty uses "
                  "INGEST_DEFAULT_RATE_PER_S, 0 means no limit.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["project", "created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key[:10]}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class APIToken(models.Model):
    """A personal token for the REST API. Only its SHA-256 is stored; the value is shown once."""

    PREFIX = "at_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise a token.")
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    def allows(self, scope: str) -> bool:
        needed = Scope.rank(scope)
        return any(Scope.rank(s) >= needed for s in self.scopes if s in Scope.values)
