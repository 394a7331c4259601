"""``manage.py sync_schedules``: write ``analytics_site.schedules.SCHEDULES`` as beat rows."""

from django.core.management.base import BaseCommand
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from analytics_site.schedules import SCHEDULES


class Command(BaseCommand):
    help = "Create or update the periodic tasks of the platform in django-celery-beat."

    def handle(self, *args, **options):
        for schedule in SCHEDULES:
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=schedule.every_s, period=IntervalSchedule.SECONDS)
            task, created = PeriodicTask.objects.get_or_create(
                name=schedule.name,
                defaults={"task": schedule.task, "interval": interval,
                          "expire_seconds": schedule.expires_s})
            if not created:
                task.task = schedule.task
                task.interval = interval
                task.expire_seconds = schedule.expires_s
                task.save(update_fields=["task", "interval", "expire_seconds"])
        self.stdout.write(f"{len(SCHEDULES)} schedule(s) in place.")
