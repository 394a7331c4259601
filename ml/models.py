"""Anomaly models, the series each one follows, the anomalies they find, and a project's
defaults for new models.

A model is a query of the engine with a detector; a grouped query (``by {host}``) gives one
``ModelSeries`` per group, each trained on its own history. A series' trained state is stored
signed (``ml.storage``); its small rolling part moves with every scored bucket, and
``scored_until`` is its watermark: scoring is idempotent, a bucket is judged once."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from projects.models import Project


class DetectorChoice(models.TextChoices):
    AUTO = "auto", "Auto (the benchmark's best: ensemble)"
    ENSEMBLE = "ensemble", "Ensemble (baseline + forecast + level shift)"
    SEASONAL = "seasonal", "Robust seasonal baseline"
    FORECAST = "forecast", "Forecast residual"
    IFOREST = "iforest", "IsolationForest over features"
    LEVELSHIFT = "levelshift", "Level shift"


class Sensitivity(models.TextChoices):
    LOW = "low", "Low (fewer anomalies)"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High (more anomalies)"


class Retrain(models.TextChoices):
    NIGHTLY = "nightly", "Every night"
    WEEKLY = "weekly", "Every week"
    MANUAL = "manual", "Only when asked"


class Status(models.TextChoices):
    NEW = "new", "New"
    TRAINING = "training", "Training"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


STEPS = [(60, "1 minute"), (300, "5 minutes"), (900, "15 minutes"), (3600, "1 hour")]


class ModelDefaults(models.Model):
    """A project's defaults for new models, and when its nightly training runs."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="ml_defaults")
    detector = models.CharField(max_length=12, choices=DetectorChoice.choices,
                                default=DetectorChoice.AUTO)
    sensitivity = models.CharField(max_length=6, choices=Sensitivity.choices,
                                   default=Sensitivity.MEDIUM)
    training_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(2), MaxValueValidator(90)])
    step_seconds = models.PositiveIntegerField(choices=STEPS, default=300)
    retrain = models.CharField(max_length=8, choices=Retrain.choices, default=Retrain.NIGHTLY)
    training_hour = models.PositiveSmallIntegerField(
        default=3, validators=[MaxValueValidator(23)],
        help_text="Local hour (the project's time zone) of the nightly and weekly training.")

    class Meta:
        verbose_name = "model defaults"
        verbose_name_plural = "model defaults"

    def __str__(self) -> str:
        return f"Model defaults of {self.project}"


class AnomalyModel(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="ml_models")
    name = models.CharField(max_length=100)
    query = models.TextField(help_text="The engine's query language; `by {tag}` gives one "
                                       "model per series.")
    detector = models.CharField(max_length=12, choices=DetectorChoice.choices,
                                default=DetectorChoice.AUTO)
    sensitivity = models.CharField(max_length=6, choices=Sensitivity.choices,
                                   default=Sensitivity.MEDIUM)
    training_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(2), MaxValueValidator(90)],
        help_text="Days of history each series is trained on.")
    step_seconds = models.PositiveIntegerField(choices=STEPS, default=300,
                                               help_text="Resolution the series is judged at.")
    retrain = models.CharField(max_length=8, choices=Retrain.choices, default=Retrain.NIGHTLY)
    enabled = models.BooleanField(default=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.NEW)
    error = models.TextField(blank=True, default="")
    trained_at = models.DateTimeField(null=True, blank=True)
    next_training_at = models.DateTimeField(null=True, blank=True, db_index=True)
    training_requested_at = models.DateTimeField(null=True, blank=True, help_text=(
        "Set when a training is asked for; cleared when one starts (a second ask meanwhile is "
        "the same training)."))
    last_scored_at = models.DateTimeField(null=True, blank=True)
    evaluation = models.JSONField(default=dict, blank=True, help_text=(
        "Figures of the last training: per series the detector, season, threshold, band "
        "coverage and the anomalies its backfill found."))
    importance = models.JSONField(default=list, blank=True, help_text=(
        "What the model's anomalies are made of: [{feature, weight, text}]."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["project", "query"])]

    def __str__(self) -> str:
        return self.name


