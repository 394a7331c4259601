from django.urls import path

from . import views

app_name = "ml-api"
urlpatterns = [
    path("projects/<int:project_id>/anomaly-models/", views.ModelList.as_view(),
         name="model-list"),
    path("anomaly-models/<int:pk>/", views.ModelDetail.as_view(), name="model-detail"),
    path("anomaly-models/<int:pk>/train/", views.ModelTrain.as_view(), name="model-train"),
    path("anomaly-models/<int:pk>/predictions/", views.ModelPredictions.as_view(),
         name="model-predictions"),
    path("projects/<int:project_id>/anomalies/", views.AnomalyList.as_view(),
         name="anomaly-list"),
    path("anomalies/<int:pk>/", views.AnomalyDetail.as_view(), name="anomaly-detail"),
    path("anomalies/<int:pk>/feedback/", views.AnomalyFeedback.as_view(),
         name="anomaly-feedback"),
    path("projects/<int:project_id>/correlations/", views.Correlations.as_view(),
         name="correlations"),
    path("projects/<int:project_id>/failure-probability/", views.FailureProbability.as_view(),
         name="failure-probability"),
]
