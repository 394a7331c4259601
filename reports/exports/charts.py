"""Chart images with Matplotlib (Agg, no display, no browser): the e-mail's inline charts, the
PDF's and the PNG export. Drawn like the dashboards' Plotly charts — the same palette, lines,
stacked areas and stacked bars, local times on the axis, the y axis in the series' unit scaled
like the dashboards' (``events.units``: 800..2400 ms drawn in s) — at 150 dpi."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from events import units

from ..rendering import RenderedBlock

PALETTE = ["#4c6ef5", "#12b886", "#f59f00", "#e64980", "#7950f2", "#15aabf", "#82c91e",
           "#fd7e14", "#868e96", "#fa5252"]
MAX_SERIES = 20  # drawn; the table and the files have them all
DPI = 150


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def chart_png(block: RenderedBlock, tz: str, *, width: float = 7.2,
              height: float = 2.6) -> bytes | None:
    """The block's series drawn as its chart type; None when there is nothing to draw."""
    series = block.series[:MAX_SERIES]
    if not series or not series[0].points:
        return None
    zone = ZoneInfo(tz)
    times = [datetime.fromtimestamp(t / 1000, UTC).astimezone(zone).replace(tzinfo=None)
             for t, _ in series[0].points]
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots()
    kind = block.chart_type or "line"
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    shared = {s.unit for s in series}
    divisor, label = units.scale_for([v for s in series for _, v in s.points],
                                     shared.pop() if len(shared) == 1 else "")
    values = [[v / divisor if v is not None else float("nan") for _, v in s.points]
              for s in series]
    if kind == "area":
        axes.stackplot(times, [[0.0 if v != v else v for v in vs] for vs in values],
                       labels=[s.label for s in series], colors=colors, alpha=0.55)
    elif kind == "bar":
        step = (times[1] - times[0]) if len(times) > 1 else None
        width_days = step.total_seconds() / 86400 * 0.8 if step else 0.02
        bottom = [0.0] * len(times)
        for s, vs, color in zip(series, values, colors, strict=True):
            heights = [0.0 if v != v else v for v in vs]
            axes.bar(times, heights, width=width_days, bottom=bottom, label=s.label,
                     color=color, align="edge")
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    else:
        for s, vs, color in zip(series, values, colors, strict=True):
            axes.plot(times, vs, label=s.label, color=color, linewidth=1.6)
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.set_ylim(bottom=min(0, axes.get_ylim()[0]))
    axes.grid(axis="y", color="#e4e7ee", linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.tick_params(labelsize=7, colors="#667085", length=0)
    if label:
        axes.set_ylabel(label, fontsize=7, color="#667085")
    if len(series) > 1:
        axes.legend(fontsize=7, frameon=False, ncols=min(4, len(series)), loc="upper left",
                    bbox_to_anchor=(0, -0.12))
    return _png(figure)


def spark_png(values: list[float | None], *, color: str = PALETTE[0]) -> bytes | None:
    """A KPI's sparkline."""
    points = [v if v is not None else float("nan") for v in values]
    if not any(v == v for v in points):
        return None
    figure = Figure(figsize=(1.8, 0.45))
    axes = figure.add_axes((0, 0, 1, 1))
    axes.plot(range(len(points)), points, color=color, linewidth=1.2)
    axes.fill_between(range(len(points)), [0 if v != v else v for v in points], color=color,
                      alpha=0.15, linewidth=0)
    axes.set_axis_off()
    return _png(figure)
