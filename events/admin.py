"""Receivers operators configure: StatsD listeners (served by ``manage.py statsd``) and
Prometheus scrape targets (scraped by the worker), each with its health. Scoped like every admin
(see ``projects.admin``): a listener belongs to the project of its ingest key."""

from django.contrib import admin

from projects.admin import ProjectScopedAdmin

from .models import ScrapeTarget, StatsdListener


@admin.register(StatsdListener)
class StatsdListenerAdmin(ProjectScopedAdmin):
    project_path = "ingest_key__project"
    list_display = ["name", "host", "port", "udp", "tcp", "ingest_key", "flush_interval_s",
                    "enabled", "last_received_at", "received_total", "rejected_total"]
    list_filter = ["enabled"]
    readonly_fields = ["last_received_at", "received_total", "points_total", "rejected_total",
                       "last_error"]


@admin.register(ScrapeTarget)
class ScrapeTargetAdmin(ProjectScopedAdmin):
    list_display = ["name", "project", "url", "interval_s", "enabled", "up", "last_scrape_at",
                    "last_duration_ms", "last_samples", "last_error"]
    list_filter = ["enabled", "up", "project"]
    readonly_fields = ["up", "last_scrape_at", "last_duration_ms", "last_samples", "last_error",
                       "next_scrape_at"]
