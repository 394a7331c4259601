"""Ranges and steps: absolute or relative times, an explicit or automatic step, and the buckets.

Buckets of less than a day are aligned to multiples of the step since the Unix epoch (UTC);
buckets of whole days start at midnight in the project's time zone (so a "day" around a DST
change is 23 or 25 hours long, as people expect).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from analytics_site.errors import ApiError

TARGET_POINTS = 300
MAX_POINTS = 5000  # buckets per series
NICE_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
              43200, 86400, 7 * 86400)
DAY = 86400
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}
_RELATIVE = re.compile(r"^now(?:\s*-\s*(\d+)\s*([smhdw]))?$")
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidRange(ApiError):
    status = 400
    code = "INVALID_RANGE"


def parse_duration(value, field: str) -> int:
    """Seconds from ``90``, ``"90"``, ``"5m"``, ``"1h"``, ``"1d"``, ``"1w"``."""
    if isinstance(value, bool):
        raise InvalidRange(f"{field}: must be seconds or a duration like 5m.",
                           details={field: ["Invalid duration."]})
    if isinstance(value, int | float) and value > 0:
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and int(text) > 0:
            return int(text)
        found = _DURATION.match(text)
        if found and int(found.group(1)) > 0:
            return int(found.group(1)) * _UNITS[found.group(2)]
    raise InvalidRange(f"{field}: must be seconds or a duration like 5m, 1h, 1d.",
                       details={field: ["Invalid duration."]})


def parse_time(value, field: str, now: datetime) -> datetime:
    """ISO 8601, epoch seconds or milliseconds, ``now`` or ``now-24h``; always a UTC instant
    (PostgreSQL refuses offsets beyond ±15:59 that Python takes)."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str):
            text = value.strip()
            relative = _RELATIVE.match(text)
            if relative:
                if relative.group(1) is None:
                    return now
                return now - timedelta(seconds=int(relative.group(1))
                                       * _UNITS[relative.group(2)])
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError, OSError):  # not a time, or beyond the calendar
        pass
    raise InvalidRange(f"{field}: must be ISO 8601, epoch seconds or ms, or relative like "
                       f"now-24h.", details={field: ["Invalid time."]})


@dataclass(frozen=True)
class Range:
    start: datetime  # the first bucket's start
    end: datetime  # the end of the last bucket (exclusive)
    step: int  # seconds (nominal for day buckets)
    tz: str
    now: datetime

    @property
    def by_local_days(self) -> bool:
        return self.step % DAY == 0

    @property
    def touches_now(self) -> bool:
        return self.end > self.now - timedelta(seconds=max(self.step, 60))

    def buckets(self) -> list[datetime]:
        return list(_starts(self.start, self.end, self.step, self.tz))

    def epochs(self) -> tuple[int, ...]:
        """Each bucket's start in whole epoch seconds (what the statements group by)."""
        return _epochs(self.start, self.end, self.step, self.tz)

    def bucket_count(self) -> int:
        return len(self.epochs())

    def aligned_to(self, resolution: int) -> bool:
        """Whether every bucket boundary falls on a boundary of a rollup of ``resolution`` s."""
        if not self.by_local_days:
            return self.step % resolution == 0
        return all(int((b - _EPOCH).total_seconds()) % resolution == 0
                   for b in [*self.buckets(), self.end])

    def with_step(self, step: int) -> Range:
        return make_range(self.start, self.end, step, tz=self.tz, now=self.now)


