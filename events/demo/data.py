"""Demo traffic for ``seed_demo`` (days of history) and ``simulate`` (live), so a fresh install
shows charts with a daily and weekly rhythm, funnels, identified people and incidents.

Everything is a pure function of a seed and a time window: each hour's sessions come from a
random generator keyed by (seed, hour) and each metric value from a hash of (seed, series,
minute). The same seed and window give the same events (same uuids, so a re-send is stored once)
and the same points, and tests can compare the database with what the generator says.

Writing goes through ``events.services`` like any client's data, so the stored rows get the same
enrichment (browser, OS and device from real user agents, paths, referrer domains, visitor
hashes) and person merging (``$identify``) as real traffic.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta, tzinfo

from .. import db, selectors, services
from ..services import Client

SITE = "https://demo.example.com"
MAX_BATCH = 1000
MARGIN = timedelta(minutes=10)  # keeps the oldest item inside raw retention while writing

# Sessions per hour at the busiest weekday hour: about 24k events a week.
PEAK_SESSIONS = 75
# Traffic by local hour (0-23) and weekday (Monday first), as fractions of the peak.
DAILY = (0.25, 0.18, 0.14, 0.12, 0.12, 0.15, 0.25, 0.40, 0.60, 0.80, 0.92, 0.97,
         0.95, 0.98, 1.00, 0.98, 0.92, 0.82, 0.70, 0.62, 0.58, 0.52, 0.42, 0.32)
WEEKLY = (1.00, 1.04, 1.02, 0.98, 0.88, 0.55, 0.50)

PAGES = {  # path: (title, weight as the next page)
    "/": ("Home", 10), "/pricing": ("Pricing", 22), "/docs": ("Docs", 14),
    "/docs/getting-started": ("Getting started", 10), "/docs/api": ("API reference", 7),
    "/blog/": ("Blog", 8), "/blog/launch-week": ("Launch week", 4),
    "/blog/postgres-partitioning": ("Partitioning PostgreSQL by day", 4),
    "/blog/self-hosting-analytics": ("Self-hosting your analytics", 4),
    "/about": ("About", 4), "/changelog": ("Changelog", 4),
}
EXTRA_TITLES = {"/signup": "Sign up", "/login": "Log in", "/account/billing": "Billing"}

# (referrer, utm query of the landing page, weight, landing pages)
SOURCES = (
    ("https://www.google.com/", "?utm_source=google&utm_medium=cpc&utm_campaign=brand", 8,
     ("/pricing", "/")),
    ("https://www.linkedin.com/", "?utm_source=linkedin&utm_medium=social&utm_campaign=launch",
     4, ("/blog/launch-week", "/pricing")),
    ("https://www.google.com/", "", 32, ("/", "/docs", "/docs/getting-started", "/pricing")),
    (None, "", 28, ("/", "/pricing", "/docs")),
    ("https://t.co/x9Demo", "?utm_source=twitter", 6, ("/blog/launch-week", "/")),
    ("https://x.com/", "", 4, ("/blog/launch-week", "/")),
    ("https://news.ycombinator.com/", "", 9,
     ("/blog/postgres-partitioning", "/blog/self-hosting-analytics")),
    ("https://newsletter.example.com/issues/42",
     "?utm_source=newsletter&utm_medium=email&utm_campaign=weekly", 7, ("/blog/", "/changelog")),
    ("https://github.com/", "", 5, ("/docs", "/")),
    ("https://duckduckgo.com/", "", 4, ("/", "/docs")),
)
_SOURCE_WEIGHTS = [s[2] for s in SOURCES]

_UA = "Mozilla/5.0 ({}) AppleWebKit/{} (KHTML, like Gecko) {}"
_WEBKIT, _SAFARI = "605.1.15", "Version/17.4 Mobile/15E148 Safari/604.1"
_CHROME = "Chrome/124.0.0.0 Safari/537.36"
USER_AGENTS = (  # (user agent, weight): desktop, mobile and tablet browsers
    (_UA.format("Windows NT 10.0; Win64; x64", "537.36", _CHROME), 30),
    (_UA.format("Macintosh; Intel Mac OS X 10_15_7", "537.36", _CHROME), 14),
    (_UA.format("Macintosh; Intel Mac OS X 10_15_7", _WEBKIT, "Version/17.4 Safari/605.1.15"),
     10),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", 6),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", 4),
    (_UA.format("Windows NT 10.0; Win64; x64", "537.36", _CHROME + " Edg/124.0.2478.80"), 6),
    (_UA.format("iPhone; CPU iPhone OS 17_4 like Mac OS X", _WEBKIT, _SAFARI), 14),
    (_UA.format("Linux; Android 14; Pixel 8", "537.36",
                "Chrome/124.0.0.0 Mobile Safari/537.36"), 9),
    (_UA.format("Linux; Android 14; SM-S918B", "537.36",
                "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36"), 3),
    (_UA.format("iPad; CPU OS 17_4 like Mac OS X", _WEBKIT, _SAFARI), 4),
)
_UA_WEIGHTS = [w for _, w in USER_AGENTS]
# Visitors' countries: address blocks the Regional Internet Registries allocated to each country
# (ingest looks the country up and discards the address), weighted like a site read worldwide.
COUNTRY_BLOCKS = (("12.0.0", 30), ("99.224.0", 5), ("194.25.2", 12), ("81.2.69", 10),
                  ("90.84.0", 7), ("49.44.0", 8), ("177.0.0", 6), ("133.0.0", 4),
                  ("82.94.0", 5), ("88.0.0", 4), ("101.160.0", 4), ("83.0.0", 5))
_COUNTRY_WEIGHTS = [w for _, w in COUNTRY_BLOCKS]
# Crawlers (known bots: kept, left out of every report by default), a few visits an hour.
BOTS = ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)")
BOT_SHARE = 0.06
PLANS = {"starter": 19, "team": 49, "business": 199}


@dataclass(frozen=True)
class Visitor:
    """One browser on one device; ``user_id`` is set for existing customers."""

    anon_id: str
    client: Client
    kind: str = "new"  # "new" (may sign up), "reader" (returns, never signs up) or "customer"
    user_id: str | None = None


def window(now: datetime, days: int) -> tuple[datetime, datetime]:
    """[start, end) of ``days`` of history up to the current minute, starting a little after
    the raw-retention cut-off so nothing turns too old while it is being written."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0)
    return end - timedelta(days=days) + MARGIN, end


