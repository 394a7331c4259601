"""PDF with ReportLab (layout, tables, fonts) and Matplotlib (charts as 150-dpi images): a title
block — title, description, range, time zone, comparison, generated at — then each block as its
chart and its table. DejaVu Sans (shipped with Matplotlib) is embedded, so any Latin, Greek or
Cyrillic text and the usual symbols print, and the text is extractable.

Why this renderer: it needs no browser and no system library at run time (Plotly's static
export needs a browser engine, WeasyPrint needs Pango), and it is measured against headless
Chromium printing the same report by ``bench/reports.py`` (README, "Performance")."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from ..rendering import Rendered
from . import charts, file_stem, table_of
from .formatting import cell_text, change_text, number_text

MAX_ROWS = 100  # a table's rows printed; the CSV and XLSX files have them all
FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"
_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_registered = False


def _fonts() -> None:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(TTFont(FONT, str(_FONTS / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(_FONTS / "DejaVuSans-Bold.ttf")))
        _registered = True


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=12, alignment=TA_LEFT,
                          textColor=colors.HexColor("#1d2433"))
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=18, leading=22,
                                spaceAfter=4),
        "facts": ParagraphStyle("facts", parent=base, textColor=colors.HexColor("#667085")),
        "h2": ParagraphStyle("h2", parent=base, fontName=BOLD, fontSize=12, leading=15,
                             spaceBefore=10, spaceAfter=4),
        "h3": ParagraphStyle("h3", parent=base, fontName=BOLD, fontSize=10, leading=13),
        "error": ParagraphStyle("error", parent=base, textColor=colors.HexColor("#c92a2a")),
        "kpi": ParagraphStyle("kpi", parent=base, fontName=BOLD, fontSize=20, leading=24),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.5, leading=9),
    }


def _table(table, styles) -> list:
    rows = []
    for row in table.rows[:MAX_ROWS]:
        rows.append([Paragraph(escape(cell_text(v, c.type, c.unit)), styles["cell"])
                     for v, c in zip(row, table.columns, strict=False)])
    head = [Paragraph(f"<b>{escape(c.name)}</b>", styles["cell"]) for c in table.columns]
    grid = Table([head, *rows], repeatRows=1, hAlign="LEFT")
    grid.setStyle(TableStyle([
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#667085")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f6f7fb")]),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5)]))
    parts = [grid]
    shown = min(len(table.rows), MAX_ROWS)
    total = table.total
    if total is None or total > shown:
        more = f"{total - shown:,} more rows" if total is not None else "More rows"
        parts.append(Paragraph(f"{more} in the CSV and XLSX files.", styles["facts"]))
    return parts


def _text(markdown_text: str, styles) -> list:
    """Markdown's paragraphs as paragraphs (headings bold, list items bulleted); escaped."""
    parts = []
    for chunk in markdown_text.split("\n\n"):
        for line in chunk.splitlines():
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                parts.append(Paragraph(escape(stripped.lstrip("#").strip()), styles["h3"]))
            elif stripped[:2] in ("- ", "* "):
                parts.append(Paragraph("• " + escape(stripped[2:]), styles["base"]))
            else:
                parts.append(Paragraph(escape(stripped), styles["base"]))
        parts.append(Spacer(1, 4))
    return parts


def build(rendered: Rendered) -> bytes:
    _fonts()
    styles = _styles()
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=14 * mm, bottomMargin=14 * mm, title=rendered.title,
                            author="Analytics", subject=rendered.range_text())
    story: list = [Paragraph(escape(rendered.title), styles["title"])]
    if rendered.description:
        story.append(Paragraph(escape(rendered.description), styles["base"]))
    facts = [f"Range: {rendered.range_text()}", f"Time zone: {rendered.tz}"]
    if rendered.previous:
        a, b = (rendered.local(t) for t in rendered.previous)
        facts.append(f"Compared with: {a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M}")
    facts.append(f"Generated at: {rendered.local(rendered.generated_at):%Y-%m-%d %H:%M:%S} "
                 f"({rendered.tz})")
    story += [Paragraph(escape(f), styles["facts"]) for f in facts]
    story.append(Spacer(1, 6))
    width = doc.width
    for block in rendered.blocks:
        part: list = []
        if block.title:
            part.append(Paragraph(escape(block.title), styles["h2"]))
        if block.error is not None:
            part.append(Paragraph(escape(block.error["error"]), styles["error"]))
        elif block.kind == "text":
            part += _text(str(block.spec.options.get("markdown", "")), styles)
        elif block.kpi is not None:
            kpi = block.kpi
            cells = [Paragraph(escape(number_text(kpi.value, kpi.unit)), styles["kpi"]),
                     Paragraph(escape(change_text(kpi.change)
                                      + (f" (previous: {number_text(kpi.previous, kpi.unit)})"
                                         if kpi.previous is not None else "")),
                               styles["facts"])]
            spark = charts.spark_png(kpi.spark)
            if spark:
                cells.append(Image(io.BytesIO(spark), width=45 * mm, height=11 * mm))
            part.append(Table([cells], hAlign="LEFT"))
        else:
            if block.kind == "chart":
                png = charts.chart_png(block, rendered.tz)
                if png:
                    part.append(Image(io.BytesIO(png), width=width, height=width * 2.6 / 7.2))
            table = table_of(block)
            if table is not None:
                part += _table(table, styles)
        story.append(KeepTogether(part[:3]))
        story += part[3:]
    page_label = escape(rendered.title)

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(colors.HexColor("#667085"))
        canvas.drawString(15 * mm, 8 * mm, f"{page_label} · page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def stream(rendered: Rendered) -> tuple[str, str, Iterator[bytes]]:
    return (f"{file_stem(rendered.title, 'report')}.pdf", "application/pdf",
            iter([build(rendered)]))


def as_bytes(rendered: Rendered) -> tuple[str, str, bytes]:
    return f"{file_stem(rendered.title, 'report')}.pdf", "application/pdf", build(rendered)

