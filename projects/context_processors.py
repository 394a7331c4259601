"""What every page's navigation needs: the projects the user can open."""

from . import selectors


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_projects": selectors.projects_for(user).order_by("name")[:50]}