def load(moment: datetime, tz: tzinfo) -> float:
    """Traffic at ``moment`` relative to the weekday peak, in the project's time zone."""
    local = moment.astimezone(tz)
    hour = local.hour + local.minute / 60
    low, high = DAILY[int(hour) % 24], DAILY[(int(hour) + 1) % 24]
    return (low + (high - low) * (hour - int(hour))) * WEEKLY[local.weekday()]


def _rng(*parts) -> random.Random:
    """A generator fixed by ``parts`` (string seeding is stable across processes)."""
    return random.Random("|".join(map(str, parts)))  # noqa: S311 - demo data, not secrets


def _hex(rng: random.Random, bits: int = 48) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def _new_visitor(rng: random.Random, kind: str = "new", user_id: str | None = None) -> Visitor:
    agent = rng.choices(USER_AGENTS, _UA_WEIGHTS)[0][0]
    if kind == "bot":
        agent = rng.choice(BOTS)
    if rng.random() < 0.9:
        block = rng.choices(COUNTRY_BLOCKS, _COUNTRY_WEIGHTS)[0][0]
        ip = f"{block}.{rng.randrange(1, 255)}"
    else:  # documentation addresses: no country
        ip = f"2001:db8:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
    anon = f"anon_{_hex(rng)}"
    return Visitor(anon_id=anon, client=Client(ip=ip, user_agent=agent), kind=kind,
                   user_id=user_id)


