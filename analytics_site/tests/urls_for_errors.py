"""URLs used only by test_errors: a view that crashes and one that is rate limited."""

from django.urls import include, path
from rest_framework.decorators import api_view, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from analytics_site.throttling import AnonRateThrottle


class TwoPerMinute(AnonRateThrottle):
    rate = "2/min"
    scope = "test-two-per-minute"


@api_view(["GET"])
@permission_classes([AllowAny])
def crash(request):
    raise RuntimeError("secret internals: password=hunter2")


@api_view(["GET"])
@permission_classes([AllowAny])
@throttle_classes([TwoPerMinute])
def limited(request):
    return Response({"ok": True})


@api_view(["POST"])
@permission_classes([AllowAny])
def echo(request):
    return Response({"received": request.data})


urlpatterns = [
    path("api/v1/test/crash", crash),
    path("api/v1/test/limited", limited),
    path("api/v1/test/echo", echo),
    path("", include("analytics_site.urls")),
]
handler404 = "analytics_site.errors.json_or_html_404"
handler500 = "analytics_site.errors.json_or_html_500"
