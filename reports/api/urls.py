from django.urls import path

from . import views

app_name = "reports-api"
urlpatterns = [
    path("projects/<int:project_id>/reports/", views.ReportList.as_view(), name="report-list"),
    path("projects/<int:project_id>/reports/from-dashboard/",
         views.ReportFromDashboard.as_view(), name="report-from-dashboard"),
    path("reports/<int:pk>/", views.ReportDetail.as_view(), name="report-detail"),
    path("reports/<int:pk>/duplicate/", views.ReportDuplicate.as_view(),
         name="report-duplicate"),
    path("reports/<int:pk>/blocks/", views.BlockList.as_view(), name="block-list"),
    path("reports/<int:pk>/order/", views.BlockOrder.as_view(), name="block-order"),
    path("reports/<int:pk>/block-preview/", views.BlockPreview.as_view(),
         name="block-preview"),
    path("reports/<int:pk>/preview/", views.ReportPreview.as_view(), name="report-preview"),
    path("reports/<int:pk>/data/", views.ReportData.as_view(), name="report-data"),
    path("reports/<int:pk>/export/<str:kind>/", views.ReportExport.as_view(),
         name="report-export"),
    path("reports/<int:pk>/schedule/", views.ScheduleDetail.as_view(), name="schedule"),
    path("reports/<int:pk>/recipients/", views.RecipientList.as_view(),
         name="recipient-list"),
    path("reports/<int:pk>/run/", views.RunNow.as_view(), name="run-now"),
    path("reports/<int:pk>/runs/", views.RunList.as_view(), name="run-list"),
    path("report-blocks/<int:pk>/", views.BlockDetail.as_view(), name="block-detail"),
    path("report-blocks/<int:pk>/png/", views.BlockPng.as_view(), name="block-png"),
    path("report-recipients/<int:pk>/", views.RecipientDetail.as_view(),
         name="recipient-detail"),
    path("report-runs/<int:pk>/", views.RunDetail.as_view(), name="run-detail"),
    path("report-runs/<int:pk>/files/<int:file_id>/", views.RunFileDownload.as_view(),
         name="run-file"),
    path("report-runs/<int:pk>/revoke-link/", views.RevokeLink.as_view(), name="revoke-link"),
]