def population(seed: int) -> tuple[list[Visitor], list[Visitor]]:
    """Returning readers (anonymous, same id every visit) and existing customers."""
    rng = _rng(seed, "population")
    readers = [_new_visitor(rng, "reader") for _ in range(300)]
    customers = [_new_visitor(rng, "customer", f"user_{_hex(rng, 32)}") for _ in range(120)]
    return readers, customers


class _Session:
    """Builds one visit's events in order; the clock advances as the visitor browses."""

    def __init__(self, rng: random.Random, visitor: Visitor, at: datetime):
        self.rng, self.visitor, self.at = rng, visitor, at
        self.session_id = f"s_{_hex(rng)}"
        self.anon = visitor.anon_id if visitor.user_id is None else f"anon_{_hex(rng)}"
        self.distinct_id = self.anon
        self.events: list[dict] = []
        self.seen: set[str] = set()

    def emit(self, event: str, path: str | None = None, properties: dict | None = None,
             referrer: str | None = None, query: str = "") -> None:
        item = {"uuid": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                "event": event, "distinct_id": self.distinct_id, "session_id": self.session_id,
                "timestamp": self.at.isoformat(timespec="milliseconds"),
                "properties": properties or {}}
        if path is not None:
            item["page_url"] = SITE + path + query
        if referrer:
            item["referrer"] = referrer
        self.events.append(item)

    def wait(self, median_s: float) -> None:
        seconds = min(self.rng.lognormvariate(math.log(median_s), 0.8), 20 * median_s)
        self.at += timedelta(milliseconds=int(seconds * 1000))

    def view(self, path: str, **extra) -> None:
        title = PAGES[path][0] if path in PAGES else EXTRA_TITLES[path]
        self.seen.add(path)
        self.emit("page_view", path, {"title": title}, **extra)

    def click(self, path: str, text: str) -> None:
        self.wait(8)
        self.emit("click", path, {"text": text, "tag": "a"})

    def identify(self, user_id: str, path: str, properties: dict) -> None:
        self.distinct_id = user_id
        self.emit("$identify", path, {"$anon_distinct_id": self.anon, "$set": properties})

    def purchase(self, path: str, plan: str) -> None:
        seats = self.rng.choice((1, 1, 1, 2, 3, 5, 10))
        self.wait(40)
        self.emit("purchase", path, {"amount": round(PLANS[plan] * seats, 2), "currency": "USD",
                                     "plan": plan, "seats": seats,
                                     "order_id": f"ord_{_hex(self.rng, 32)}"})

    def browse(self, landing: str, views: int, *, referrer=None, query="") -> str:
        path = landing
        self.view(path, referrer=referrer, query=query)
        for _ in range(views - 1):
            self.wait(30)
            choices = [p for p in PAGES if p != path]
            path = self.rng.choices(choices, [PAGES[p][1] for p in choices])[0]
            if self.rng.random() < 0.15:
                self.click(path, f"Read {PAGES[path][0]}")
            self.view(path)
        return path


def _visit(rng: random.Random, visitor: Visitor, at: datetime) -> list[dict]:
    """One session: landing from a source, a few pages, the sign-up funnel for newcomers who
    look at pricing, logins and purchases for customers."""
    s = _Session(rng, visitor, at)
    referrer, query, _, landings = rng.choices(SOURCES, _SOURCE_WEIGHTS)[0]
    views = min(1 + int(rng.expovariate(1 / 2.5)), 12)
    last = s.browse(rng.choice(landings), views, referrer=referrer, query=query)
    if visitor.kind == "bot":
        return s.events
    if visitor.user_id is not None:
        _customer(s, visitor.user_id)
    elif visitor.kind == "new" and "/pricing" in s.seen:
        _funnel(s, last)
    return s.events


