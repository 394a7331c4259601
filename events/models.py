"""Stored events and metric points.

The two big tables, ``events_event`` and ``events_metricpoint``, are PostgreSQL tables
partitioned by day on their timestamp (created in migration 0001, maintained by
``events.partitions``); Django reads them through the unmanaged models below and never creates
or alters them. Writes go through ``events.services`` in bulk SQL.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from projects.models import Project

# Events that count as page views (the tracker's, and PostHog's name for it).
PAGEVIEW_EVENTS = ("page_view", "$pageview")

# Tables made by raw SQL in migrations (no Django model manages them, so a test database flush
# does not empty them): the stored data, the deltas of each batch, and the rollups.
DATA_TABLES = ("events_event", "events_eventseen", "events_metricpoint", "events_metricdelta",
               "events_eventdelta", "events_metricrollup1m", "events_metricrollup1h",
               "events_eventrollup1h", "events_hourrollup", "events_sessiondelta",
               "events_sessionrollup", "events_metricnamerollup1h", "events_sessionhour",
               "events_dimdelta", "events_dimrollup1h", "events_dimrollup1d",
               "events_persondelta", "events_person", "events_pathrollup1h",
               "events_pathhour", "events_pathrollup1d", "events_pathday")


class Event(models.Model):
    # Composite identity (project, uuid, timestamp); Django needs one column as pk for reads.
    uuid = models.UUIDField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.DO_NOTHING, db_constraint=False)
    event = models.TextField()
    distinct_id = models.TextField()
    person_id = models.TextField()
    session_id = models.TextField(null=True)
    timestamp = models.DateTimeField()
    client_timestamp = models.DateTimeField(null=True)
    received_at = models.DateTimeField()
    properties = models.JSONField(default=dict)
    page_url = models.TextField(null=True)
    path = models.TextField(null=True)
    referrer = models.TextField(null=True)
    referrer_domain = models.TextField(null=True)
    browser = models.TextField(null=True)
    os = models.TextField(null=True)
    device_type = models.TextField(null=True)
    ip_hash = models.TextField(null=True)
    country = models.TextField(null=True)
    channel = models.TextField(null=True)
    utm_source = models.TextField(null=True)
    utm_medium = models.TextField(null=True)
    utm_campaign = models.TextField(null=True)
    utm_term = models.TextField(null=True)
    utm_content = models.TextField(null=True)
    is_bot = models.BooleanField(default=False)

    class Meta:
        managed = False
        db_table = "events_event"

    def __str__(self) -> str:
        return f"{self.event} {self.uuid}"


class EventSeen(models.Model):
    """Event uuids already stored per project, so a retried batch is stored once.

    Kept apart from the partitioned table because a retry's corrected timestamp (and so its
    partition) can differ from the original's; rows older than the raw retention are deleted.
    """

    # (project_id, uuid) is the key; Django wants one pk column, so reads use .values().
    project_id = models.BigIntegerField(primary_key=True)
    uuid = models.UUIDField()
    seen_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "events_eventseen"

    def __str__(self) -> str:
        return str(self.uuid)


class PersonAlias(models.Model):
    """An anonymous distinct id linked to a user id by ``identify``: events of either count as
    one person from then on."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    distinct_id = models.CharField(max_length=200)
    person_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "distinct_id"],
                                               name="unique_alias")]

    def __str__(self) -> str:
        return f"{self.distinct_id} → {self.person_id}"


