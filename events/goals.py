"""Goals: what the overview counts as a conversion (see ``events.models.Goal``). Services: the
only writes of goals; the conversions are read by ``events.query.goals``."""

from __future__ import annotations

from django.db import transaction

from projects.models import Project

from .models import Goal


@transaction.atomic
def create_goal(*, project: Project, name: str, event: str = "", path_pattern: str = "") -> Goal:
    goal = Goal(project=project, name=name, event=event, path_pattern=path_pattern)
    goal.full_clean()
    goal.save()
    return goal


def delete_goal(*, goal: Goal) -> None:
    goal.delete()
