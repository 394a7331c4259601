"""Alert rules over the query engine, their per-group state, the history of every transition,
silences, notification channels and the deliveries (with every attempt) sent through them.

The state lives here, in PostgreSQL: an evaluation changes instances, writes its AlertEvents and
queues its Notifications in one transaction, so a crash anywhere either leaves the previous
state (and the next evaluation decides again) or the new one with its notifications queued —
never a firing alert lost or announced twice."""

from django.conf import settings
from django.db import models

from projects.models import Project


class Reducer(models.TextChoices):
    LAST = "last", "Last"
    AVG = "avg", "Average"
    MIN = "min", "Minimum"
    MAX = "max", "Maximum"
    SUM = "sum", "Sum"
    P95 = "p95", "95th percentile"


class Condition(models.TextChoices):
    GT = "gt", ">"
    GTE = "gte", "≥"
    LT = "lt", "<"
    LTE = "lte", "≤"
    EQ = "eq", "="
    NE = "ne", "≠"
    ANOMALY = "anomaly", "anomaly ≥"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class NoData(models.TextChoices):
    OK = "ok", "Treat as OK"
    ALERTING = "alerting", "Treat as alerting"
    NO_DATA = "no_data", "Show as no data"


class State(models.TextChoices):
    OK = "ok", "OK"
    PENDING = "pending", "Pending"
    FIRING = "firing", "Firing"
    NO_DATA = "no_data", "No data"
    ERROR = "error", "Error"


class ChannelKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack-compatible webhook"


DEFAULT_MESSAGE = "[{state}] {rule}: {value} {condition} {threshold}{group} — {url}"


class NotificationChannel(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE,
                                related_name="notification_channels")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    recipients = models.JSONField(default=list, blank=True, help_text="E-mail addresses.")
    url = models.URLField(max_length=2000, blank=True, default="",
                          help_text="Webhook or Slack incoming-webhook URL.")
    secret = models.CharField(max_length=128, blank=True, default="", help_text=(
        "Webhooks: X-Signature is the hex HMAC-SHA256 of the body with this secret."))
    timeout_s = models.FloatField(default=5.0)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class AlertRule(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=100)
    query = models.TextField(help_text="The engine's query language; `by {tag}` makes one "
                                       "alert per group.")
    reducer = models.CharField(max_length=8, choices=Reducer.choices, default=Reducer.AVG)
    window_minutes = models.PositiveIntegerField(default=5)
    condition = models.CharField(max_length=7, choices=Condition.choices, default=Condition.GT)
    threshold = models.FloatField()
    for_seconds = models.PositiveIntegerField(default=0, help_text=(
        "How long the condition must hold before the alert fires (PENDING meanwhile)."))
    severity = models.CharField(max_length=10, choices=Severity.choices,
                                default=Severity.WARNING)
    enabled = models.BooleanField(default=True)
    labels = models.JSONField(default=dict, blank=True)
    channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="rules")
    no_data = models.CharField(max_length=10, choices=NoData.choices, default=NoData.NO_DATA)
    renotify_minutes = models.PositiveIntegerField(default=0, help_text=(
        "Repeat the firing notification this often while it fires; 0: never."))
    message = models.TextField(blank=True, default=DEFAULT_MESSAGE, help_text=(
        "Placeholders: {rule} {state} {value} {condition} {threshold} {severity} {group} "
        "{url}."))
    interval_seconds = models.PositiveIntegerField(default=60)
    report = models.ForeignKey("reports.Report", on_delete=models.SET_NULL, null=True,
                               blank=True, related_name="alert_rules", help_text=(
                                   "Rendered for the hours around each firing and sent with "
                                   "the notification (attached to e-mails, linked from "
                                   "webhooks and Slack)."))
    anomaly_model = models.ForeignKey(
        "ml.AnomalyModel", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="alert_rules", help_text=(
            "Condition `anomaly`: the model whose series are watched; a series fires while "
            "the model flags it anomalous with a score of at least the threshold (1.0 is the "
            "band's edge at the model's sensitivity)."))
    next_evaluation_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["enabled", "next_evaluation_at"])]

    def __str__(self) -> str:
        return self.name


class AlertInstance(models.Model):
    """The state of one rule for one group (``{}`` for an ungrouped query)."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="instances")
    group_key = models.CharField(max_length=500, default="", blank=True)
    group = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OK)
    value = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    since = models.DateTimeField(help_text="When the current state began.")
    pending_since = models.DateTimeField(null=True, blank=True)
    notified_firing = models.BooleanField(default=False, help_text=(
        "A firing notification went out for the current firing period (so its resolution is "
        "announced too)."))
    last_notified_at = models.DateTimeField(null=True, blank=True)
    evaluated_at = models.DateTimeField()

    class Meta:
        ordering = ["rule", "group_key"]
        constraints = [models.UniqueConstraint(fields=["rule", "group_key"],
                                               name="alerts_one_instance_per_group")]

    def __str__(self) -> str:
        return f"{self.rule} {self.group_key or ''} {self.state}".strip()


class AlertEvent(models.Model):
    """One transition of one instance: the history."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    instance = models.ForeignKey(AlertInstance, on_delete=models.CASCADE, related_name="events")
    group = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=State.choices)
    previous = models.CharField(max_length=10, choices=State.choices)
    value = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    triggered_at = models.DateTimeField(db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True, help_text=(
        "For a FIRING event: when that firing period ended."))
    silenced = models.BooleanField(default=False)

    class Meta:
        ordering = ["-triggered_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rule}: {self.previous} → {self.status}"


class Silence(models.Model):
    """Mutes notifications of one rule, or of every rule whose labels (or alert group) carry
    all of ``matchers``, from ``starts_at`` to ``ends_at``. States still change and are kept."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="silences")
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="silences")
    matchers = models.JSONField(default=dict, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ends_at", "-id"]

    def __str__(self) -> str:
        return self.reason


class Notification(models.Model):
    """One message to one channel (a transition, a reminder or a test), delivered by a task
    with retries; every try is a DeliveryAttempt."""

    class Kind(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"
        REMINDER = "reminder", "Still firing"
        TEST = "test", "Test"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE,
                                related_name="notifications")
    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, null=True, blank=True,
                              related_name="notifications")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    payload = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    report_run = models.ForeignKey("reports.Run", on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+", help_text=(
                                       "The rule's report, rendered for this firing: its "
                                       "files go with the e-mail."))

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} → {self.channel}"


class DeliveryAttempt(models.Model):
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE,
                                     related_name="delivery_attempts")
    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    response_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.FloatField(default=0)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'failed'} {self.response_code or ''} {self.error[:60]}"
