"""StatsD with DogStatsD extensions: lines ``name:value|type[|@rate][|#tag:v,tag2][|T<ts>]``,
several per packet (newline-separated), several values per line (``name:1:2:3|ms``).

The aggregator keeps one flush interval (10 s by default) and turns it into metric points:

- counters (``c``): ``name`` = the interval's total, each value divided by its sample rate;
- gauges (``g``): ``name`` = the last value; ``+n`` / ``-n`` change the previous value (kept
  across intervals, like StatsD's own);
- timers and histograms (``ms``, ``h``, ``d``): ``name.count`` (scaled by the sample rate),
  ``name.sum``, ``name.min``, ``name.max`` and ``name.p50`` … ``name.p99`` of the interval,
  exact, plus up to ``SAMPLES_PER_SERIES`` of the values themselves as ``name`` points, which
  feed the engine's sketches — so ``p95:name{}`` over any range works;
- sets (``s``): ``name`` = how many distinct members the interval saw.

Each flush also says what type each name is (``definitions``, for the catalogue), per series
rather than per value: counters, gauges, distributions (a timer's or histogram's samples and
percentiles; ``ms`` timers in ms) and sets.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

TYPES = {"c", "g", "ms", "h", "d", "s"}
QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99)
SAMPLES_PER_SERIES = 200
PARSED_MAX = 10_000  # lines kept parsed, of at most PARSED_LINE_MAX characters
PARSED_LINE_MAX = 256


class StatsdError(ValueError):
    pass


@dataclass
class Sample:
    name: str
    kind: str
    values: list[str]
    rate: float
    tags: tuple[tuple[str, str], ...]


def parse_line(line: str) -> Sample:
    head, _, rest = line.partition("|")
    name, sep, raw_values = head.partition(":")
    if not sep or not name or not raw_values:
        raise StatsdError(f"expected name:value|type, got {line[:60]!r}")
    parts = rest.split("|")
    kind = parts[0]
    if kind not in TYPES:
        raise StatsdError(f"unknown type {kind[:10]!r}")
    rate, tags = 1.0, []
    for part in parts[1:]:
        if part.startswith("@"):
            try:
                rate = float(part[1:])
            except ValueError:
                raise StatsdError(f"invalid sample rate {part[:20]!r}") from None
            if not 0 < rate <= 1:
                raise StatsdError(f"sample rate {part[1:20]} outside (0, 1]")
        elif part.startswith("#"):
            for tag in part[1:].split(","):
                if tag:
                    key, _, value = tag.partition(":")
                    tags.append((key, value or "true"))
        # c: (container id), T (timestamp), e: (external data): accepted, not used
    return Sample(name, kind, raw_values.split(":") if kind != "s" else [raw_values], rate,
                  tuple(sorted(tags)))


def _number(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise StatsdError(f"value {raw[:20]!r} is not finite")
    return value


@dataclass
class _Timer:
    kind: str = "ms"
    count: float = 0.0
    total: float = 0.0
    values: list[float] = field(default_factory=list)


@dataclass
class Aggregator:
    counters: dict = field(default_factory=dict)
    gauges: dict = field(default_factory=dict)  # kept across flushes (for +/- deltas)
    gauges_seen: set = field(default_factory=set)
    timers: dict = field(default_factory=dict)
    sets: dict = field(default_factory=dict)
    received: int = 0
    rejected: int = 0
    last_error: str = ""
    # what the last flush's names are: (description, unit, type)
    definitions: dict = field(default_factory=dict)
    _parsed: dict = field(default_factory=dict, repr=False)  # line text -> Sample

    def add(self, sample: Sample) -> None:
        key = (sample.name, sample.tags)
        kind = sample.kind
        for raw in sample.values:
            self.received += 1
            try:
                if kind == "s":
                    self.sets.setdefault(key, set()).add(raw)
                    continue
                if kind == "g" and raw[:1] in "+-":
                    self.gauges[key] = self.gauges.get(key, 0.0) + _number(raw)
                    self.gauges_seen.add(key)
                    continue
                value = _number(raw)
            except (StatsdError, ValueError) as exc:
                self.rejected += 1
                self.last_error = f"{sample.name}: {exc}"
                continue
            if kind == "c":
                self.counters[key] = self.counters.get(key, 0.0) + value / sample.rate
            elif kind == "g":
                self.gauges[key] = value
                self.gauges_seen.add(key)
            else:
                timer = self.timers.get(key)
                if timer is None:
                    timer = self.timers[key] = _Timer(kind)
                timer.count += 1 / sample.rate
                timer.total += value
                timer.values.append(value)

    def feed(self, packet: str) -> None:
        """The lines of a packet, in order. A line is parsed once while it keeps coming (a
        counter's ``hits:1|c`` arrives thousands of times an interval): its ``Sample`` is kept
        by the line's text (up to ``PARSED_MAX`` short texts; emptied when full)."""
        parsed = self._parsed
        for line in packet.splitlines():
            sample = parsed.get(line)
            if sample is None:
                text = line.strip()
                if not text:
                    continue
                try:
                    sample = parse_line(text)
                except StatsdError as exc:
                    self.rejected += 1
                    self.last_error = str(exc)
                    continue
                if len(line) <= PARSED_LINE_MAX:
                    if len(parsed) >= PARSED_MAX:
                        parsed.clear()
                    parsed[line] = sample
            self.add(sample)

    def flush(self, timestamp: float) -> list[dict]:
        """The interval's points; counters, timers and sets start over, gauges are kept."""
        points = []
        self.definitions = self._definitions()

        def point(name, value, tags):
            points.append({"name": name, "value": value, "tags": dict(tags),
                           "timestamp": timestamp})

        for (name, tags), value in self.counters.items():
            point(name, value, tags)
        for key in self.gauges_seen:
            point(key[0], self.gauges[key], key[1])
        for (name, tags), timer in self.timers.items():
            ordered = sorted(timer.values)
            point(f"{name}.count", timer.count, tags)
            point(f"{name}.sum", timer.total, tags)
            point(f"{name}.min", ordered[0], tags)
            point(f"{name}.max", ordered[-1], tags)
            for q in QUANTILES:
                rank = max(1, math.ceil(q * len(ordered)))
                point(f"{name}.p{round(q * 100)}", ordered[rank - 1], tags)
            kept = ordered if len(ordered) <= SAMPLES_PER_SERIES else random.sample(
                ordered, SAMPLES_PER_SERIES)
            for value in kept:
                point(name, value, tags)
        for (name, tags), members in self.sets.items():
            point(name, float(len(members)), tags)
        self.counters, self.timers, self.sets, self.gauges_seen = {}, {}, {}, set()
        return points

    def _definitions(self) -> dict[str, tuple[str, str, str]]:
        found = {name: ("", "", "counter") for name, _ in self.counters}
        found.update((name, ("", "", "gauge")) for name, _ in self.gauges_seen)
        found.update((name, ("", "", "set")) for name, _ in self.sets)
        for (name, _), timer in self.timers.items():
            unit = "ms" if timer.kind == "ms" else ""
            found[name] = ("", unit, "distribution")
            found[f"{name}.count"] = ("", "count", "counter")
            found[f"{name}.sum"] = ("", unit, "counter")
            for stat in ("min", "max", *(f"p{round(q * 100)}" for q in QUANTILES)):
                found[f"{name}.{stat}"] = ("", unit, "distribution")
        return found
