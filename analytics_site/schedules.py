"""Every periodic task, in one place. ``manage.py sync_schedules`` (run by ``make run`` and the
Docker migrate step) writes them as django-celery-beat rows, where operators can see, pause or
retime them in the admin; a row an operator disabled stays disabled."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    every_s: int
    expires_s: int  # a run not started by then is dropped, so a backlog never piles up


SCHEDULES = [
    Schedule("events: partitions and retention", "events.maintain_partitions", 3600, 600),
    Schedule("events: fold rollups", "events.fold_rollups", 2, 10),
    Schedule("events: pre-aggregate the paths of past hours", "events.build_path_hours", 600, 550),
    Schedule("events: scrape Prometheus targets", "events.scrape_targets", 5, 5),
    Schedule("alerts: evaluate due rules", "alerts.evaluate", 10, 10),
    Schedule("alerts: resend lost notifications", "alerts.sweep_deliveries", 30, 30),
    Schedule("reports: resume interrupted runs", "reports.resume_runs", 15, 15),
    # Each model's own night (its project's training hour) or a training asked for: checked
    # every minute, trained once.
    Schedule("ml: train due anomaly models", "ml.train_due", 60, 55),
    Schedule("ml: score anomaly models", "ml.score_due", 60, 55),
]
