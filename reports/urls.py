from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("<int:project_id>/reports/", views.report_list, name="list"),
    path("<int:project_id>/reports/new/", views.report_create, name="create"),
    path("<int:project_id>/reports/<int:report_id>/", views.report_detail, name="detail"),
    path("<int:project_id>/reports/<int:report_id>/edit/", views.builder, name="builder"),
    path("<int:project_id>/reports/<int:report_id>/schedule/", views.schedule_save,
         name="schedule"),
    path("<int:project_id>/reports/<int:report_id>/recipients/new/", views.recipient_add,
         name="recipient-add"),
    path("<int:project_id>/reports/<int:report_id>/recipients/<int:recipient_id>/remove/",
         views.recipient_remove, name="recipient-remove"),
    path("<int:project_id>/reports/<int:report_id>/<str:action>/", views.report_action,
         name="action"),
]

shared_urlpatterns = [
    path("r/<str:token>/", views.run_page, name="run-page"),
    path("r/<str:token>/files/<int:file_id>/", views.run_file, name="run-file"),
]
