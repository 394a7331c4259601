"""BI reports: a definition (blocks of engine queries over a relative range), its schedule (kept
as the report's own django-celery-beat row), its recipients, and its runs — each run a row with
the range it covered, its files and every delivery attempt.

A scheduled run is unique on (report, scheduled time): however many beats or retried tasks ask
for the same tick, there is one row, and one worker at a time works on it (see ``runs``)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_celery_beat.models import PeriodicTask

from projects.models import Project


class RangeKind(models.TextChoices):
    LAST_24H = "last_24h", "Last 24 hours"
    LAST_7D = "last_7d", "Last 7 days"
    LAST_30D = "last_30d", "Last 30 days"
    PREVIOUS_DAY = "previous_day", "Previous day"
    PREVIOUS_WEEK = "previous_week", "Previous week"
    PREVIOUS_MONTH = "previous_month", "Previous month"
    MONTH_TO_DATE = "month_to_date", "Month to date"
    CUSTOM = "custom", "Custom"


class Report(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reports")
    title = models.CharField(max_length=200)
    description = models.CharField(max_length=1000, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="", help_text=(
        "IANA time zone of the range and the schedule; empty: the project's."))
    range = models.CharField(max_length=20, choices=RangeKind.choices,
                             default=RangeKind.LAST_7D)
    custom_start = models.DateTimeField(null=True, blank=True)
    custom_end = models.DateTimeField(null=True, blank=True)
    compare = models.BooleanField(default=True, help_text="Compare with the previous period.")
    variables = models.JSONField(default=list, blank=True, help_text=(
        '[{"name": "host", "metric": "cpu", "tag": "host", "values": ["web-1"]}] '
        "(no values: all)."))
    channels = models.ManyToManyField("alerts.NotificationChannel", blank=True,
                                      related_name="reports", help_text=(
                                          "Webhook and Slack channels that get a summary and "
                                          "the link of each run."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def zone(self) -> str:
        return self.timezone or self.project.timezone


class BlockKind(models.TextChoices):
    KPI = "kpi", "KPI"
    CHART = "chart", "Chart"
    TABLE = "table", "Table"
    TEXT = "text", "Text"
    PRODUCT = "product", "Product report"


class Block(models.Model):
    """One part of a report: a query of the engine drawn one way, or Markdown text."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="blocks")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=BlockKind.choices)
    title = models.CharField(max_length=200, blank=True, default="")
    query = models.TextField(max_length=2000, blank=True, default="")
    options = models.JSONField(default=dict, blank=True, help_text=(
        "chart: type (line, area, bar); table: mode (series, breakdown); kpi: calculation, "
        "unit, metric; text: markdown; product: report, limit; all: step."))

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title or self.get_kind_display()


class ScheduleKind(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    CRON = "cron", "Cron expression"


class Schedule(models.Model):
    """When a report is sent, in the report's time zone. The beat row (``periodic_task``) is
    written from this one by ``reports.scheduling``; this row is the truth."""

    report = models.OneToOneField(Report, on_delete=models.CASCADE, related_name="schedule")
    kind = models.CharField(max_length=10, choices=ScheduleKind.choices,
                            default=ScheduleKind.WEEKLY)
    time = models.TimeField(default="09:00", help_text="Local time of day (daily, weekly, "
                                                      "monthly).")
    weekday = models.PositiveSmallIntegerField(default=0, help_text="Weekly: 0 Monday … 6 "
                                                                   "Sunday.")
    day_of_month = models.PositiveSmallIntegerField(default=1, help_text="Monthly: 1 to 28.")
    cron = models.CharField(max_length=100, blank=True, default="", help_text=(
        "Cron: minute hour day-of-month month day-of-week, e.g. 30 8 * * 1-5."))
    enabled = models.BooleanField(default=True)
    periodic_task = models.OneToOneField(PeriodicTask, on_delete=models.SET_NULL, null=True,
                                         blank=True, editable=False, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.report}: {self.get_kind_display()}"


class Format(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    PDF = "pdf", "PDF"
    JSON = "json", "JSON"


class Recipient(models.Model):
    """An address a report is e-mailed to (a member or not), the files it gets, and an optional
    condition: only when a KPI moved more than ``min_change_percent``."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="recipients")
    email = models.EmailField(max_length=254)
    formats = models.JSONField(default=list, blank=True, help_text='["csv", "xlsx", "pdf"]')
    min_change_percent = models.FloatField(null=True, blank=True, help_text=(
        "Send only when a KPI moved more than this (in %, against the previous period)."))
    condition_block = models.ForeignKey(Block, on_delete=models.SET_NULL, null=True,
                                        blank=True, related_name="+", help_text=(
                                            "The KPI the condition watches; empty: any KPI."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email", "id"]
        constraints = [models.UniqueConstraint(fields=["report", "email"],
                                               name="reports_one_recipient_per_address")]

    def __str__(self) -> str:
        return self.email


class Run(models.Model):
    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Run now"
        ALERT = "alert", "Alert"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        RETRYING = "retrying", "Retrying"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    range_start = models.DateTimeField(null=True, blank=True)
    range_end = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True, default="")
    recipients = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    snapshot = models.JSONField(null=True, blank=True, editable=False, help_text=(
        "What the run's page shows: the definition and its data."))
    link_key = models.CharField(max_length=32, blank=True, default="", editable=False,
                                help_text="Part of the signed link; a new one revokes it.")
    context = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(
            fields=["report", "scheduled_for"], condition=Q(trigger="schedule"),
            name="reports_one_run_per_tick")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.report} · {self.scheduled_for or self.created_at:%Y-%m-%d %H:%M}"


class RunFile(models.Model):
    """A file a run made: an attachment (csv, xlsx, pdf, json) or a chart image of the e-mail
    and the run's page. Kept in PostgreSQL, which every worker and web process shares."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=200)
    format = models.CharField(max_length=10)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField(default=0)
    content = models.BinaryField()
    inline = models.BooleanField(default=False, help_text="A chart image, not an attachment.")

    class Meta:
        ordering = ["inline", "name", "id"]

    def __str__(self) -> str:
        return self.name


class Delivery(models.Model):
    """One attempt to deliver a run to one address or channel."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="deliveries")
    target = models.CharField(max_length=300, help_text="An e-mail address or a channel.")
    channel = models.CharField(max_length=10, default="email")
    attempt = models.PositiveIntegerField(default=1)
    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField(default=False)
    skipped = models.BooleanField(default=False, help_text="Its condition did not hold.")
    code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.FloatField(default=0)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        state = "skipped" if self.skipped else "ok" if self.ok else "failed"
        return f"{self.target} #{self.attempt} {state}"
