"""The beat scheduler: django-celery-beat's database scheduler plus a heartbeat.

``/readyz`` reports beat as alive when it has ticked within the last minute. The heartbeat is
written by the beat process itself on every tick (at most every few seconds), so it shows that
beat runs even when no task is due and no worker is up.
"""

import time

import redis
from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler


class HeartbeatScheduler(DatabaseScheduler):
    _heartbeat_client = None
    _last_beat = 0.0

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        now = time.time()
        if now - self._last_beat >= 5:
            self._last_beat = now
            try:
                if self._heartbeat_client is None:
                    self._heartbeat_client = redis.Redis.from_url(settings.REDIS_URL)
                self._heartbeat_client.set(settings.BEAT_HEARTBEAT_KEY, now, ex=3600)
            except redis.RedisError:
                self._heartbeat_client = None  # Redis down: /readyz says so on its own line
        return min(interval, 5)