def _funnel(s: _Session, last: str) -> None:
    """pricing -> signup_started -> signup_completed, each step losing people; a completed
    sign-up identifies the visitor and sometimes buys at once."""
    rng = s.rng
    if rng.random() >= 0.22:
        return
    plan = rng.choices(list(PLANS), (60, 30, 10))[0]
    s.click(last, "Start free trial")
    s.view("/signup")
    s.wait(5)
    s.emit("signup_started", "/signup", {"plan": plan})
    if rng.random() >= 0.55:
        return
    s.wait(45)
    s.emit("signup_completed", "/signup", {"plan": plan,
                                           "method": rng.choice(("email", "google", "github"))})
    s.identify(f"user_{_hex(rng, 32)}", "/signup", {"plan": plan})
    if rng.random() < 0.35:
        s.purchase("/account/billing", plan)
    s.wait(20)
    s.view("/docs/getting-started")


def _customer(s: _Session, user_id: str) -> None:
    """An existing user on a fresh anonymous id: logging in links it to the user."""
    rng = s.rng
    if rng.random() < 0.6:  # logs in this visit (else stays anonymous)
        s.wait(10)
        s.view("/login")
        s.wait(15)
        s.identify(user_id, "/login", {})
        if rng.random() < 0.25:
            s.view("/account/billing")
            s.purchase("/account/billing", rng.choices(list(PLANS), (50, 35, 15))[0])


def _pick_visitor(rng: random.Random, readers: list[Visitor],
                  customers: list[Visitor]) -> Visitor:
    """12% of visits are from customers, 20% from returning readers, a few from crawlers, the
    rest from newcomers."""
    kind = rng.random()
    return (rng.choice(customers) if kind < 0.12 else rng.choice(readers) if kind < 0.32
            else _new_visitor(rng, "bot") if kind < 0.32 + BOT_SHARE else _new_visitor(rng))


def _sessions_in(rng: random.Random, expected: float) -> int:
    return max(0, round(rng.gauss(expected, math.sqrt(expected))))


def _hours(start: datetime, end: datetime) -> Iterable[datetime]:
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        yield hour
        hour += timedelta(hours=1)


def traffic(*, seed: int, tz: tzinfo, start: datetime,
            end: datetime) -> list[tuple[Client, list[dict]]]:
    """Events of [start, end) as (client, events) batches of at most ``MAX_BATCH``: one visitor
    per batch, so ``$identify`` and the anonymous events it merges are stored together."""
    readers, customers = population(seed)
    by_visitor: dict[str, tuple[Client, list[dict]]] = {}
    until = end.isoformat(timespec="milliseconds")  # same format as the events' timestamps
    for hour in _hours(start, end):
        rng = _rng(seed, f"{hour.timestamp():.0f}")
        for _ in range(_sessions_in(rng, PEAK_SESSIONS * load(hour, tz))):
            at = hour + timedelta(milliseconds=rng.randrange(3_600_000))
            visitor = _pick_visitor(rng, readers, customers)
            events = _visit(rng, visitor, at)
            if at < start:
                continue
            kept = [e for e in events if e["timestamp"] < until]
            if kept:
                by_visitor.setdefault(visitor.anon_id, (visitor.client, []))[1].extend(kept)
    return [(client, events[i:i + MAX_BATCH]) for client, events in by_visitor.values()
            for i in range(0, len(events), MAX_BATCH)]


