"""Report exports and a scheduled run, timed. Last line: JSON.

    .venv/bin/python bench/reports.py [--rows 1000000]

Needs DATABASE_URL and REDIS_URL (a scratch database is created and dropped: bench_reports).
It loads 100 metric series with a point a minute over ROWS/100 minutes (1,000,000 points by
default) through the real write path, folds the rollups, and then, in this process:

- csv_1m_rows_s / xlsx_1m_rows_s: a report of one series table (`avg:bench.load{} by {host}
  limit 100`, step 1m) exported to CSV and to XLSX — every row asked of the engine slice by
  slice and written as it comes;
- export_peak_rss_mb: the peak resident memory of this process over both exports (psutil,
  sampled every 20 ms);
- pdf_10_blocks_s: a 10-block report (KPIs, line/area/bar charts, tables, text) rendered and
  printed to PDF;
- pdf_10_blocks_chromium_s: the same report printed by headless Chromium instead (its e-mail
  HTML with the same chart images), for the choice of renderer (README, "Reports");
- scheduled_run_s: that 10-block report with a recipient of CSV, XLSX and PDF, from its beat
  tick (the reports.run_scheduled task called as beat's message would) to the loopback SMTP
  server accepting the message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_site.settings_test")
os.environ.setdefault("TEST_REDIS_DB", "12")


class Peak:
    def __init__(self):
        self.process, self.peak, self.running = psutil.Process(), 0, True
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()

    def watch(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return self.peak / 2**20


def _drain(chunks) -> int:
    return sum(len(c) for c in chunks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.DATABASES["default"]["TEST"]["NAME"] = "bench_reports"
    from django.db import connection

    old = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        figures = run(args.rows)
    finally:
        connection.creation.destroy_test_db(old, verbosity=0)
    print(json.dumps(figures))


def _load(project, rows: int, now: datetime) -> None:
    from events import db, rollups, selectors, services

    key = selectors.ingest_key_of(project)
    minutes = rows // 100
    start = now - timedelta(minutes=minutes)

    async def write():
        for first in range(0, minutes, 10):
            points = [{"name": "bench.load", "value": float((m * 7 + h) % 97),
                       "tags": {"host": f"h{h:03d}"},
                       "timestamp": (start + timedelta(minutes=m)).isoformat()}
                      for m in range(first, min(first + 10, minutes)) for h in range(100)]
            result = await services.record_points(key=key, items=points)
            assert not result.rejected, result.rejected[:3]
        # this loop's ingestion pool: closed, or the scratch database stays in use at the end
        await (await db.pool()).close()

    asyncio.run(write())
    while rollups.fold(max_seconds=60).metric_deltas:  # until no delta is left
        pass


def _chromium_pdf_s(rendered) -> float | None:
    """The other renderer measured: the same report as its e-mail HTML (the same Matplotlib
    images, inline) printed by headless Chromium through Playwright, the browser already
    started. None without Chromium."""
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not Path(chromium).exists():
        return None
    from playwright.sync_api import sync_playwright

    from reports import mail

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop; no ORM inside
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        started = time.perf_counter()
        page.set_content(mail.preview_html(rendered, mail.images_of(rendered)))
        pdf = page.pdf(format="A4")
        took = round(time.perf_counter() - started, 2)
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE")
    print(f"chromium pdf: {len(pdf) / 1024:.0f} KiB", file=sys.stderr)
    return took


def run(rows: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from projects import services as projects
    from reports import rendering, runs, services
    from reports.exports import csv_export, pdf_export, xlsx_export
    from reports.tasks import run_scheduled

    owner = get_user_model().objects.create_user("bench", "bench@example.com", "pw")
    project = projects.create_project(name="Bench", owner=owner)
    project.raw_retention_days = project.minute_rollup_retention_days = 60
    project.save()
    now = timezone.now().replace(second=0, microsecond=0)
    loaded = time.perf_counter()
    _load(project, rows, now)
    print(f"loaded {rows:,} points in {time.perf_counter() - loaded:.1f} s", file=sys.stderr)
    minutes = rows // 100
    big = services.create_report(
        project=project, user=owner, title="Million", range="custom",
        custom_start=now - timedelta(minutes=minutes), custom_end=now, compare=False,
        blocks=[{"kind": "table", "title": "Load per minute",
                 "query": "avg:bench.load{} by {host} limit 100",
                 "options": {"mode": "series", "step": "1m"}}])
    figures: dict = {}
    peak = Peak()
    started = time.perf_counter()
    name, _, chunks = csv_export.stream(rendering.render(big, use_cache=False))
    size = _drain(chunks)
    figures["csv_1m_rows_s"] = round(time.perf_counter() - started, 2)
    print(f"{name}: {size / 2**20:.1f} MiB", file=sys.stderr)
    started = time.perf_counter()
    name, _, chunks = xlsx_export.stream(rendering.render(big, use_cache=False))
    size = _drain(chunks)
    figures["xlsx_1m_rows_s"] = round(time.perf_counter() - started, 2)
    figures["export_peak_rss_mb"] = round(peak.stop(), 1)
    print(f"{name}: {size / 2**20:.1f} MiB", file=sys.stderr)

    blocks = [{"kind": "kpi", "title": "Average load", "query": "avg:bench.load{}"},
              {"kind": "kpi", "title": "Peak load", "query": "max:bench.load{}",
               "options": {"calculation": "max"}},
              {"kind": "chart", "title": "Load (top 10 hosts)",
               "query": "avg:bench.load{} by {host}", "options": {"type": "line"}},
              {"kind": "chart", "title": "Load, stacked", "query": "sum:bench.load{} by {host}",
               "options": {"type": "area"}},
              {"kind": "chart", "title": "Points per hour", "query": "count:bench.load{}",
               "options": {"type": "bar", "step": "1h"}},
              {"kind": "table", "title": "Hosts", "query": "avg:bench.load{} by {host}",
               "options": {"mode": "breakdown"}},
              {"kind": "table", "title": "Hourly", "query": "max:bench.load{}",
               "options": {"mode": "series", "step": "1h"}},
              {"kind": "text", "options": {"markdown": "## Notes\n\nA benchmark report."}},
              {"kind": "chart", "title": "p95", "query": "p95:bench.load{}"},
              {"kind": "kpi", "title": "Samples", "query": "count:bench.load{}"}]
    ten = services.create_report(project=project, user=owner, title="Ten blocks",
                                 range="last_24h", blocks=blocks)
    rendering.render(ten)  # warm: imports, fonts and the answer cache as a report page would
    started = time.perf_counter()
    pdf = pdf_export.build(rendering.render(ten))
    figures["pdf_10_blocks_s"] = round(time.perf_counter() - started, 2)
    print(f"pdf: {len(pdf) / 1024:.0f} KiB", file=sys.stderr)
    chromium = _chromium_pdf_s(rendering.render(ten))
    if chromium is not None:
        figures["pdf_10_blocks_chromium_s"] = chromium

    from aiosmtpd.controller import Controller

    arrived = threading.Event()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            arrived.set()
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(Handler(), hostname="127.0.0.1", port=port)
    smtp.start()
    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    services.add_recipient(report=ten, email="team@example.com", formats=["csv", "xlsx", "pdf"])
    tick = datetime.now(UTC).replace(second=0, microsecond=0)
    services.set_schedule(report=ten, kind="cron", time=tick.time(),
                          cron=f"{tick.minute} {tick.hour} * * *")
    ten.timezone = "UTC"
    ten.save()
    from django.core.cache import cache

    cache.clear()  # a scheduled run finds no answers cached by the page
    started = time.perf_counter()
    status = run_scheduled(ten.pk)
    assert arrived.wait(60), status
    figures["scheduled_run_s"] = round(time.perf_counter() - started, 2)
    smtp.stop()
    assert runs.Run.objects.get(report=ten).status == "sent"
    return figures


if __name__ == "__main__":
    main()
