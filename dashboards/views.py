"""HTML pages of the dashboards app. Thin: the page is a shell; its script reads the analytics
API (events.query underneath) and the project's WebSocket."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from analytics_site.errors import ApiError
from projects.selectors import get_project_for

RANGES = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}


@login_required
def overview(request, project_id):
    try:
        project = get_project_for(request.user, project_id)
    except ApiError as exc:
        if exc.status == 404:
            raise Http404("Project not found") from None
        raise
    chosen = request.GET.get("range", "7d")
    if chosen not in RANGES:
        chosen = "7d"
    return render(request, "dashboards/overview.html",
                  {"project": project, "ranges": RANGES, "range": chosen})
