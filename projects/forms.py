from django import forms

from .models import Project, Role


class ProjectCreateForm(forms.Form):
    name = forms.CharField(max_length=100)
    timezone = forms.CharField(max_length=64, initial="UTC")


class ProjectSettingsForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "timezone", "raw_retention_days", "minute_rollup_retention_days",
                  "hour_rollup_retention_days"]


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=254, label="Username or e-mail")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
