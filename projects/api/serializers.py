"""JSON in and out for projects, members, invitations, ingest keys and tokens. No rules here:
see services."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from ..models import APIToken, IngestKey, Invitation, Membership, Project, Role, Scope

User = get_user_model()


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "name", "slug", "timezone", "raw_retention_days",
                  "minute_rollup_retention_days", "hour_rollup_retention_days", "role",
                  "created_at"]
        read_only_fields = ["id", "slug", "role", "created_at"]

    def get_role(self, project) -> str | None:
        return self.context.get("roles", {}).get(project.pk)


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    timezone = serializers.CharField(max_length=64, default="UTC")


class ProjectUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    raw_retention_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    minute_rollup_retention_days = serializers.IntegerField(min_value=1, max_value=3650,
                                                            required=False)
    hour_rollup_retention_days = serializers.IntegerField(min_value=1, max_value=3650,
                                                          required=False)


class MembershipSerializer(serializers.ModelSerializer):
    # The username only: other members' e-mail addresses are theirs, not the project's.
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "username", "role", "created_at"]
        read_only_fields = fields


class MembershipCreateSerializer(serializers.Serializer):
    username = serializers.CharField(
        max_length=254, help_text="Username or e-mail address of the person to invite.")
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


class InvitationSerializer(serializers.ModelSerializer):
    """An invitation as its project's admins see it: what they typed, never whose it is."""

    invited_by = serializers.CharField(source="invited_by.username", read_only=True,
                                       default=None)

    class Meta:
        model = Invitation
        fields = ["id", "identifier", "role", "status", "invited_by", "created_at",
                  "expires_at"]
        read_only_fields = fields


class ReceivedInvitationSerializer(serializers.ModelSerializer):
    """An invitation as the invitee sees it: which project, which role, from whom."""

    project_name = serializers.CharField(source="project.name", read_only=True)
    invited_by = serializers.CharField(source="invited_by.username", read_only=True,
                                       default=None)

    class Meta:
        model = Invitation
        fields = ["id", "project", "project_name", "role", "status", "invited_by",
                  "created_at", "expires_at"]
        read_only_fields = fields


class MembershipUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class IngestKeySerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = IngestKey
        fields = ["id", "name", "key", "allowed_origins", "is_active", "created_at",
                  "rotated_at", "revoked_at", "last_used_at"]
        read_only_fields = fields


class IngestKeyWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, default="Default")
    allowed_origins = serializers.ListField(child=serializers.CharField(max_length=200),
                                            max_length=50, default=list)


class IngestKeyUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    allowed_origins = serializers.ListField(child=serializers.CharField(max_length=200),
                                            max_length=50, required=False)


class APITokenSerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = APIToken
        fields = ["id", "name", "prefix", "scopes", "expires_at", "last_used_at", "created_at",
                  "revoked_at", "is_active"]
        read_only_fields = fields


class APITokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices),
                                   min_length=1, max_length=3)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class APITokenCreatedSerializer(APITokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(APITokenSerializer.Meta):
        fields = [*APITokenSerializer.Meta.fields, "token"]
        read_only_fields = fields
