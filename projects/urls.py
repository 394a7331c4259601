from django.urls import path

from . import views

app_name = "projects"
urlpatterns = [
    path("", views.project_list, name="list"),
    path("<int:project_id>/settings/", views.project_settings, name="settings"),
    path("<int:project_id>/members/add/", views.add_member, name="add-member"),
    path("<int:project_id>/members/<int:membership_id>/role/", views.change_member,
         name="change-member"),
    path("<int:project_id>/members/<int:membership_id>/remove/", views.remove_member,
         name="remove-member"),
    path("<int:project_id>/invitations/<int:invitation_id>/revoke/", views.revoke_invitation,
         name="revoke-invitation"),
    path("invitations/<int:invitation_id>/accept/", views.accept_invitation,
         name="accept-invitation"),
    path("invitations/<int:invitation_id>/decline/", views.decline_invitation,
         name="decline-invitation"),
    path("<int:project_id>/ingest-keys/<int:key_id>/rotate/", views.rotate_key, name="rotate-key"),
]
