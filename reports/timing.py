"""Time for reports, without Django: a schedule as cron fields and its fire times in a time
zone, and the relative ranges (last 7 days, previous month …) with their previous periods.

Fire times are local wall-clock times: a daily 09:00 in Europe/Paris is 08:00 UTC in winter and
07:00 UTC in summer. A local time that does not exist on the day the clocks go forward (02:30)
is the instant one hour later than the hour before the change (zoneinfo's fold=0), and one that
happens twice when they go back is its first occurrence — so each local time fires once a day.
The day fields combine like Celery's crontab, which the beat row uses: day of month and day of
week must both match.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from celery.schedules import crontab

MAX_LOOK_DAYS = 400  # a cron like "0 0 29 2 *" fires once in four years: looked for this far


@dataclass(frozen=True)
class Cron:
    minute: str
    hour: str
    day_of_month: str
    month_of_year: str
    day_of_week: str  # 0 (or 7) Sunday … 6, as cron

    @classmethod
    def parse(cls, text: str) -> Cron:
        """Five fields; ValueError naming what is wrong."""
        fields = text.split()
        if len(fields) != 5:
            raise ValueError("A cron expression has five fields: minute hour day-of-month "
                             "month day-of-week.")
        cron = cls(*fields)
        cron.crontab()  # Celery's parser says whether each field is valid
        return cron

    def crontab(self) -> crontab:
        try:
            return crontab(minute=self.minute, hour=self.hour, day_of_month=self.day_of_month,
                           month_of_year=self.month_of_year, day_of_week=self.day_of_week)
        except Exception as exc:  # celery raises ValueError and its own ParseException
            raise ValueError(f"Invalid cron expression: {exc}") from None

    def text(self) -> str:
        return " ".join((self.minute, self.hour, self.day_of_month, self.month_of_year,
                         self.day_of_week))


def cron_of(kind: str, *, at: time, weekday: int = 0, day_of_month: int = 1,
            cron: str = "") -> Cron:
    """The cron fields of a schedule (weekday: 0 Monday … 6 Sunday)."""
    if kind == "daily":
        return Cron(str(at.minute), str(at.hour), "*", "*", "*")
    if kind == "weekly":
        return Cron(str(at.minute), str(at.hour), "*", "*", str((weekday + 1) % 7))
    if kind == "monthly":
        return Cron(str(at.minute), str(at.hour), str(day_of_month), "*", "*")
    return Cron.parse(cron)


def _day_times(sets, day: date, zone: ZoneInfo) -> list[datetime]:
    minutes, hours, days, months, weekdays = sets
    if day.month not in months or day.day not in days or (day.isoweekday() % 7) not in weekdays:
        return []
    found = set()
    for hour in hours:
        for minute in minutes:
            local = datetime.combine(day, time(hour, minute), tzinfo=zone)
            found.add(local.astimezone(UTC))
    return sorted(found)


def _sets(cron: Cron):
    parsed = cron.crontab()
    return (parsed.minute, parsed.hour, parsed.day_of_month, parsed.month_of_year,
            parsed.day_of_week)


def previous_fire(cron: Cron, tz: str, at: datetime) -> datetime | None:
    """The last fire time at or before ``at``."""
    zone, sets = ZoneInfo(tz), _sets(cron)
    day = at.astimezone(zone).date() + timedelta(days=1)
    for _ in range(MAX_LOOK_DAYS):
        times = [t for t in _day_times(sets, day, zone) if t <= at]
        if times:
            return times[-1]
        day -= timedelta(days=1)
    return None


def next_fire(cron: Cron, tz: str, after: datetime) -> datetime | None:
    """The first fire time after ``after``."""
    zone, sets = ZoneInfo(tz), _sets(cron)
    day = after.astimezone(zone).date() - timedelta(days=1)
    for _ in range(MAX_LOOK_DAYS):
        times = [t for t in _day_times(sets, day, zone) if t > after]
        if times:
            return times[0]
        day += timedelta(days=1)
    return None


def describe(kind: str, *, at: time, weekday: int, day_of_month: int, cron: str,
             tz: str) -> str:
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    clock = f"{at:%H:%M}"
    if kind == "daily":
        return f"Daily at {clock} ({tz})"
    if kind == "weekly":
        return f"Weekly on {days[weekday % 7]} at {clock} ({tz})"
    if kind == "monthly":
        return f"Monthly on day {day_of_month} at {clock} ({tz})"
    return f"Cron {cron} ({tz})"


# -- ranges ---------------------------------------------------------------------------------------
CALENDAR = ("previous_day", "previous_week", "previous_month", "month_to_date")


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def _month_start(day: date, back: int = 0) -> date:
    month = day.month - 1 - back
    return date(day.year + month // 12, month % 12 + 1, 1)


def report_range(kind: str, tz: str, at: datetime, custom_start: datetime | None = None,
                 custom_end: datetime | None = None) -> tuple[datetime, datetime]:
    """``[start, end)`` of a relative range at ``at`` (the scheduled time of a run, so a late
    run covers what it would have covered on time)."""
    zone = ZoneInfo(tz)
    today = at.astimezone(zone).date()
    if kind == "last_24h":
        return at - timedelta(hours=24), at
    if kind == "last_7d":
        return at - timedelta(days=7), at
    if kind == "last_30d":
        return at - timedelta(days=30), at
    if kind == "previous_day":
        return _midnight(today - timedelta(days=1), zone), _midnight(today, zone)
    if kind == "previous_week":  # Monday to Monday
        monday = today - timedelta(days=today.weekday())
        return _midnight(monday - timedelta(days=7), zone), _midnight(monday, zone)
    if kind == "previous_month":
        return _midnight(_month_start(today, 1), zone), _midnight(_month_start(today), zone)
    if kind == "month_to_date":
        start = _midnight(_month_start(today), zone)
        return start, max(at, start + timedelta(minutes=1))
    if custom_start is None or custom_end is None:
        raise ValueError("A custom range needs its start and end.")
    return custom_start, custom_end


def previous_period(kind: str, tz: str, start: datetime,
                    end: datetime) -> tuple[datetime, datetime]:
    """What a range is compared with: the calendar period before for the calendar ranges (the
    whole previous month for a previous month; the same days of it for month to date), the same
    length just before otherwise."""
    zone = ZoneInfo(tz)
    first = start.astimezone(zone).date()
    if kind == "previous_month":
        return _midnight(_month_start(first, 1), zone), start
    if kind == "month_to_date":
        before = _month_start(first, 1)
        elapsed = end - start
        return _midnight(before, zone), _midnight(before, zone) + elapsed
    if kind in ("previous_day", "previous_week"):
        days = (end.astimezone(zone).date() - first).days
        return _midnight(first - timedelta(days=days), zone), start
    return start - (end - start), start