# The ranges last asked for: a query asks for its buckets several times (the size checks, each
# series, the answer), and a dashboard's panels share ranges.
@lru_cache(maxsize=64)
def _starts(start: datetime, end: datetime, step: int, tz: str) -> tuple[datetime, ...]:
    if step % DAY:
        count = int((end - start).total_seconds()) // step
        return tuple(start + timedelta(seconds=i * step) for i in range(count))
    zone = ZoneInfo(tz)
    out = []
    local = start.astimezone(zone).replace(tzinfo=None)
    while (moment := local.replace(tzinfo=zone).astimezone(UTC)) < end:
        out.append(moment)
        local += timedelta(days=step // DAY)
    return tuple(out)


@lru_cache(maxsize=64)
def _epochs(start: datetime, end: datetime, step: int, tz: str) -> tuple[int, ...]:
    if step % DAY:  # (start + i * step).timestamp() truncated, without making the datetimes
        first = int(start.timestamp())
        return tuple(range(first, first + int((end - start).total_seconds()) // step * step,
                           step))
    return tuple(int(b.timestamp()) for b in _starts(start, end, step, tz))


@dataclass(frozen=True)
class Span:
    """An exact stretch of time, for the reports that total over a range rather than bucket it
    (the overview, breakdowns, sessions, people): the same times, zone and clock as a Range, and
    the same cache grain."""

    start: datetime
    end: datetime
    tz: str
    now: datetime

    @property
    def previous(self) -> Span:
        return Span(self.start - (self.end - self.start), self.start, self.tz, self.now)

    @property
    def reaches_now(self) -> bool:
        return self.end > self.now - timedelta(seconds=60)

    def params(self, project_id: int) -> dict:
        return {"project": project_id, "start": self.start, "end": self.end}

    def spec(self) -> dict:
        """The span as a cache key sees it (10 s grain, like a Range's)."""
        return {"s": int(self.start.timestamp()) // 10 * 10,
                "e": int(self.end.timestamp()) // 10 * 10, "tz": self.tz}


MAX_SPAN_DAYS = 400


def rounded_now(now: datetime | None = None) -> datetime:
    """Now, moved up to the next 10 s boundary: relative ranges asked within the same 10 s are
    the same range, so they share one cache entry (whose TTL is 10 s when it reaches now)."""
    now = now or datetime.now(UTC)
    return datetime.fromtimestamp(-(-now.timestamp() // 10) * 10, UTC)


def resolve_span(start=None, end=None, *, default_start: str = "now-7d", tz: str = "UTC",
                 now: datetime | None = None) -> Span:
    now = now or rounded_now()
    start_at = parse_time(start if start not in (None, "") else default_start, "start", now)
    end_at = parse_time(end if end not in (None, "") else "now", "end", now)
    if end_at <= start_at:
        raise InvalidRange("end must be after start.", details={"end": ["Must be after start."]})
    if end_at - start_at > timedelta(days=MAX_SPAN_DAYS):
        raise InvalidRange(f"A range is at most {MAX_SPAN_DAYS} days.",
                           details={"start": ["Too far back."]})
    return Span(start_at, end_at, tz, now)


def auto_step(seconds: float) -> int:
    wanted = seconds / TARGET_POINTS
    for step in NICE_STEPS:
        if step >= wanted:
            return step
    return NICE_STEPS[-1]


def _floor(moment: datetime, step: int) -> datetime:
    epoch = int((moment - _EPOCH).total_seconds() // step * step)
    return _EPOCH + timedelta(seconds=epoch)


def _local_midnight(moment: datetime, tz: str, days: int, *, up: bool) -> datetime:
    zone = ZoneInfo(tz)
    local = moment.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    # Align N-day buckets to whole N-day periods since 1970-01-01 local.
    ordinal = (midnight.date() - datetime(1970, 1, 1).date()).days
    midnight -= timedelta(days=ordinal % days)
    result = midnight.replace(tzinfo=zone).astimezone(UTC)
    if up and result < moment:
        result = (midnight + timedelta(days=days)).replace(tzinfo=zone).astimezone(UTC)
    return result


def make_range(start: datetime, end: datetime, step: int, *, tz: str, now: datetime) -> Range:
    if step % DAY == 0:
        days = step // DAY
        aligned_start = _local_midnight(start, tz, days, up=False)
        aligned_end = _local_midnight(end, tz, days, up=True)
    else:
        aligned_start = _floor(start, step)
        aligned_end = _floor(end, step)
        if aligned_end < end:
            aligned_end += timedelta(seconds=step)
    return Range(aligned_start, aligned_end, step, tz, now)


def resolve(start, end, step=None, *, tz: str = "UTC", now: datetime | None = None) -> Range:
    now = now or datetime.now(UTC)
    start_at = parse_time(start if start is not None else "now-1h", "start", now)
    end_at = parse_time(end if end is not None else "now", "end", now)
    if end_at <= start_at:
        raise InvalidRange("end must be after start.", details={"end": ["Must be after start."]})
    span = (end_at - start_at).total_seconds()
    seconds = auto_step(span) if step in (None, "", "auto") else parse_duration(step, "step")
    if span / seconds > MAX_POINTS:
        raise InvalidRange(f"{int(span / seconds) + 1} points per series is over the limit of "
                           f"{MAX_POINTS}; use a larger step or a shorter range.",
                           details={"step": [f"At most {MAX_POINTS} points per series."],
                                    "max_points": MAX_POINTS})
    return make_range(start_at, end_at, seconds, tz=tz, now=now)
