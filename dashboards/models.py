"""Dashboards: a named grid of panels in a project. Each panel is a query of the engine
(``events.query``) drawn one way (line, area, bar, gauge, stat, table, heatmap) at a place on a
12-column grid."""

from django.conf import settings
from django.db import models

from projects.models import Project

GRID_COLUMNS = 12
MAX_PANEL_HEIGHT = 24


class Dashboard(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dashboards")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True, default="")
    variables = models.JSONField(default=list, blank=True, help_text=(
        'Variables panels use as $name: [{"name": "host", "metric": "cpu", "tag": "host"}] '
        "(values: the tag's values on that metric)."))
    public_token_hash = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False,
        help_text="SHA-256 of the public link's token (the token itself is shown once).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class PanelType(models.TextChoices):
    LINE = "line", "Line"
    AREA = "area", "Area"
    BAR = "bar", "Bar"
    GAUGE = "gauge", "Gauge"
    STAT = "stat", "Stat"
    TABLE = "table", "Table"
    HEATMAP = "heatmap", "Heatmap"


class Panel(models.Model):
    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="panels")
    title = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=PanelType.choices, default=PanelType.LINE)
    query = models.TextField(max_length=2000, help_text="A query of the query language.")
    options = models.JSONField(default=dict, blank=True,
                               help_text="unit, color, legend, thresholds, min, max, calculation")
    x = models.PositiveSmallIntegerField(default=0)
    y = models.PositiveSmallIntegerField(default=0)
    w = models.PositiveSmallIntegerField(default=6)
    h = models.PositiveSmallIntegerField(default=4)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["y", "x", "id"]

    def __str__(self) -> str:
        return self.title


class Annotation(models.Model):
    """A mark on time — a deploy, an incident — drawn on every time chart of a dashboard (or of
    every dashboard of the project when ``dashboard`` is empty). With ``ends_at`` it is a band."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="annotations")
    at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    text = models.CharField(max_length=500)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["project", "at"])]

    def __str__(self) -> str:
        return self.text[:50]