class LiveTraffic:
    """A handful of sessions in progress; each tick sends the next few of their events stamped
    now, and a finished session is replaced by a new one."""

    def __init__(self, seed: int, sessions: int = 6):
        self.seed = seed
        self.rng = _rng(seed, "live")
        self.readers, self.customers = population(seed)
        self.started = 0
        self.live = [self._start() for _ in range(sessions)]

    def _start(self) -> tuple[int, Client, list[dict]]:
        visitor = _pick_visitor(self.rng, self.readers, self.customers)
        self.started += 1
        return self.started, visitor.client, _visit(self.rng, visitor, datetime.now(UTC))

    def tick(self, now: datetime, count: int) -> list[tuple[Client, list[dict]]]:
        """``count`` events as (client, events) batches, one per session."""
        batches: dict[int, tuple[Client, list[dict]]] = {}
        for n in range(count):
            slot = self.rng.randrange(len(self.live))
            number, client, pending = self.live[slot]
            event = dict(pending.pop(0), timestamp=(
                now - timedelta(seconds=(count - 1 - n) / count)).isoformat())
            batches.setdefault(number, (client, []))[1].append(event)
            if not pending:
                self.live[slot] = self._start()
        return list(batches.values())


# -- metrics --------------------------------------------------------------------------------------
HOSTS = ("web-01", "web-02", "web-03", "db-01")
SERIES = (*[("cpu", h) for h in HOSTS], *[("memory", h) for h in HOSTS],
          *[(name, h) for name in ("http.latency_ms", "http.errors") for h in HOSTS[:3]],
          ("queue.depth", "db-01"))
_M64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64: a fast, well-spread hash that is the same in every process (``hash`` is not)."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


class _Noise:
    """Random draws fixed by (seed, series, minute): no state carried from minute to minute."""

    def __init__(self, seed: int, series: int, minute: int):
        self.state = _mix(_mix(_mix(seed & _M64) ^ series) ^ (minute & _M64))

    def unit(self) -> float:
        self.state = _mix(self.state)
        return (self.state >> 11) / 2**53

    def normal(self) -> float:
        return math.sqrt(-2 * math.log(1 - self.unit())) * math.cos(2 * math.pi * self.unit())

    def poisson(self, mean: float) -> int:
        u, k, p = self.unit(), 0, math.exp(-mean)
        total = p
        while u > total and k < 10_000:
            k += 1
            p *= mean / k
            total += p
        return k


@dataclass(frozen=True)
class Incident:
    kind: str  # "latency": a slow, failing web host; "backlog": a queue piling up
    host: str
    start: datetime
    end: datetime

    def level(self, moment: datetime) -> float:
        """0 outside; inside, how bad it is (0..1): ramps up, holds, recovers."""
        if not self.start <= moment < self.end:
            return 0.0
        total = (self.end - self.start).total_seconds()
        t = (moment - self.start).total_seconds()
        if self.kind == "backlog":  # piles up for two thirds of the time, drains in the rest
            return t / (total * 2 / 3) if t < total * 2 / 3 else (total - t) / (total / 3)
        return min(1.0, t / 300, (total - t) / 600)


