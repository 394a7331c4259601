from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects and access"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_migrate, post_save

        from . import (
            access_cache,
            schema,  # noqa: F401 - registers the token scheme with drf-spectacular
        )

        for model in (*access_cache.WATCHED, get_user_model()):
            post_save.connect(access_cache.changed, sender=model, dispatch_uid="access-cache")
            post_delete.connect(access_cache.changed, sender=model,
                                dispatch_uid="access-cache")
        post_migrate.connect(access_cache.migrated, sender=self, dispatch_uid="access-cache")
