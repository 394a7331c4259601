"""Every export holds the engine's numbers for known data: the CSV files (zipped), the XLSX
sheets (typed, with a native chart), the PDF's text, the JSON; text is escaped; a block the
engine refuses carries its error and the rest is still made; CSV cells that a spreadsheet
would run as formulas are neutralised; a series table streamed in slices equals one answer."""

import csv
import io
import json
import zipfile
from datetime import datetime

import openpyxl
import pytest
from pypdf import PdfReader

from events import query as engine
from reports import rendering, services
from reports.exports import csv_export, json_export, pdf_export, xlsx_export

from .conftest import HOSTS, PAGE_VIEWS, SIGNUPS


def _csvs(rendered) -> dict[str, list[list[str]]]:
    _, content_type, body = csv_export.as_bytes(rendered)
    assert content_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(body)) as zipped:
        return {name: list(csv.reader(io.StringIO(zipped.read(name).decode())))
                for name in zipped.namelist()}


def test_csv_files_hold_the_engines_numbers(report):
    rendered = rendering.render(report)
    files = _csvs(rendered)
    assert sorted(files) == ["01-Sign-ups.csv", "02-CPU-by-host.csv", "03-Events-by-name.csv",
                             "05-Top-pages.csv"]
    assert files["01-Sign-ups.csv"] == [["metric", "value", "previous", "change"],
                                        ["Sign-ups", str(float(SIGNUPS)), "", ""]]
    assert files["03-Events-by-name.csv"] == [
        ["event", "sum", "previous", "change"], ["page_view", str(float(PAGE_VIEWS)), "", ""],
        ["signup", str(float(SIGNUPS)), "", ""]]
    answer = engine.execute(report.project, query="avg:cpu{} by {host}",
                            start=rendered.start.isoformat(), end=rendered.end.isoformat(),
                            step="1h")
    head, *rows = files["02-CPU-by-host.csv"]
    assert head == ["time", "host:web-2", "host:web-1"]
    expected = [[datetime.fromtimestamp(t / 1000, rendered.local(rendered.start).tzinfo)
                 .isoformat(), *[("" if s["points"][i][1] is None else str(s["points"][i][1]))
                                 for s in answer["data"]]]
                for i, (t, _) in enumerate(answer["data"][0]["points"])]
    assert rows == expected
    assert {r[1] for r in rows if r[1]} == {str(HOSTS["web-2"])}
    assert files["05-Top-pages.csv"] == [["path", "events", "users", "sessions"],
                                        ["/pricing", "20", "4", "4"], ["/home", "10", "2", "2"]]


def test_xlsx_has_typed_sheets_a_frozen_header_and_a_native_chart(report):
    rendered = rendering.render(report)
    _, _, body = xlsx_export.as_bytes(rendered)
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["Report", "Sign-ups", "CPU by host", "Events by name", "Text",
                               "Top pages"]
    assert book["Report"]["A1"].value == "Weekly shop"
    assert book["Report"]["B4"].value == rendered.range_text()
    assert book["Report"]["B5"].value == "Europe/Paris"
    kpi = book["Sign-ups"]
    assert [c.value for c in kpi[2]][:3] == ["Sign-ups", SIGNUPS, None]
    cpu = book["CPU by host"]
    assert cpu.freeze_panes == "A2"
    assert isinstance(cpu["A2"].value, datetime) and cpu["A2"].number_format == \
        "yyyy-mm-dd hh:mm"
    assert {cpu.cell(r, 2).value for r in range(2, cpu.max_row + 1)} - {None} == {30.0}
    events = book["Events by name"]
    assert [[c.value for c in row] for row in events.iter_rows(min_row=2)] == [
        ["page_view", PAGE_VIEWS, None, None], ["signup", SIGNUPS, None, None]]
    with zipfile.ZipFile(io.BytesIO(body)) as zipped:
        charts = [n for n in zipped.namelist() if n.startswith("xl/charts/chart")]
        assert charts == ["xl/charts/chart1.xml"]
        assert b"<c:lineChart>" in zipped.read(charts[0])
        kpi_sheet = zipped.read("xl/worksheets/sheet2.xml")  # the KPI's sparkline
        assert b"<xm:f>'Sign-ups'!A4:A" in kpi_sheet and b"<xm:sqref>E2</xm:sqref>" \
            in kpi_sheet


