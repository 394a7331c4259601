"""The files a report becomes: CSV (a file per block, zipped when there are several), XLSX (a
sheet per block), PDF, JSON and a chart's PNG — all written from one ``rendering.Rendered``, the
same content as the e-mail, and all streamed or written in constant memory."""

from __future__ import annotations

from ..rendering import Column, RenderedBlock, Table


def table_of(block: RenderedBlock) -> Table | None:
    """What a block is as rows: its table, a KPI as one row, nothing for text or an error."""
    if block.error is not None:
        return None
    if block.kpi is not None:
        kpi = block.kpi
        return Table([Column("metric", "text"), Column("value", "number", kpi.unit),
                      Column("previous", "number", kpi.unit), Column("change", "percent")],
                     [[block.title, kpi.value, kpi.previous, kpi.change]], 1)
    return block.table


def file_stem(text: str, fallback: str) -> str:
    """A safe file or sheet name from a title: letters, digits, - and _."""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-")
    while "--" in cleaned:
        cleaned = cleaned.replace("--", "-")
    return (cleaned or fallback)[:60]
