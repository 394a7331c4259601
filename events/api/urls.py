from django.urls import path

from ..ingest import endpoints
from . import analytics_views, product_views, query_views, source_views

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
    path("projects/<int:project_id>/funnel/", product_views.FunnelView.as_view(),
         name="funnel"),
    path("projects/<int:project_id>/funnel/people/", product_views.FunnelPeopleView.as_view(),
         name="funnel-people"),
    path("projects/<int:project_id>/retention/", product_views.RetentionView.as_view(),
         name="retention"),
    path("projects/<int:project_id>/paths/", product_views.PathsView.as_view(), name="paths"),
    path("projects/<int:project_id>/entry-pages/", product_views.EntriesView.as_view(),
         name="entry-pages"),
    path("projects/<int:project_id>/sessions/", product_views.SessionList.as_view(),
         name="session-list"),
    path("projects/<int:project_id>/sessions/<str:session_id>/",
         product_views.SessionDetail.as_view(), name="session-detail"),
    path("projects/<int:project_id>/people/", product_views.PeopleList.as_view(),
         name="people-list"),
    path("projects/<int:project_id>/people/<str:person_id>/",
         product_views.PersonDetail.as_view(), name="person-detail"),
    path("projects/<int:project_id>/events/", product_views.EventList.as_view(),
         name="event-list"),
    path("projects/<int:project_id>/goals/", product_views.GoalList.as_view(),
         name="goal-list"),
    path("projects/<int:project_id>/goals/conversions/",
         product_views.GoalConversions.as_view(), name="goal-conversions"),
    path("goals/<int:id>/", product_views.GoalDetail.as_view(), name="goal-detail"),
]