def incidents(tz: tzinfo, start: datetime, end: datetime) -> list[Incident]:
    """A latency spike with an error burst on web-02 one afternoon (14:20 local, 45 min) and a
    queue backlog on db-01 one night (02:40, 75 min), on days inside the window."""
    found = []
    for kind, host, at, minutes in (("latency", "web-02", time(14, 20), 45),
                                    ("backlog", "db-01", time(2, 40), 75)):
        day, fits = start.astimezone(tz).date(), []
        while day <= end.astimezone(tz).date():
            begin = datetime.combine(day, at, tz).astimezone(UTC)
            if start <= begin and begin + timedelta(minutes=minutes) <= end:
                fits.append(Incident(kind, host, begin, begin + timedelta(minutes=minutes)))
            day += timedelta(days=1)
        if fits:
            found.append(fits[-2] if kind == "latency" and len(fits) > 1 else fits[len(fits) // 2])
    return found


def _value(seed: int, index: int, minute: int, busy: float, hit: float, spill: float) -> float:
    """One series at one minute: a base following the traffic, slow wobble, noise, incidents."""
    name, host = SERIES[index]
    rnd = _Noise(seed, index, minute)
    wobble = 0.5 * math.sin(minute / 97 + index) + 0.3 * math.sin(minute / 23 + 2 * index)
    if name == "cpu":
        base = 18 + 30 * busy if host == "db-01" else 10 + 50 * busy
        return round(min(99.5, max(1.0, base + 3 * wobble + 2 * rnd.normal() + 35 * hit)), 2)
    if name == "memory":
        if host == "db-01":
            return round(71 + 4 * busy + 0.3 * rnd.normal(), 2)
        leak = (minute + 700 * index) % 2160 / 2160  # grows for 36 h until a deploy resets it
        return round(38 + 34 * leak + 0.5 * rnd.normal(), 2)
    if name == "http.latency_ms":
        value = (60 + 110 * busy) * math.exp(0.25 * rnd.normal()) * (1 + 6 * hit + 0.3 * spill)
        return round(value * (2 if rnd.unit() < 0.004 else 1), 1)
    if name == "http.errors":
        return float(rnd.poisson(0.2 + 1.5 * busy + 70 * hit))
    return float(rnd.poisson(2 + 8 * busy) + round(1800 * hit))  # queue.depth


def points_at(seed: int, tz: tzinfo, moment: datetime, found: Iterable[Incident] = ()) -> list:
    """One point per series at ``moment``."""
    minute = int(moment.timestamp() // 60)
    busy = load(moment, tz)
    levels = {(i.kind, i.host): i.level(moment) for i in found}
    spill = max((v for (kind, _), v in levels.items() if kind == "latency"), default=0.0)
    stamp = moment.isoformat()
    return [{"name": name, "tags": {"host": host}, "timestamp": stamp,
             "value": _value(seed, index, minute, busy,
                             max((v for (_, h), v in levels.items() if h == host), default=0.0),
                             spill)}
            for index, (name, host) in enumerate(SERIES)]


def metric_points(*, seed: int, tz: tzinfo, start: datetime, end: datetime) -> list[dict]:
    """Every series every minute of [start, end), with the window's incidents."""
    found = incidents(tz, start, end)
    moment = start.replace(second=0, microsecond=0)
    if moment < start:
        moment += timedelta(minutes=1)
    items: list[dict] = []
    while moment < end:
        items.extend(points_at(seed, tz, moment, found))
        moment += timedelta(minutes=1)
    return items


# -- writing through the real write path ----------------------------------------------------------
def ingest_key_for(project) -> services.IngestKey | None:
    """The project's ingest key for the write path, without the rate limit: the demo must not
    throttle itself."""
    key = selectors.ingest_key_of(project)
    return None if key is None else replace(key, rate_limit_per_s=0)


async def send(key: services.IngestKey, events: list[tuple[Client, list[dict]]],
               points: list[dict], *, concurrency: int = 4) -> tuple[int, int, list]:
    """Store (client, events) batches and points, a few calls at a time (the pool has a few
    connections); returns the events and points stored and the rejections (none expected)."""
    gate = asyncio.Semaphore(concurrency)
    rejected: list = []

    async def stored(call, **arguments) -> int:
        async with gate:
            result = await call(key=key, **arguments)
        rejected.extend(result.rejected)
        return result.stored

    chunks = [points[i:i + MAX_BATCH] for i in range(0, len(points), MAX_BATCH)]
    counts = await asyncio.gather(
        *(stored(services.record_points, items=chunk) for chunk in chunks),
        *(stored(services.ingest_events, items=items, sent_at=None, client=client)
          for client, items in events))
    return sum(counts[len(chunks):]), sum(counts[:len(chunks)]), rejected


async def close_pool() -> None:
    """The write path's pool belongs to this event loop; close it before the loop ends."""
    await (await db.pool()).close()


async def send_all(key: services.IngestKey, events: list[tuple[Client, list[dict]]],
                   points: list[dict]) -> tuple[int, int, list]:
    try:
        return await send(key, events, points)
    finally:
        await close_pool()
