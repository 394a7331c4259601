from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects and access"

    def ready(self):
        from . import schema  # noqa: F401 - registers the token scheme with drf-spectacular
