"""The tracking snippet a project pastes into its pages."""

from django.conf import settings
from django.templatetags.static import static

from .models import IngestKey


def base_url(request) -> str:
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL.rstrip("/")
    return f"{request.scheme}://{request.get_host()}"


def snippet_for(request, key: IngestKey) -> str:
    src = base_url(request) + static("sdk/tracker.js")
    return f'<script src="{src}" data-key="{key.key}" defer></script>'
