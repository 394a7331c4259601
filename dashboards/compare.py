"""Comparison overlays of time-series panels: the panel's query again, one period earlier.

A panel's option ``compare`` (``previous_period``, ``1d`` or ``1w``) asks for the same query
wrapped in the engine's ``timeshift``, which re-stamps the series of one duration earlier onto
the current buckets. The engine refuses a shift that is not a whole number of steps, so the
shift is fitted to the step the panel's own answer came at: "previous period" is the asked range's
length rounded to whole steps; a fixed day or week that the step does not divide (a 1-week step
over a long range) runs both at a step that divides it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from math import gcd

from analytics_site.errors import ApiError
from events import query as engine

COMPARE = ("none", "previous_period", "1d", "1w")
OVERLAID_TYPES = ("line", "area", "bar")  # the panels drawn over time
FIXED = {"1d": 86400, "1w": 7 * 86400}
LABELS = {"1d": "1 day earlier", "1w": "1 week earlier"}
_UNITS = (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def is_on(compare: str | None) -> bool:
    return compare not in (None, "none")


def duration_text(seconds: int) -> str:
    """The engine's duration for ``seconds`` in its largest whole unit: 1w, 1d, 6h, 90m, 45s."""
    for unit, size in _UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable")


def human(seconds: int) -> str:
    """24 h, 7 days, 90 min, 1 h 23 min 15 s — hours up to two days, as people say them."""
    parts = []
    if seconds >= 2 * 86400:
        days, seconds = divmod(seconds, 86400)
        parts.append(f"{days} days")
    for size, unit in ((3600, "h"), (60, "min"), (1, "s")):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts)


def shift_of(compare: str, *, span_seconds: float, step: int) -> int:
    """The shift in seconds: a fixed day or week, or the range's length in whole steps."""
    if compare in FIXED:
        return FIXED[compare]
    return max(1, round(span_seconds / step)) * step


def label_of(compare: str, shift: int) -> str:
    return LABELS.get(compare) or f"previous {human(shift)}"


def overlay_query(query: str, shift: int) -> str:
    """The panel's query as it was ``shift`` seconds earlier."""
    return f"timeshift({query}, {duration_text(shift)})"


def _span_seconds(start, end, now: datetime) -> float:
    begin = engine.parse_time(start if start not in (None, "") else "now-1h", "start", now)
    finish = engine.parse_time(end if end not in (None, "") else "now", "end", now)
    return (finish - begin).total_seconds()


def panel_answer(panel, *, start=None, end=None, variables=None) -> dict:
    """The engine's answer for ``panel``'s query over ``start``..``end``; with the option
    ``compare``, also ``compare``: ``{option, label, shift, query, data, meta}`` — or ``error``
    when the overlay cannot run (the panel's own series are drawn all the same)."""
    project = panel.dashboard.project
    now = datetime.now(UTC)  # one clock for both answers
    ask = {"start": start, "end": end, "variables": variables, "now": now}
    answer = engine.execute(project, query=panel.query, **ask)
    compare = (panel.options or {}).get("compare")
    if not is_on(compare) or panel.type not in OVERLAID_TYPES:
        return answer
    step = answer["meta"]["resolution"]
    shift = shift_of(compare, span_seconds=_span_seconds(start, end, now), step=step)
    if shift % step:  # a fixed shift the step does not divide: both at a step that does
        step = gcd(shift, step)
        answer = engine.execute(project, query=panel.query, step=step, **ask)
    text = overlay_query(panel.query, shift)
    overlay = {"option": compare, "label": label_of(compare, shift),
               "shift": duration_text(shift), "query": text}
    try:
        shifted = engine.execute(project, query=text, step=step, **ask)
    except ApiError as exc:
        overlay["error"] = exc.message
    else:
        overlay.update(data=shifted["data"], meta=shifted["meta"])
    return {**answer, "compare": overlay}

