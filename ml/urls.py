from django.urls import path

from . import views

app_name = "ml"
urlpatterns = [
    path("<int:project_id>/ml/", views.model_list, name="list"),
    path("<int:project_id>/ml/models/new/", views.model_create, name="create"),
    path("<int:project_id>/ml/models/<int:model_id>/", views.model_detail, name="model"),
    path("<int:project_id>/ml/models/<int:model_id>/train/", views.model_train, name="train"),
    path("<int:project_id>/ml/models/<int:model_id>/delete/", views.model_delete,
         name="delete"),
    path("<int:project_id>/ml/anomalies/<int:anomaly_id>/", views.anomaly_detail,
         name="anomaly"),
    path("<int:project_id>/ml/anomalies/<int:anomaly_id>/feedback/", views.anomaly_feedback,
         name="feedback"),
    path("<int:project_id>/ml/correlations/", views.correlations, name="correlations"),
]
