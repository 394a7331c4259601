"""``GET /api/v1/projects/{id}/sources/``: what each source of the project sends (the Sources
page polls it)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from projects.models import APIToken
from projects.selectors import get_project_for

from .. import selectors


class SourceList(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="sources_list")
    def get(self, request, project_id):
        token = request.auth if isinstance(request.auth, APIToken) else None
        project = get_project_for(request.user, project_id, token=token)
        return Response(selectors.source_status(project))
