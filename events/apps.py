from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class EventsConfig(AppConfig):
    name = "events"

    def ready(self):
        from . import catalog
        from .models import MetricDefinition

        post_save.connect(catalog.written, sender=MetricDefinition)
        post_delete.connect(catalog.written, sender=MetricDefinition)
