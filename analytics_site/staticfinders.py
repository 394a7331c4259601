"""Plotly.js as a static file (``vendor/plotly.min.js``), straight from the ``plotly`` wheel we
depend on: no CDN, no copy of it in the repository, and only that one file of the package."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PUBLIC_PATH = "vendor/plotly.min.js"


class _PrefixedStorage(FileSystemStorage):
    prefix = "vendor"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        self.directory = Path(str(files("plotly") / "package_data"))
        self.storage = _PrefixedStorage(location=str(self.directory))

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        if path != PUBLIC_PATH:
            return [] if find_all else None
        found = str(self.directory / "plotly.min.js")
        return [found] if find_all else found

    def list(self, ignore_patterns):
        yield "plotly.min.js", self.storage
