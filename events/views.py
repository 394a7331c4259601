"""The demo page: the tracking snippet on a page with buttons that fire events."""

from django.http import Http404
from django.shortcuts import render

from projects import selectors as project_selectors
from projects.models import Project
from projects.snippet import base_url

DEMO_SLUG = "demo"


def demo(request, subpage: str = ""):
    project = Project.objects.filter(slug=DEMO_SLUG).first()
    key = project_selectors.active_ingest_key(project) if project else None
    if key is None:
        raise Http404("No demo project: run manage.py seed_demo")
    return render(request, "events/demo.html", {"project": project, "key": key,
                                                "base_url": base_url(request)})
