"""Celery tasks of the events app: thin wrappers around functions tests call directly."""

from celery import shared_task

from . import pathhours, retention, rollups
from .ingest import scrape


@shared_task(name="events.maintain_partitions")
def maintain_partitions() -> dict:
    report = retention.maintain()
    return {"created": report.created, "dropped": report.dropped,
            "deleted_events": report.deleted_events, "deleted_points": report.deleted_points,
            "deleted_rollups": report.deleted_rollups}


@shared_task(name="events.fold_rollups")
def fold_rollups() -> dict:
    report = rollups.fold()
    return vars(report)


@shared_task(name="events.scrape_targets")
def scrape_targets() -> dict:
    reports = scrape.scrape_due()
    return {"scraped": len(reports), "down": sum(not r["up"] for r in reports)}


@shared_task(name="events.build_path_hours")
def build_path_hours() -> dict:
    return {"built": pathhours.build_due()}
