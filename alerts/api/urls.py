from django.urls import path

from . import views

app_name = "alerts-api"
urlpatterns = [
    path("projects/<int:project_id>/alert-rules/", views.RuleList.as_view(), name="rule-list"),
    path("projects/<int:project_id>/alert-rules/preview/", views.RulePreview.as_view(),
         name="rule-preview"),
    path("alert-rules/<int:pk>/", views.RuleDetail.as_view(), name="rule-detail"),
    path("alert-rules/<int:pk>/evaluate/", views.RuleEvaluate.as_view(), name="rule-evaluate"),
    path("alert-rules/<int:pk>/history/", views.RuleHistory.as_view(), name="rule-history"),
    path("projects/<int:project_id>/alerts/", views.ProjectAlerts.as_view(), name="alerts"),
    path("projects/<int:project_id>/alert-events/", views.ProjectHistory.as_view(),
         name="alert-events"),
    path("projects/<int:project_id>/notification-channels/", views.ChannelList.as_view(),
         name="channel-list"),
    path("notification-channels/<int:pk>/", views.ChannelDetail.as_view(),
         name="channel-detail"),
    path("notification-channels/<int:pk>/test/", views.ChannelTest.as_view(),
         name="channel-test"),
    path("notification-channels/<int:pk>/deliveries/", views.ChannelDeliveries.as_view(),
         name="channel-deliveries"),
    path("projects/<int:project_id>/silences/", views.SilenceList.as_view(),
         name="silence-list"),
    path("silences/<int:pk>/", views.SilenceDetail.as_view(), name="silence-detail"),
]
