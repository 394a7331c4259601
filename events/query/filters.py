"""The filters every product report takes: event columns, event properties, person properties,
the UTM fields, country, browser, OS and device, and whether bots count.

Text form (the API's repeated ``filter`` parameter, the pages' URLs): ``key:value`` (equals),
``key:!value`` (differs), ``key:~value`` (contains, any case). Keys: the columns in ``COLUMNS``,
``prop.<name>`` for an event property, ``person.<name>`` for a property a person was given by
``identify`` (``$set``). Compiled with psycopg's ``sql`` module only: values are literals, keys
are checked against the list or quoted as JSON keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from psycopg import sql

from analytics_site.errors import ValidationFailed

COLUMNS = {"event": "event", "path": "path", "page_url": "page_url",
           "referrer": "referrer_domain", "browser": "browser", "os": "os",
           "device": "device_type", "country": "country", "channel": "channel",
           "utm_source": "utm_source", "utm_medium": "utm_medium",
           "utm_campaign": "utm_campaign", "utm_term": "utm_term", "utm_content": "utm_content",
           "session_id": "session_id", "distinct_id": "distinct_id"}
# The rollup dimension of each column that has one (a breakdown's or a filter's).
DIMENSIONS = {"event": "event", "path": "path", "referrer": "referrer", "browser": "browser",
              "os": "os", "device": "device", "country": "country", "channel": "channel",
              "utm_source": "utm_source", "utm_medium": "utm_medium",
              "utm_campaign": "utm_campaign", "utm_term": "utm_term",
              "utm_content": "utm_content"}
MAX_FILTERS = 8
MAX_VALUE = 110
_KEY = re.compile(r"^(?:prop\.|person\.)?[A-Za-z_$][A-Za-z0-9_$.:/-]{0,99}$")
OPS = {"!": "ne", "~": "contains"}
MARKS = {"eq": "", "ne": "!", "contains": "~"}


@dataclass(frozen=True)
class Filter:
    key: str
    op: str  # eq, ne, contains
    value: str

    def text(self) -> str:
        return f"{self.key}:{MARKS[self.op]}{self.value}"


@dataclass(frozen=True)
class Filters:
    items: tuple[Filter, ...] = ()
    bots: bool = False  # include known crawlers (left out by default)

    def spec(self) -> dict:
        """The filters as a cache key sees them."""
        return {"f": sorted(f.text() for f in self.items), "bots": self.bots}

    @property
    def empty(self) -> bool:
        return not self.items

    def with_(self, *extra: Filter) -> Filters:
        return Filters((*self.items, *extra), self.bots)

    def where(self, alias: str = "e") -> list[sql.Composable]:
        """Conditions on events (``alias``) of the project ``%(project)s``."""
        conditions = [] if self.bots else [
            sql.SQL("NOT {}.is_bot").format(sql.Identifier(alias))]
        conditions += [_condition(f, alias) for f in self.items]
        return conditions


NO_FILTERS = Filters()


def parse(values: list[str] | tuple[str, ...] = (), *, bots: bool = False) -> Filters:
    """Filters from their text forms; a bad one is a 400 naming ``filter``."""
    if len(values) > MAX_FILTERS:
        raise ValidationFailed(f"filter: at most {MAX_FILTERS}.",
                               details={"filter": [f"At most {MAX_FILTERS}."]})
    found = []
    for text in values:
        if not isinstance(text, str) or "\x00" in text:
            raise ValidationFailed("filter: must be text without NUL characters.",
                                   details={"filter": ["Invalid text."]})
        key, sep, rest = text.partition(":")
        op = OPS.get(rest[:1], "eq")
        value = rest[1:] if op != "eq" else rest
        if not sep or not _KEY.match(key) or not (key in COLUMNS or "." in key):
            raise ValidationFailed(
                f"filter: {text[:60]!r} is not key:value with a known key (one of "
                f"{', '.join(COLUMNS)}, prop.<name> or person.<name>).",
                details={"filter": [f"Invalid filter {text[:60]!r}."]})
        if len(value) > MAX_VALUE:
            raise ValidationFailed(f"filter: values are at most {MAX_VALUE} characters.",
                                   details={"filter": ["Value too long."]})
        found.append(Filter(key, op, value))
    return Filters(tuple(found), bots)


def text(value: str) -> sql.Composed:
    """A string from a request as a SQL literal. Statements run with parameters, so a ``%`` in
    it is doubled (it would read as a placeholder otherwise)."""
    return sql.SQL("{}").format(sql.Literal(value.replace("%", "%%")))


def _compare(expr: sql.Composable, f: Filter) -> sql.Composed:
    if f.op == "eq":
        return sql.SQL("{} = {}").format(expr, text(f.value))
    if f.op == "ne":
        return sql.SQL("{} IS DISTINCT FROM {}").format(expr, text(f.value))
    return sql.SQL("strpos(lower({}), lower({})) > 0").format(expr, text(f.value))


def _condition(f: Filter, alias: str) -> sql.Composed:
    a = sql.Identifier(alias)
    if f.key in COLUMNS:
        return _compare(sql.SQL("{}.{}").format(a, sql.Identifier(COLUMNS[f.key])), f)
    kind, _, name = f.key.partition(".")
    if kind == "prop":
        return _compare(sql.SQL("({}.properties ->> {})").format(a, text(name)), f)
    # A person property: the ids of the people who have it (their own and the ones linked to
    # them), found once per statement.
    matched = _compare(sql.SQL("(p.properties ->> {})").format(text(name)), f)
    return sql.SQL(
        "{a}.distinct_id = ANY(ARRAY("
        "SELECT p.person_id FROM events_person p WHERE p.project_id = %(project)s AND {m} "
        "UNION ALL SELECT l.distinct_id FROM events_personalias l JOIN events_person p "
        "ON p.project_id = l.project_id AND p.person_id = l.person_id "
        "WHERE l.project_id = %(project)s AND {m}))").format(a=a, m=matched)


def conditions(filters: Filters, alias: str = "e") -> sql.Composable:
    """The filters' conditions joined with AND (``TRUE`` when there are none)."""
    parts = filters.where(alias)
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")


@dataclass(frozen=True)
class Step:
    """A funnel step: an event name and the filters its event must match."""

    event: str
    filters: tuple[Filter, ...] = field(default_factory=tuple)

    def spec(self) -> dict:
        return {"event": self.event, "filters": sorted(f.text() for f in self.filters)}