def test_pdf_text_has_the_title_block_and_the_numbers(report):
    rendered = rendering.render(report)
    reader = PdfReader(io.BytesIO(pdf_export.build(rendered)))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Weekly shop" in text
    assert f"Range: {rendered.range_text()}" in text
    assert "Time zone: Europe/Paris" in text and "Generated at:" in text
    assert "Sign-ups" in text and f"{SIGNUPS}\n" in text
    assert "page_view" in text and f"{PAGE_VIEWS}" in text
    assert "/pricing" in text and "/home" in text
    assert "<script>x()</script>" in text  # printed as text, not markup


def test_json_is_the_definition_and_its_data(report):
    rendered = rendering.render(report)
    _, _, body = json_export.as_bytes(rendered)
    data = json.loads(body)
    assert data["title"] == "Weekly shop" and data["timezone"] == "Europe/Paris"
    kinds = [b["kind"] for b in data["blocks"]]
    assert kinds == ["kpi", "chart", "table", "text", "product"]
    assert data["blocks"][0]["kpi"]["value"] == SIGNUPS
    assert data["blocks"][2]["table"]["rows"] == [["page_view", PAGE_VIEWS, None, None],
                                                  ["signup", SIGNUPS, None, None]]
    assert "&lt;script&gt;" in data["blocks"][3]["html"]
    assert "<script>" not in data["blocks"][3]["html"]


def test_a_refused_query_keeps_the_engines_error_and_the_rest_is_made(report):
    services.create_block(report=report, kind="chart", query="avg:cpu{} by {host}")
    block = report.blocks.order_by("-position").first()
    block.query = "avg:cpu{host:web-1"  # as if stored before a stricter check
    block.save()
    rendered = rendering.render(report)
    broken = rendered.blocks[-1]
    assert broken.error["code"] == "QUERY_SYNTAX"
    assert broken.error["details"]["position"] == 18
    assert rendered.blocks[0].kpi.value == SIGNUPS


def test_formula_cells_are_neutralised_in_csv(shop, store):
    for host in ("=HYPERLINK(\"http://evil\")", "+1+2", "-3", "@SUM(A1)", "plain"):
        store.points(shop["project"], [{"name": "evil", "value": 1, "tags": {"host": host}}])
    report = services.create_report(project=shop["project"], user=shop["owner"], title="X",
                                     range="last_24h", blocks=[
                                         {"kind": "table", "query": "sum:evil{} by {host}",
                                          "options": {"mode": "breakdown"}}])
    _, content_type, body = csv_export.as_bytes(rendering.render(report))
    assert content_type.startswith("text/csv")
    hosts = sorted(row[0] for row in list(csv.reader(io.StringIO(body.decode())))[1:])
    assert hosts == ["'+1+2", "'-3", "'=HYPERLINK(\"http://evil\")", "'@SUM(A1)", "plain"]


def test_a_series_table_streamed_in_slices_equals_one_answer(report, monkeypatch):
    block = services.create_block(report=report, kind="table", title="CPU per minute",
                                  query="avg:cpu{} by {host}", options={"mode": "series",
                                                                        "step": "1m"})
    spec = rendering.specs_of(report)[-1]
    assert spec.id == block.pk
    whole = rendering.render(report, blocks=[spec]).blocks[0].table
    assert whole.stream is None
    monkeypatch.setattr(rendering, "SLICE_BUCKETS", 100)
    sliced = rendering.render(report, blocks=[spec]).blocks[0].table
    assert sliced.stream is not None and sliced.total is None
    assert list(sliced.all_rows()) == whole.rows
    assert len(whole.rows) == 2 * 24 * 60 + 2  # two hosts, every minute of the day


@pytest.fixture(autouse=True)
def _db(transactional_db):
    pass
