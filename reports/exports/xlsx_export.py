"""XLSX with XlsxWriter in constant-memory mode (each row goes to disk as it is written): a
"Report" sheet (title, range, time zone, generated at), then a sheet per block — typed cells
(dates, numbers, percentages, text), number formats, a frozen header row, a native Excel chart
for chart blocks and a sparkline for KPIs. A table longer than a sheet continues on the next."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import xlsxwriter
from xlsxwriter.utility import quote_sheetname, xl_range_abs

from ..rendering import Rendered
from . import table_of

MAX_ROWS = 1_048_575  # a sheet's rows below its header
CHART_SERIES = 20
INVALID = set('[]:*?/\\')
CHART_TYPES = {"line": ("line", None), "area": ("area", "stacked"), "bar": ("column", "stacked")}


def _sheet_name(title: str, used: set[str]) -> str:
    base = "".join("-" if c in INVALID else c for c in title).strip("'") or "Block"
    name, n = base[:31], 2
    while name.lower() in used:
        suffix = f" ({n})"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    used.add(name.lower())
    return name


class _Writer:
    def __init__(self, path: str, rendered: Rendered):
        self.book = xlsxwriter.Workbook(path, {
            "constant_memory": True, "tmpdir": tempfile.gettempdir(),
            "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False})
        self.rendered = rendered
        self.used: set[str] = set()
        book = self.book
        self.formats = {
            "head": book.add_format({"bold": True, "bottom": 1, "bg_color": "#eef2ff"}),
            "time": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
            "number": book.add_format({"num_format": "#,##0.00"}),
            "integer": book.add_format({"num_format": "#,##0"}),
            "percent": book.add_format({"num_format": "+0.0%;-0.0%;0.0%"}),
            "title": book.add_format({"bold": True, "font_size": 16}),
            "label": book.add_format({"bold": True, "font_color": "#667085"}),
            "error": book.add_format({"font_color": "#c92a2a"}),
        }

    def cover(self) -> None:
        r = self.rendered
        sheet = self.book.add_worksheet(_sheet_name("Report", self.used))
        sheet.set_column(0, 0, 16)
        sheet.set_column(1, 1, 60)
        sheet.write_string(0, 0, r.title, self.formats["title"])
        facts = [("Description", r.description), ("Range", r.range_text()),
                 ("Time zone", r.tz),
                 ("Compared with", f"{r.local(r.previous[0]):%Y-%m-%d %H:%M} to "
                                   f"{r.local(r.previous[1]):%Y-%m-%d %H:%M}"
                  if r.previous else "—"),
                 ("Generated at", f"{r.local(r.generated_at):%Y-%m-%d %H:%M:%S} ({r.tz})")]
        for i, (name, value) in enumerate(facts, start=2):
            sheet.write_string(i, 0, name, self.formats["label"])
            sheet.write_string(i, 1, value or "")

    def block(self, block) -> None:
        table = table_of(block)
        if block.error is not None:
            sheet = self.book.add_worksheet(_sheet_name(block.title, self.used))
            sheet.write_string(0, 0, block.title, self.formats["head"])
            sheet.write_string(1, 0, block.error["error"], self.formats["error"])
            return
        if table is None:  # text: its lines
            sheet = self.book.add_worksheet(_sheet_name(block.title or "Text", self.used))
            sheet.set_column(0, 0, 100)
            text = str(block.spec.options.get("markdown", ""))
            for i, line in enumerate(text.splitlines()):
                sheet.write_string(i, 0, line)
            return
        integer = block.kind == "product"
        formats = [self.formats["time"] if c.type == "time" else self.formats["percent"]
                   if c.type == "percent" else self.formats["integer"] if integer
                   and c.type == "number" else self.formats["number"] if c.type == "number"
                   else None for c in table.columns]
        writers = [self._time if c.type == "time" else self._number
                   if c.type in ("number", "percent") else self._text for c in table.columns]
        part, row_index, sheet = 0, MAX_ROWS, None
        first_sheet, first_rows = None, 0
        for row in table.all_rows():
            if row_index >= MAX_ROWS:
                part += 1
                sheet = self._table_sheet(block.title if part == 1 else
                                          f"{block.title} ({part})", table)
                if first_sheet is None:
                    first_sheet = sheet
                row_index = 0
            row_index += 1
            if part == 1:
                first_rows = row_index
            for col, (value, write, fmt) in enumerate(zip(row, writers, formats,
                                                          strict=False)):
                if value is not None:
                    write(sheet, row_index, col, value, fmt)
        if first_sheet is None:
            first_sheet = self._table_sheet(block.title, table)
        if block.kind == "chart" and first_rows:
            self._chart(block, first_sheet, table, first_rows)
        if block.kpi is not None and block.kpi.spark:
            self._spark(first_sheet, block.kpi.spark)

    def _table_sheet(self, title: str, table):
        sheet = self.book.add_worksheet(_sheet_name(title, self.used))
        for col, column in enumerate(table.columns):
            sheet.write_string(0, col, column.heading, self.formats["head"])
            width = 18 if column.type == "time" else max(12, min(40, len(column.heading) + 4))
            sheet.set_column(col, col, width)
        sheet.freeze_panes(1, 0)
        return sheet

    def _time(self, sheet, row, col, value, fmt):
        sheet.write_datetime(row, col, value.replace(tzinfo=None), fmt)

    def _number(self, sheet, row, col, value, fmt):
        sheet.write_number(row, col, value, fmt)

    def _text(self, sheet, row, col, value, fmt):
        sheet.write_string(row, col, str(value))

    def _chart(self, block, sheet, table, rows: int) -> None:
        kind, subtype = CHART_TYPES.get(block.chart_type or "line", ("line", None))
        chart = self.book.add_chart({"type": kind, **({"subtype": subtype} if subtype else {})})
        name = sheet.get_name()
        for col in range(1, min(len(table.columns), CHART_SERIES + 1)):
            chart.add_series({"name": [name, 0, col], "categories": [name, 1, 0, rows, 0],
                              "values": [name, 1, col, rows, col]})
        chart.set_title({"name": block.title[:255]})
        chart.set_x_axis({"date_axis": True, "num_format": "mm-dd hh:mm"})
        chart.set_legend({"position": "bottom"})
        chart.set_size({"width": 760, "height": 320})
        sheet.insert_chart(1, len(table.columns) + 1, chart)

    def _spark(self, sheet, values) -> None:
        start = 3
        for i, value in enumerate(values):
            if value is not None:
                sheet.write_number(start + i, 0, value)
        sheet.write_string(start - 1, 0, "trend", self.formats["label"])
        cells = xl_range_abs(start, 0, start + len(values) - 1, 0)
        sheet.add_sparkline(1, 4, {"range": f"{quote_sheetname(sheet.get_name())}!{cells}",
                                   "markers": False})

    def close(self) -> None:
        self.book.close()


def write(rendered: Rendered, path: str) -> None:
    writer = _Writer(path, rendered)
    writer.cover()
    for block in rendered.blocks:
        writer.block(block)
    writer.close()


def stream(rendered: Rendered) -> tuple[str, str, Iterator[bytes]]:
    from . import file_stem

    return (f"{file_stem(rendered.title, 'report')}.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            _chunks(rendered))


def _chunks(rendered: Rendered) -> Iterator[bytes]:
    """Written to a temporary file (a ZIP is finished at its end), then read out in chunks."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        write(rendered, path)
        with open(path, "rb") as done:
            while chunk := done.read(1 << 20):
                yield chunk
    finally:
        os.unlink(path)


def as_bytes(rendered: Rendered) -> tuple[str, str, bytes]:
    name, content_type, chunks = stream(rendered)
    return name, content_type, b"".join(chunks)
