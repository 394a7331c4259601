"""The demo page (the tracking snippet on a page with buttons that fire events) and a project's
Sources page (what each receiver, StatsD listener and scrape target has been sending)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from projects import selectors as project_selectors
from projects.models import Project
from projects.snippet import base_url

from .ingest import sources as source_status

DEMO_SLUG = "demo"


def demo(request, subpage: str = ""):
    project = Project.objects.filter(slug=DEMO_SLUG).first()
    key = project_selectors.active_ingest_key(project) if project else None
    if key is None:
        raise Http404("No demo project: run manage.py seed_demo")
    return render(request, "events/demo.html", {"project": project, "key": key,
                                                "base_url": base_url(request)})


@login_required
def sources(request, project_id):
    from analytics_site.errors import or_404
    from projects.selectors import get_project_for

    project = or_404(get_project_for, request.user, project_id)
    return render(request, "events/sources.html", {
        "project": project, "status": source_status.status_of(project)})
