from django.urls import path

from . import views

app_name = "events-api"
urlpatterns = [
    path("events/batch", views.events_batch, name="events-batch"),
    path("metrics", views.metrics, name="metrics"),
]
