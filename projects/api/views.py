"""REST endpoints for projects, members, invitations, ingest keys and personal tokens. Thin:
parse, call a selector or service, shape the answer. Scoping and roles come from
``projects.selectors``."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from analytics_site.errors import NotFound

from .. import selectors, services
from ..models import APIToken, Membership, Role, Scope
from . import serializers as s


def _token(request) -> APIToken | None:
    return request.auth if isinstance(request.auth, APIToken) else None


def _require_scope(request, scope: str) -> None:
    selectors.require_scope(_token(request), scope)


class ProjectViewSet(viewsets.ViewSet):
    """Projects the caller is a member of."""

    @staticmethod
    def _context(request, projects) -> dict:
        return {"roles": selectors.roles_for(request.user, projects)}

    def _one(self, request, project) -> dict:
        return s.ProjectSerializer(project, context=self._context(request, [project])).data

    def _get(self, request, pk, *, min_role=Role.VIEWER, scope=Scope.READ):
        return selectors.get_project_for(request.user, pk, min_role=min_role,
                                         token=_token(request), scope=scope)

    @extend_schema(responses=s.ProjectSerializer(many=True))
    def list(self, request):
        _require_scope(request, Scope.READ)
        projects = list(selectors.projects_for(request.user).order_by("name", "id"))
        return Response(s.ProjectSerializer(projects, many=True,
                                            context=self._context(request, projects)).data)

    @extend_schema(request=s.ProjectCreateSerializer,
                   responses={201: s.ProjectSerializer})
    def create(self, request):
        _require_scope(request, Scope.WRITE)
        data = _valid(s.ProjectCreateSerializer, request.data)
        project = services.create_project(name=data["name"], owner=request.user,
                                          timezone_name=data["timezone"])
        return Response(self._one(request, project), status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.ProjectSerializer)
    def retrieve(self, request, pk=None):
        project = self._get(request, pk)
        return Response(self._one(request, project))

    @extend_schema(request=s.ProjectUpdateSerializer, responses=s.ProjectSerializer)
    def partial_update(self, request, pk=None):
        project = self._get(request, pk, min_role=Role.ADMIN, scope=Scope.ADMIN)
        data = _valid(s.ProjectUpdateSerializer, request.data, partial=True)
        project = services.update_project(project=project, **data)
        return Response(self._one(request, project))

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        project = self._get(request, pk, min_role=Role.ADMIN, scope=Scope.ADMIN)
        services.delete_project(project=project)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _valid(serializer_class, data, **kwargs):
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ProjectChildViewSet(viewsets.ViewSet):
    """Base for resources under ``/projects/{project_id}/``: resolves the project for the caller
    (404 if not theirs) with the role and token scope the action needs."""

    read_role, write_role = Role.VIEWER, Role.ADMIN

    def project(self, request, *, write: bool = False):
        return selectors.get_project_for(
            request.user, self.kwargs["project_id"],
            min_role=self.write_role if write else self.read_role,
            token=_token(request), scope=Scope.ADMIN if write else Scope.READ,
        )


class MemberViewSet(ProjectChildViewSet):
    def _membership(self, project, pk) -> Membership:
        try:
            return selectors.memberships_of(project).get(pk=int(pk))
        except (Membership.DoesNotExist, ValueError):
            raise NotFound("Member not found.", details={"member_id": str(pk)}) from None

    @extend_schema(responses=s.MembershipSerializer(many=True))
    def list(self, request, project_id=None):
        project = self.project(request)
        return Response(s.MembershipSerializer(selectors.memberships_of(project), many=True).data)

    @extend_schema(
        request=s.MembershipCreateSerializer, responses={201: s.InvitationSerializer},
        description="Invite someone by username or e-mail address: a pending invitation they "
                    "accept or decline. The answer is the same whether or not such a person "
                    "exists or is already a member; inviting again renews the pending one.")
    def create(self, request, project_id=None):
        project = self.project(request, write=True)
        data = _valid(s.MembershipCreateSerializer, request.data)
        invitation = services.invite_member(project=project, identifier=data["username"],
                                            role=data["role"], invited_by=request.user)
        return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.MembershipUpdateSerializer, responses=s.MembershipSerializer)
    def partial_update(self, request, project_id=None, pk=None):
        project = self.project(request, write=True)
        membership = self._membership(project, pk)
        data = _valid(s.MembershipUpdateSerializer, request.data)
        membership = services.change_member_role(membership=membership, role=data["role"])
        return Response(s.MembershipSerializer(membership).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, project_id=None, pk=None):
        project = self.project(request, write=True)
        services.remove_member(membership=self._membership(project, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(ProjectChildViewSet):
    """A project's open invitations: its admins list and revoke them (they are made on
    ``members/``)."""

    read_role = Role.ADMIN

    @extend_schema(responses=s.InvitationSerializer(many=True))
    def list(self, request, project_id=None):
        project = self.project(request)
        return Response(s.InvitationSerializer(selectors.invitations_of(project), many=True).data)

    @extend_schema(responses={204: None}, description="Revoke the invitation.")
    def destroy(self, request, project_id=None, pk=None):
        project = self.project(request, write=True)
        services.revoke_invitation(invitation=selectors.invitation_of(project, pk),
                                   revoked_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReceivedInvitationViewSet(viewsets.ViewSet):
    """The caller's own open invitations, by their username or e-mail address."""

    @extend_schema(responses=s.ReceivedInvitationSerializer(many=True))
    def list(self, request):
        _require_scope(request, Scope.READ)
        invitations = selectors.invitations_for(request.user)
        return Response(s.ReceivedInvitationSerializer(invitations, many=True).data)

    @extend_schema(request=None, responses=s.ReceivedInvitationSerializer,
                   description="Join the project with the invited role.")
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        _require_scope(request, Scope.WRITE)
        invitation = selectors.invitation_for(request.user, pk)
        services.accept_invitation(invitation=invitation, user=request.user)
        invitation.refresh_from_db()
        return Response(s.ReceivedInvitationSerializer(invitation).data)

    @extend_schema(request=None, responses=s.ReceivedInvitationSerializer,
                   description="Decline: the invitation closes and nobody joins.")
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        _require_scope(request, Scope.WRITE)
        invitation = services.decline_invitation(
            invitation=selectors.invitation_for(request.user, pk), user=request.user)
        return Response(s.ReceivedInvitationSerializer(invitation).data)


