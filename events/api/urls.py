from django.urls import path

from ..ingest import endpoints
from . import analytics_views, query_views, source_views

app_name = "events-api"
urlpatterns = [
    path("events/batch", endpoints.events_batch, name="events-batch"),
    path("metrics", endpoints.metrics, name="metrics"),
    path("prom/write", endpoints.prometheus_remote_write, name="prom-remote-write"),
    path("query", query_views.QueryView.as_view(), name="query"),
    path("projects/<int:project_id>/sources/", source_views.SourceList.as_view(),
         name="source-list"),
    path("metrics/", query_views.MetricList.as_view(), name="metric-list"),
    path("metrics/<str:name>/tags", query_views.MetricTags.as_view(), name="metric-tags"),
    path("metrics/<str:name>/window", query_views.MetricWindow.as_view(), name="metric-window"),
    path("analytics/<str:report>", analytics_views.AnalyticsReport.as_view(),
         name="analytics-report"),
]
