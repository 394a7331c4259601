"""Root URLs: pages, the versioned API, the OpenAPI schema and docs, and the probes."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from analytics_site import health, status
from dashboards import views as dashboard_views
from dashboards.api.views import PublicPanelData
from events import views as event_views
from events.ingest import endpoints
from reports import urls as report_urls

admin.site.site_header = "Analytics administration"
admin.site.site_title = "Analytics admin"

api_v1 = [
    path("", include("projects.api.urls")),
    path("", include("events.api.urls")),
    path("", include("dashboards.api.urls")),
    path("", include("alerts.api.urls")),
    path("", include("reports.api.urls")),
    path("", include("ml.api.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="projects:list", permanent=False), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("status/", status.status_page, name="status"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/", include("projects.urls")),
    path("projects/", include("dashboards.urls")),
    path("projects/", include("alerts.urls")),
    path("projects/", include("reports.urls")),
    path("projects/", include("ml.urls")),
    path("", include((report_urls.shared_urlpatterns, "reports-shared"))),
    path("public/dashboards/<str:token>/", dashboard_views.public_dashboard,
         name="public-dashboard"),
    path("public/dashboards/<str:token>/panels/<int:panel_id>/", PublicPanelData.as_view(),
         name="public-panel"),
    path("projects/<int:project_id>/sources/", event_views.sources, name="sources"),
    path("demo/", event_views.demo, name="demo"),
    path("demo/<path:subpage>", event_views.demo, name="demo-subpage"),
    path("admin/", admin.site.urls),
    # Receivers of other protocols, at the paths their clients use.
    path("write", endpoints.write_v1, name="influx-write-v1"),
    path("api/v2/write", endpoints.write_v2, name="influx-write-v2"),
    *[path(route, endpoints.posthog_capture, name=f"posthog-{i}")
      for i, route in enumerate(["batch/", "batch", "capture/", "capture", "e/", "e",
                                 "i/v0/e/", "i/v0/e"])],
    path("v1/metrics", endpoints.otlp_metrics, name="otlp-metrics"),
    path("api/event", endpoints.plausible_event, name="plausible-event"),
    path("v1/batch", endpoints.segment_endpoint(None), name="segment-batch"),
    *[path(f"v1/{kind}", endpoints.segment_endpoint(kind), name=f"segment-{kind}")
      for kind in ("track", "identify", "page", "screen", "alias", "group")],
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler400 = "analytics_site.errors.json_or_html_400"
handler403 = "analytics_site.errors.json_or_html_403"
handler404 = "analytics_site.errors.json_or_html_404"
handler500 = "analytics_site.errors.json_or_html_500"
