"""Receivers operators configure: StatsD listeners (served by ``manage.py statsd``)."""

from django.contrib import admin

from .models import StatsdListener


@admin.register(StatsdListener)
class StatsdListenerAdmin(admin.ModelAdmin):
    list_display = ["name", "host", "port", "udp", "tcp", "ingest_key", "flush_interval_s",
                    "enabled", "last_received_at", "received_total", "rejected_total"]
    list_filter = ["enabled"]
    readonly_fields = ["last_received_at", "received_total", "points_total", "rejected_total",
                       "last_error"]
