from django.urls import path

from . import views

app_name = "dashboards"
urlpatterns = [
    path("<int:project_id>/overview/", views.overview, name="overview"),
    path("<int:project_id>/funnels/", views.funnels, name="funnels"),
    path("<int:project_id>/retention/", views.retention, name="retention"),
    path("<int:project_id>/paths/", views.paths, name="paths"),
    path("<int:project_id>/sessions/", views.sessions, name="sessions"),
    path("<int:project_id>/sessions/<str:session_id>/", views.session, name="session"),
    path("<int:project_id>/people/", views.people, name="people"),
    path("<int:project_id>/people/<str:person_id>/", views.person, name="person"),
    path("<int:project_id>/events/", views.events, name="events"),
    path("<int:project_id>/metrics/", views.metrics, name="metrics"),
    path("<int:project_id>/dashboards/", views.dashboard_list, name="list"),
    path("<int:project_id>/dashboards/new/", views.dashboard_create, name="create"),
    path("<int:project_id>/dashboards/import/", views.dashboard_import, name="import"),
    path("<int:project_id>/dashboards/<int:dashboard_id>/", views.dashboard_detail,
         name="detail"),
    path("<int:project_id>/dashboards/<int:dashboard_id>/panels/new/", views.panel_editor,
         name="panel-new"),
    path("<int:project_id>/dashboards/<int:dashboard_id>/panels/<int:panel_id>/",
         views.panel_editor, name="panel-edit"),
    path("<int:project_id>/dashboards/<int:dashboard_id>/<str:action>/",
         views.dashboard_action, name="action"),
]