class MetricSeries(models.Model):
    """One series: a metric name plus its sorted tags, stored once; points refer to it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    tags = models.JSONField(default=dict)
    tags_key = models.TextField(help_text="Canonical form of the tags: sorted key=value pairs.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "metric series"
        constraints = [models.UniqueConstraint(fields=["project", "name", "tags_key"],
                                               name="unique_series")]
        indexes = [models.Index(fields=["project", "name"])]

    def __str__(self) -> str:
        return f"{self.name}{self.tags_key}"


class MetricPoint(models.Model):
    # (series, timestamp) identifies a point; Django wants one pk column, so reads use .values().
    series_id = models.BigIntegerField(primary_key=True)
    timestamp = models.DateTimeField()
    value = models.FloatField()

    class Meta:
        managed = False
        db_table = "events_metricpoint"

    def __str__(self) -> str:
        return f"{self.series_id}@{self.timestamp}"


class DailySalt(models.Model):
    """The salt of the day for hashing visitor IPs; deleted after the day, so a hash cannot be
    linked to an IP afterwards."""

    day = models.DateField(primary_key=True)
    salt = models.CharField(max_length=64)

    def __str__(self) -> str:
        return str(self.day)


class StatsdListener(models.Model):
    """A StatsD / DogStatsD listener served by ``manage.py statsd`` (started by ``make run``):
    what it binds, which ingest key (so which project) its metrics go to, how often it flushes.
    The command reads these rows every 30 s, so a change here applies without a restart; it
    writes back what it received."""

    name = models.CharField(max_length=100)
    ingest_key = models.ForeignKey("projects.IngestKey", on_delete=models.CASCADE,
                                   related_name="statsd_listeners")
    host = models.GenericIPAddressField(default="127.0.0.1", help_text=(
        "Loopback by default; 0.0.0.0 listens on every interface."))
    port = models.PositiveIntegerField(default=8125)
    udp = models.BooleanField(default=True)
    tcp = models.BooleanField(default=True)
    flush_interval_s = models.PositiveIntegerField(default=10)
    enabled = models.BooleanField(default=True)
    last_received_at = models.DateTimeField(null=True, blank=True, editable=False)
    received_total = models.BigIntegerField(default=0, editable=False)
    points_total = models.BigIntegerField(default=0, editable=False)
    rejected_total = models.BigIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True, default="", editable=False)

    class Meta:
        ordering = ["port", "id"]
        constraints = [models.UniqueConstraint(fields=["host", "port"],
                                               name="events_statsd_one_per_address")]

    def __str__(self) -> str:
        return f"{self.name} ({self.host}:{self.port})"


class ScrapeTarget(models.Model):
    """A Prometheus endpoint the worker scrapes (``events.scrape_targets``, every 5 s, for the
    targets that are due). Its samples go to ``project`` with the tags ``job`` (the name),
    ``instance`` (host:port) and ``labels``; ``up`` and ``scrape_duration_seconds`` are recorded
    too, as Prometheus does."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="scrape_targets")
    name = models.CharField(max_length=100, help_text="The job name (tag `job`).")
    url = models.URLField(max_length=500, help_text="e.g. http://10.0.0.5:9100/metrics")
    interval_s = models.PositiveIntegerField(default=15)
    timeout_s = models.FloatField(default=5.0)
    labels = models.JSONField(default=dict, blank=True, help_text="Extra tags, e.g. {\"env\": "
                                                                  "\"prod\"}.")
    enabled = models.BooleanField(default=True)
    next_scrape_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_scrape_at = models.DateTimeField(null=True, blank=True, editable=False)
    up = models.BooleanField(null=True, editable=False)
    last_duration_ms = models.FloatField(null=True, editable=False)
    last_samples = models.PositiveIntegerField(default=0, editable=False)
    last_error = models.TextField(blank=True, default="", editable=False)

    class Meta:
        ordering = ["project", "name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def clean(self) -> None:
        """The worker's own guard, so that the operator hears of a refused URL on saving rather
        than from a target that is never up."""
        super().clean()
        if self.url:
            from .ingest.scrape import ScrapeURLRefused, check_url  # it imports these models

            try:
                check_url(self.url)
            except ScrapeURLRefused as exc:
                raise ValidationError({"url": exc.message}) from None


class Goal(models.Model):
    """A conversion the overview counts: a named event, or page views of paths matching a
    pattern (``*`` matches any characters, e.g. ``/signup/*``)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="goals")
    name = models.CharField(max_length=100)
    event = models.CharField(max_length=200, blank=True, default="",
                             help_text="An event name; or leave empty and give a page pattern.")
    path_pattern = models.CharField(max_length=500, blank=True, default="",
                                    help_text="Page paths, * for any characters: /signup/*")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"],
                                               name="events_goal_unique_name")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if bool(self.event) == bool(self.path_pattern):
            raise ValidationError("A goal is an event or a page pattern, one of the two.")


class Person(models.Model):
    """A person as the people rollup holds them (``events_person``, written by the fold, never
    by Django): read in the admin, where erasing one deletes every event of every id linked to
    them (``events.erasure``)."""

    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.DO_NOTHING, db_constraint=False,
                                related_name="+")
    person_id = models.TextField()
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    events = models.BigIntegerField()
    bot_events = models.BigIntegerField()
    properties = models.JSONField(default=dict)

    class Meta:
        managed = False
        db_table = "events_person"
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.person_id


def validate_unit(value: str) -> None:
    if value != value.strip() or not all(c.isprintable() for c in value):
        raise ValidationError("A unit is printable text without leading or trailing spaces, "
                              "e.g. ms, bytes, req/s.")


class MetricDefinition(models.Model):
    """What a metric name means in a project: its description, unit and type. Receivers fill
    what their protocol says (``events.catalog.describe``: OTLP units and descriptions,
    Prometheus ``# HELP`` / ``# TYPE``, StatsD types) until a person edits it; from then on
    only people change it. What the data says of the metric (first and last seen, series, tag
    keys and values) is read from the data (``events.query.catalog``), never stored here."""

    class Type(models.TextChoices):
        GAUGE = "gauge", "Gauge"
        COUNTER = "counter", "Counter"
        RATE = "rate", "Rate"
        DISTRIBUTION = "distribution", "Distribution"
        SET = "set", "Set"  # a StatsD set: the number of distinct members seen

    # The units charts know how to scale (1.2 s, not 1200 ms); any other is free text.
    UNITS = ("%", "ns", "us", "µs", "ms", "s", "min", "h", "d", "bytes", "KiB", "MiB", "GiB",
             "TiB", "KB", "MB", "GB", "bits", "bits/s", "bytes/s", "KiB/s", "MiB/s", "req/s",
             "ops/s", "count", "events", "requests", "errors", "°C", "Hz", "W", "V", "A")
    MAX_UNIT = 32

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="", max_length=2000)
    unit = models.CharField(
        max_length=MAX_UNIT, blank=True, default="", validators=[validate_unit],
        help_text="One of " + ", ".join(UNITS) + "; or any text up to 32 characters.")
    type = models.CharField(max_length=16, choices=Type.choices, blank=True, default="")
    source = models.CharField(max_length=32, blank=True, default="", editable=False, help_text=(
        "The receiver that first described it (otlp, prometheus, statsd); empty if a person."))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                  null=True, blank=True, related_name="+", editable=False)
    edited_at = models.DateTimeField(null=True, blank=True, editable=False, help_text=(
        "Set when a person edits it: receivers no longer change it."))

    class Meta:
        ordering = ["project", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"],
                                               name="events_metricdefinition_unique_name")]

    def __str__(self) -> str:
        return self.name