class IngestKeyViewSet(ProjectChildViewSet):
    def _key(self, project, pk):
        try:
            return selectors.ingest_keys_of(project).get(pk=int(pk))
        except (project.ingest_keys.model.DoesNotExist, ValueError):
            raise NotFound("Ingest key not found.", details={"key_id": str(pk)}) from None

    @extend_schema(responses=s.IngestKeySerializer(many=True))
    def list(self, request, project_id=None):
        project = self.project(request)
        return Response(s.IngestKeySerializer(selectors.ingest_keys_of(project), many=True).data)

    @extend_schema(responses=s.IngestKeySerializer)
    def retrieve(self, request, project_id=None, pk=None):
        return Response(s.IngestKeySerializer(self._key(self.project(request), pk)).data)

    @extend_schema(request=s.IngestKeyWriteSerializer, responses={201: s.IngestKeySerializer})
    def create(self, request, project_id=None):
        project = self.project(request, write=True)
        data = _valid(s.IngestKeyWriteSerializer, request.data)
        key = services.create_ingest_key(project=project, created_by=request.user, **data)
        return Response(s.IngestKeySerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.IngestKeyUpdateSerializer, responses=s.IngestKeySerializer)
    def partial_update(self, request, project_id=None, pk=None):
        key = self._key(self.project(request, write=True), pk)
        data = _valid(s.IngestKeyUpdateSerializer, request.data)
        return Response(s.IngestKeySerializer(services.update_ingest_key(key=key, **data)).data)

    @extend_schema(request=None, responses=s.IngestKeySerializer,
                   description="Give the key a new value; the old value stops working at once.")
    @action(detail=True, methods=["post"])
    def rotate(self, request, project_id=None, pk=None):
        key = self._key(self.project(request, write=True), pk)
        return Response(s.IngestKeySerializer(services.rotate_ingest_key(key=key)).data)

    @extend_schema(request=None, responses=s.IngestKeySerializer,
                   description="Disable the key for good.")
    @action(detail=True, methods=["post"])
    def revoke(self, request, project_id=None, pk=None):
        key = self._key(self.project(request, write=True), pk)
        return Response(s.IngestKeySerializer(services.revoke_ingest_key(key=key)).data)


class TokenViewSet(viewsets.ViewSet):
    """The caller's own personal API tokens."""

    def _token_obj(self, request, pk) -> APIToken:
        try:
            return selectors.tokens_of(request.user).get(pk=int(pk))
        except (APIToken.DoesNotExist, ValueError):
            raise NotFound("Token not found.", details={"token_id": str(pk)}) from None

    @extend_schema(responses=s.APITokenSerializer(many=True))
    def list(self, request):
        _require_scope(request, Scope.READ)
        return Response(s.APITokenSerializer(selectors.tokens_of(request.user), many=True).data)

    @extend_schema(request=s.APITokenCreateSerializer,
                   responses={201: OpenApiResponse(s.APITokenCreatedSerializer,
                                                   description="`token` is shown only here.")})
    def create(self, request):
        _require_scope(request, Scope.ADMIN)
        data = _valid(s.APITokenCreateSerializer, request.data)
        token, raw = services.create_api_token(user=request.user, **data)
        body = s.APITokenSerializer(token).data
        body["token"] = raw
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None}, description="Revoke the token; it stops working at once.")
    def destroy(self, request, pk=None):
        _require_scope(request, Scope.ADMIN)
        services.revoke_api_token(token=self._token_obj(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