class ModelSeries(models.Model):
    """One series of a model (one group of a grouped query; ``key`` "" for an ungrouped one)."""

    model = models.ForeignKey(AnomalyModel, on_delete=models.CASCADE, related_name="series")
    key = models.CharField(max_length=500, default="", blank=True)
    tags = models.JSONField(default=dict, blank=True)
    detector = models.CharField(max_length=12, blank=True, default="",
                                help_text="The detector actually used (auto resolved).")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.NEW)
    error = models.TextField(blank=True, default="")
    state = models.BinaryField(null=True, blank=True, editable=False)
    rolling = models.BinaryField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=0, help_text="Bumped by every training.")
    trained_at = models.DateTimeField(null=True, blank=True)
    trained_from = models.DateTimeField(null=True, blank=True)
    trained_points = models.PositiveIntegerField(default=0)
    scored_until = models.DateTimeField(null=True, blank=True, help_text=(
        "End of the last bucket scored (the watermark)."))
    last_score = models.FloatField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    last_expected = models.FloatField(null=True, blank=True)
    last_lower = models.FloatField(null=True, blank=True)
    last_upper = models.FloatField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["model", "key"]
        verbose_name_plural = "model series"
        constraints = [models.UniqueConstraint(fields=["model", "key"],
                                               name="ml_one_series_per_group")]

    def __str__(self) -> str:
        return f"{self.model} {self.key}".strip()


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Anomaly(models.Model):
    """A stretch of a series its model found anomalous: from its first anomalous bucket to its
    last (``ended_at`` empty while it goes on), its peak, the band it left, the values, and why.
    ``project`` is the model's, kept here for scoping and listing."""

    class Feedback(models.TextChoices):
        NONE = "", "None"
        NOT_ANOMALY = "not_anomaly", "Not an anomaly"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="anomalies")
    model = models.ForeignKey(AnomalyModel, on_delete=models.CASCADE, related_name="anomalies")
    series = models.ForeignKey(ModelSeries, on_delete=models.CASCADE, related_name="anomalies")
    tags = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Last anomalous bucket's "
                                                                     "end; empty while open.")
    last_seen_at = models.DateTimeField(help_text="End of the last anomalous bucket so far.")
    peak_at = models.DateTimeField()
    peak_score = models.FloatField(help_text="1.0 is the band's edge at the model's "
                                             "sensitivity.")
    severity = models.CharField(max_length=6, choices=Severity.choices, default=Severity.LOW)
    value = models.FloatField(null=True, blank=True, help_text="The value at the peak.")
    expected = models.FloatField(null=True, blank=True)
    lower = models.FloatField(null=True, blank=True)
    upper = models.FloatField(null=True, blank=True)
    points = models.JSONField(default=list, blank=True, help_text=(
        "[[ms, value, expected, lower, upper, score]] of its buckets."))
    explanation = models.JSONField(default=list, blank=True, help_text=(
        "[{feature, weight, text}]: what drove it."))
    groups = models.JSONField(default=list, blank=True, help_text=(
        "Grouped models: [{tag, value, weight}], the tag values that contributed most."))
    related = models.JSONField(default=list, blank=True, help_text=(
        "What moved with it: [{label, query, tags, coefficient, lag_steps, text}]."))
    feedback = models.CharField(max_length=12, choices=Feedback.choices, blank=True,
                                default=Feedback.NONE)
    feedback_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                    null=True, blank=True, related_name="+")
    feedback_at = models.DateTimeField(null=True, blank=True)
    backfill = models.BooleanField(default=False, help_text=(
        "Found when the model was first trained, in the history it was trained on."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name_plural = "anomalies"
        indexes = [models.Index(fields=["project", "-started_at"]),
                   models.Index(fields=["series", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.model} at {self.started_at:%Y-%m-%d %H:%M}"
