from django.urls import path

from . import views

app_name = "dashboards-api"
urlpatterns = [
    path("projects/<int:project_id>/dashboards/", views.DashboardList.as_view(),
         name="dashboard-list"),
    path("projects/<int:project_id>/dashboards/import/", views.DashboardImport.as_view(),
         name="dashboard-import"),
    path("dashboards/<int:pk>/", views.DashboardDetail.as_view(), name="dashboard-detail"),
    path("dashboards/<int:pk>/export/", views.DashboardExport.as_view(),
         name="dashboard-export"),
    path("dashboards/<int:pk>/duplicate/", views.DashboardDuplicate.as_view(),
         name="dashboard-duplicate"),
    path("dashboards/<int:pk>/layout/", views.DashboardLayout.as_view(),
         name="dashboard-layout"),
    path("dashboards/<int:pk>/panels/", views.PanelList.as_view(), name="panel-list"),
    path("dashboards/<int:pk>/public-link/", views.PublicLink.as_view(), name="public-link"),
    path("panels/<int:pk>/", views.PanelDetail.as_view(), name="panel-detail"),
    path("panels/<int:pk>/data/", views.PanelData.as_view(), name="panel-data"),
    path("projects/<int:project_id>/annotations/", views.AnnotationList.as_view(),
         name="annotation-list"),
    path("annotations/<int:pk>/", views.AnnotationDetail.as_view(), name="annotation-detail"),
    path("projects/<int:project_id>/live-ticket/", views.LiveTicket.as_view(),
         name="live-ticket"),
]
