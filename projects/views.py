"""HTML pages: project list (with the caller's invitations) and project settings. Thin:
selectors read, services write."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from analytics_site.errors import ApiError

from . import selectors, services
from .forms import AddMemberForm, ChangeRoleForm, ProjectCreateForm, ProjectSettingsForm
from .models import Role
from .snippet import snippet_for


def _project(request, project_id, min_role=Role.VIEWER):
    try:
        return selectors.get_project_for(request.user, project_id, min_role=min_role)
    except ApiError as exc:
        if exc.status == 404:
            raise Http404("Project not found") from None
        raise


@login_required
def project_list(request):
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.create_project(name=form.cleaned_data["name"], owner=request.user,
                                              timezone_name=form.cleaned_data["timezone"])
        except ApiError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Project “{project.name}” created.")
            return redirect("projects:settings", project_id=project.pk)
    projects = list(selectors.projects_for(request.user).order_by("name"))
    roles = selectors.roles_for(request.user, projects)
    projects = [{"project": p, "role": roles.get(p.pk)} for p in projects]
    return render(request, "projects/list.html", {
        "projects": projects, "form": form,
        "invitations": selectors.invitations_for(request.user)})


def _answer_invitation(request, invitation_id, answer):
    try:
        invitation = selectors.invitation_for(request.user, invitation_id)
        message = answer(invitation)
    except ApiError as exc:
        if exc.status == 404:
            raise Http404("Invitation not found") from None
        messages.error(request, exc.message)
    else:
        messages.success(request, message)
    return redirect("projects:list")


@login_required
@require_POST
def accept_invitation(request, invitation_id):
    def answer(invitation):
        membership = services.accept_invitation(invitation=invitation, user=request.user)
        return f"You joined “{invitation.project.name}” as {membership.role}."

    return _answer_invitation(request, invitation_id, answer)


@login_required
@require_POST
def decline_invitation(request, invitation_id):
    def answer(invitation):
        services.decline_invitation(invitation=invitation, user=request.user)
        return f"Invitation to “{invitation.project.name}” declined."

    return _answer_invitation(request, invitation_id, answer)


@login_required
def project_settings(request, project_id):
    project = _project(request, project_id)
    role = selectors.role_of(request.user, project)
    is_admin = role == Role.ADMIN
    settings_form = ProjectSettingsForm(instance=project)
    if request.method == "POST":
        if not is_admin:
            raise _forbidden()
        settings_form = ProjectSettingsForm(request.POST, instance=project)
        if settings_form.is_valid():
            services.update_project(project=project, **{
                k: settings_form.cleaned_data[k] for k in settings_form.changed_data
            })
            messages.success(request, "Settings saved.")
            return redirect("projects:settings", project_id=project.pk)
    key = selectors.active_ingest_key(project)
    context = {
        "project": project,
        "role": role,
        "is_admin": is_admin,
        "ingest_keys": selectors.ingest_keys_of(project),
        "active_key": key,
        "snippet": snippet_for(request, key) if key else "",
        "memberships": selectors.memberships_of(project),
        "invitations": selectors.invitations_of(project) if is_admin else [],
        "settings_form": settings_form,
        "member_form": AddMemberForm(),
        "roles": Role.choices,
    }
    return render(request, "projects/settings.html", context)


def _forbidden():
    from django.core.exceptions import PermissionDenied

    return PermissionDenied("This needs the admin role in the project.")


def _admin_action(request, project_id, action):
    project = _project(request, project_id)
    if selectors.role_of(request.user, project) != Role.ADMIN:
        raise _forbidden()
    try:
        message = action(project)
    except ApiError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, message)
    return redirect("projects:settings", project_id=project.pk)


@login_required
@require_POST
def add_member(request, project_id):
    def action(project):
        form = AddMemberForm(request.POST)
        if not form.is_valid():
            raise ApiError("Enter a username and a role.")
        invitation = services.invite_member(
            project=project, identifier=form.cleaned_data["username"],
            role=form.cleaned_data["role"], invited_by=request.user)
        return (f"“{invitation.identifier}” is invited as {invitation.role}: the invitation "
                "waits on their Projects page.")

    return _admin_action(request, project_id, action)


@login_required
@require_POST
def change_member(request, project_id, membership_id):
    def action(project):
        membership = _membership(project, membership_id)
        form = ChangeRoleForm(request.POST)
        if not form.is_valid():
            raise ApiError("Choose a role.")
        services.change_member_role(membership=membership, role=form.cleaned_data["role"])
        return f"{membership.user.username} is now {membership.role}."

    return _admin_action(request, project_id, action)


@login_required
@require_POST
def remove_member(request, project_id, membership_id):
    def action(project):
        membership = _membership(project, membership_id)
        services.remove_member(membership=membership)
        return f"{membership.user.username} removed."

    return _admin_action(request, project_id, action)


@login_required
@require_POST
def revoke_invitation(request, project_id, invitation_id):
    def action(project):
        invitation = _invitation(project, invitation_id)
        services.revoke_invitation(invitation=invitation, revoked_by=request.user)
        return f"Invitation for “{invitation.identifier}” revoked."

    return _admin_action(request, project_id, action)


@login_required
@require_POST
def rotate_key(request, project_id, key_id):
    def action(project):
        key = _ingest_key(project, key_id)
        services.rotate_ingest_key(key=key)
        return f"Key “{key.name}” rotated: update your pages and SDKs with the new value."

    return _admin_action(request, project_id, action)


def _membership(project, membership_id):
    membership = selectors.memberships_of(project).filter(pk=membership_id).first()
    if membership is None:
        raise Http404("Member not found")
    return membership


def _invitation(project, invitation_id):
    invitation = selectors.invitations_of(project).filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404("Invitation not found")
    return invitation


def _ingest_key(project, key_id):
    key = selectors.ingest_keys_of(project).filter(pk=key_id).first()
    if key is None:
        raise Http404("Key not found")
    return key
