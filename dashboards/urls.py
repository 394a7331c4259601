from django.urls import path

from . import views

app_name = "dashboards"
urlpatterns = [
    path("<int:project_id>/overview/", views.overview, name="overview"),
]
