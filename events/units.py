"""How a value with a unit reads: one rule for every output (alert messages, reports, and — in
its JavaScript twin ``static/js/units.js``, which keeps the same table and the same steps — the
charts, stat and gauge panels). ``events/tests/test_units.py`` runs both on one table of cases
and holds them to the same text.

- ``scale_for(values, unit)`` picks the unit of the unit's family in which the largest value
  reads best — the largest unit the value is at least one of: 1200 ms is 1.2 s, 0.0012 s is
  1.2 ms — and returns ``(divisor, label)``: show ``value / divisor`` followed by ``label``.
  Families: time (ns, µs, ms, s, min, h, d; ``us`` is µs); bytes in powers of 1024 (bytes, KiB,
  MiB, GiB, TiB, PiB: memory and file sizes are binary, and the catalogue's units are the IEC
  names); bytes written in decimal units (KB, MB, GB, TB) in powers of 1000; bits in powers of
  1000 (bits, kbit, Mbit, Gbit, Tbit: link speeds are decimal). A unit ``<family unit>/s``
  scales its family unit and keeps ``/s`` (bytes/s → MiB/s). Any other unit (%, req/s, free
  text) is never scaled.
- ``format_value(value, unit)``: the value scaled by ``scale_for([value], unit)``, with at most
  two decimals (more below 1 so two significant digits show, at most six), trailing zeros
  dropped, thousands separated by ``,``, halves rounded away from zero on the exact binary
  value (what JavaScript's ``toFixed`` does); ``%`` follows the number, any other unit after a
  space: ``1.2 s``, ``12.5%``, ``1,234 requests``, an en dash for no value.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

NO_VALUE = "\u2013"  # an en dash, as the panels show it
MAX_DECIMALS = 6
HUGE = 1e21
PER_SECOND = "/s"

# Each family: (label, size in the family's smallest unit), smallest first. Sizes are exact
# integers, so the divisors between them are exact in both languages.
FAMILIES: tuple[tuple[tuple[str, float], ...], ...] = (
    (("ns", 1), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("min", 6e10), ("h", 3.6e12),
     ("d", 8.64e13)),
    (("bytes", 1), ("KiB", 1024), ("MiB", 1024 ** 2), ("GiB", 1024 ** 3), ("TiB", 1024 ** 4),
     ("PiB", 1024 ** 5)),
    (("bytes", 1), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12)),
    (("bits", 1), ("kbit", 1e3), ("Mbit", 1e6), ("Gbit", 1e9), ("Tbit", 1e12)),
)
ALIASES = {"us": "µs"}


def _family(unit: str):
    """The family holding ``unit`` and its size there, or None (never scaled)."""
    unit = ALIASES.get(unit, unit)
    for family in FAMILIES:
        for label, size in family:
            if label == unit:
                return family, size
    return None


def scale_for(values: Iterable[float | None], unit: str) -> tuple[float, str]:
    """``(divisor, label)`` to show ``values`` (in ``unit``) in: by their largest magnitude."""
    unit = unit or ""
    suffix = ""
    found = _family(unit)
    if found is None and unit.endswith(PER_SECOND):
        suffix = PER_SECOND
        found = _family(unit[:-len(PER_SECOND)])
    largest = max((abs(v) for v in values if v is not None), default=0.0)
    if found is None or largest == 0:
        return 1.0, unit
    family, size = found
    base = largest * size
    label, target = family[0]
    for name, step in family:
        if step <= base:
            label, target = name, step
    if target == size:
        return 1.0, label + suffix
    return target / size, label + suffix


def _fixed(value: float, decimals: int) -> str:
    text = str(Decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))
    return text if decimals else text.split(".")[0]


def number_text(value: float) -> str:
    """``value`` with up to 2 decimals (more below 1, at most 6), ``,`` between thousands."""
    magnitude = abs(value)
    if magnitude >= HUGE:  # past what fixed notation writes in JavaScript: its shortest text
        return repr(float(value))
    decimals = 2
    while decimals < MAX_DECIMALS and 0 < magnitude * 10 ** decimals < 10:
        decimals += 1
    text = _fixed(magnitude, decimals)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    whole, _, fraction = text.partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    whole = ",".join([whole, *groups])
    text = whole + (f".{fraction}" if fraction else "")
    return f"-{text}" if value < 0 and text.strip("0.,") else text


def with_label(text: str, label: str) -> str:
    if not label:
        return text
    return f"{text}{label}" if label == "%" else f"{text} {label}"


def format_value(value: float | None, unit: str = "") -> str:
    """``value`` (in ``unit``) as people read it: ``1.2 s`` for 1200 ms."""
    if value is None:
        return NO_VALUE
    divisor, label = scale_for([value], unit)
    return with_label(number_text(value / divisor), label)
