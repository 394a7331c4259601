from django.urls import path

from . import views

app_name = "alerts"
urlpatterns = [
    path("<int:project_id>/alerts/", views.rule_list, name="list"),
    path("<int:project_id>/alerts/new/", views.rule_form, name="new"),
    path("<int:project_id>/alerts/channels/", views.channels, name="channels"),
    path("<int:project_id>/alerts/channels/new/", views.channel_create, name="channel-create"),
    path("<int:project_id>/alerts/channels/<int:channel_id>/<str:action>/",
         views.channel_action, name="channel-action"),
    path("<int:project_id>/alerts/silences/new/", views.silence_create, name="silence-create"),
    path("<int:project_id>/alerts/silences/<int:silence_id>/end/", views.silence_end,
         name="silence-end"),
    path("<int:project_id>/alerts/<int:rule_id>/", views.rule_detail, name="detail"),
    path("<int:project_id>/alerts/<int:rule_id>/edit/", views.rule_form, name="edit"),
    path("<int:project_id>/alerts/<int:rule_id>/evaluate/", views.rule_evaluate,
         name="evaluate"),
]
