from django.urls import path

from . import views

project_list = views.ProjectViewSet.as_view({"get": "list", "post": "create"})
project_detail = views.ProjectViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
member_list = views.MemberViewSet.as_view({"get": "list", "post": "create"})
member_detail = views.MemberViewSet.as_view({"patch": "partial_update", "delete": "destroy"})
invitation_list = views.InvitationViewSet.as_view({"get": "list"})
invitation_detail = views.InvitationViewSet.as_view({"delete": "destroy"})
received_list = views.ReceivedInvitationViewSet.as_view({"get": "list"})
received_accept = views.ReceivedInvitationViewSet.as_view({"post": "accept"})
received_decline = views.ReceivedInvitationViewSet.as_view({"post": "decline"})
key_list = views.IngestKeyViewSet.as_view({"get": "list", "post": "create"})
key_detail = views.IngestKeyViewSet.as_view({"get": "retrieve", "patch": "partial_update"})
key_rotate = views.IngestKeyViewSet.as_view({"post": "rotate"})
key_revoke = views.IngestKeyViewSet.as_view({"post": "revoke"})
token_list = views.TokenViewSet.as_view({"get": "list", "post": "create"})
token_detail = views.TokenViewSet.as_view({"delete": "destroy"})

app_name = "projects-api"
urlpatterns = [
    path("projects/", project_list, name="project-list"),
    path("projects/<int:pk>/", project_detail, name="project-detail"),
    path("projects/<int:project_id>/members/", member_list, name="member-list"),
    path("projects/<int:project_id>/members/<int:pk>/", member_detail, name="member-detail"),
    path("projects/<int:project_id>/invitations/", invitation_list, name="invitation-list"),
    path("projects/<int:project_id>/invitations/<int:pk>/", invitation_detail,
         name="invitation-detail"),
    path("invitations/", received_list, name="received-invitation-list"),
    path("invitations/<int:pk>/accept/", received_accept, name="received-invitation-accept"),
    path("invitations/<int:pk>/decline/", received_decline, name="received-invitation-decline"),
    path("projects/<int:project_id>/ingest-keys/", key_list, name="ingest-key-list"),
    path("projects/<int:project_id>/ingest-keys/<int:pk>/", key_detail, name="ingest-key-detail"),
    path("projects/<int:project_id>/ingest-keys/<int:pk>/rotate/", key_rotate,
         name="ingest-key-rotate"),
    path("projects/<int:project_id>/ingest-keys/<int:pk>/revoke/", key_revoke,
         name="ingest-key-revoke"),
    path("tokens/", token_list, name="token-list"),
    path("tokens/<int:pk>/", token_detail, name="token-detail"),
]
