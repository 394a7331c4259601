"""Receivers operators configure: StatsD listeners (served by ``manage.py statsd``) and
Prometheus scrape targets (scraped by the worker), each with its health."""

from django.contrib import admin

from .models import ScrapeTarget, StatsdListener


@admin.register(StatsdListener)
class StatsdListenerAdmin(admin.ModelAdmin):
    list_display = ["name", "host", "port", "udp", "tcp", "ingest_key", "flush_interval_s",
                    "enabled", "last_received_at", "received_total", "rejected_total"]
    list_filter = ["enabled"]
    readonly_fields = ["last_received_at", "received_total", "points_total", "rejected_total",
                       "last_error"]


@admin.register(ScrapeTarget)
class ScrapeTargetAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "url", "interval_s", "enabled", "up", "last_scrape_at",
                    "last_duration_ms", "last_samples", "last_error"]
    list_filter = ["enabled", "up", "project"]
    readonly_fields = ["up", "last_scrape_at", "last_duration_ms", "last_samples", "last_error",
                       "next_scrape_at"]
