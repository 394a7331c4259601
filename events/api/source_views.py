"""``GET /api/v1/projects/{id}/sources/``: what each source of the project sends (the Sources
page polls it)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from projects.authentication import token_of
from projects.selectors import get_project_for

from ..ingest import sources


class SourceList(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="sources_list")
    def get(self, request, project_id):
        project = get_project_for(request.user, project_id, token=token_of(request))
        return Response(sources.status_of(project))
