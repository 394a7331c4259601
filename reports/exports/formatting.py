"""Numbers and times as people read them in the e-mail, the preview and the PDF (the CSV, XLSX
and JSON files keep the exact values, and say the unit in the column's header). A number with a
unit reads as everywhere else (``events.units``: 1200 ms is 1.2 s)."""

from __future__ import annotations

from datetime import datetime

from events import units


def number_text(value, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit:
        return units.format_value(value, unit)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) < 1e15):
        text = f"{int(value):,}"
    elif abs(value) >= 100:
        text = f"{value:,.1f}"
    else:
        text = f"{value:,.2f}"
    return f"{text} {unit}".strip()


def change_text(change: float | None) -> str:
    if change is None:
        return "no previous value"
    return f"{change * 100:+.1f} %"


def direction(change: float | None) -> str:
    if change is None or change == 0:
        return "flat"
    return "up" if change > 0 else "down"


def cell_text(value, kind: str, unit: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if kind == "percent":
        return change_text(value) if isinstance(value, int | float) else str(value)
    if isinstance(value, int | float):
        return number_text(value, unit)
    return str(value)
