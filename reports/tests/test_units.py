"""Reports read values in their unit: over a metric the catalogue gives in ms, the run's page and
e-mail say "1.2 s" for 1200 ms, while the exports keep the raw numbers and name the unit in the
header ("avg (ms)") so a spreadsheet stays numeric; a block's own unit option wins."""

import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from django.test import Client

from events import rollups
from events.models import MetricDefinition
from reports import links, rendering, runs, services
from reports.exports import csv_export, json_export, xlsx_export

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def latency_report(shop, store):
    project = shop["project"]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    store.points(project, [{"name": "http.latency_ms", "value": 1200.0, "tags": {"host": host},
                            "timestamp": (now - timedelta(minutes=m)).isoformat()}
                           for host in ("web-1", "web-2") for m in range(1, 61)])
    rollups.fold()
    MetricDefinition.objects.create(project=project, name="http.latency_ms", unit="ms")
    return services.create_report(
        project=project, user=shop["owner"], title="Latency", range="last_24h", blocks=[
            {"kind": "kpi", "title": "Latency", "query": "avg:http.latency_ms{}"},
            {"kind": "table", "title": "Latency by host",
             "query": "avg:http.latency_ms{} by {host}", "options": {"mode": "breakdown"}},
            {"kind": "kpi", "title": "In its own unit", "query": "avg:http.latency_ms{}",
             "options": {"unit": "ticks"}},
        ])


def test_the_page_says_the_unit_and_the_exports_keep_raw_numbers(latency_report):
    rendered = rendering.render(latency_report)
    kpi, table, own = rendered.blocks
    assert (kpi.kpi.value, kpi.kpi.unit) == (1200.0, "ms")
    assert [(c.name, c.unit) for c in table.table.columns] == [
        ("host", ""), ("avg", "ms"), ("previous", "ms"), ("change", "")]
    assert (own.kpi.value, own.kpi.unit) == (1200.0, "ticks")

    _, _, body = csv_export.as_bytes(rendered)
    with zipfile.ZipFile(io.BytesIO(body)) as zipped:
        files = {name: list(csv.reader(io.StringIO(zipped.read(name).decode())))
                 for name in zipped.namelist()}
    assert files["01-Latency.csv"] == [["metric", "value (ms)", "previous (ms)", "change"],
                                      ["Latency", "1200.0", "", ""]]
    assert files["02-Latency-by-host.csv"] == [
        ["host", "avg (ms)", "previous (ms)", "change"], ["web-1", "1200.0", "", ""],
        ["web-2", "1200.0", "", ""]]
    book = openpyxl.load_workbook(io.BytesIO(xlsx_export.as_bytes(rendered)[2]))
    sheet = book["Latency by host"]
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["host", "avg (ms)", "previous (ms)", "change"], ["web-1", 1200, None, None],
        ["web-2", 1200, None, None]]
    exported = json.loads(json_export.as_bytes(rendered)[2])
    assert exported["blocks"][1]["table"]["columns"] == [
        {"name": "host", "type": "text"}, {"name": "avg", "type": "number", "unit": "ms"},
        {"name": "previous", "type": "number", "unit": "ms"}, {"name": "change", "type": "percent"}]
    assert exported["blocks"][1]["table"]["rows"] == [["web-1", 1200.0, None, None],
                                                      ["web-2", 1200.0, None, None]]

    run = runs.execute(runs.run_now(report=latency_report).pk)
    page = Client().get(f"/r/{links.token_of(run)}/").content.decode()
    assert page.count(">1.2 s</div>") == 1  # the KPI
    assert page.count(">1.2 s</td>") == 2  # each host's average
    assert page.count(">1,200 ticks</div>") == 1  # its own unit: not scaled
