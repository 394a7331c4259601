"""Campaigns and channels of an event, decided at ingest: the UTM fields from the page URL (or
the event's properties) and the channel they and the referrer put the visit in.

The channel rules follow Google Analytics 4's published default channel grouping, folded into
seven channels, first match wins:

1. ``email``: the medium is ``email``, ``e-mail``, ``e_mail`` or ``newsletter``, or the source
   is one of those words;
2. ``paid_search``: a paid medium (``cpc``, ``ppc``, ``paid…``, ``retargeting``) with a search
   engine as source or referrer, or no source at all;
3. ``social``: the medium is ``social``, ``social-network``, ``social-media``, ``sm`` or a paid
   medium from a social network; or the source or referrer is a social network;
4. ``organic_search``: the medium is ``organic``, or the source or referrer is a search engine;
5. ``referral``: the medium is ``referral``, or the referrer is another site;
6. ``direct``: a page view with neither UTM fields nor a referrer from another site;
7. ``other``: UTM fields matching none of the above.

Navigation inside the site (a referrer on the page's own host) and events that are not page
views without UTM fields or an outside referrer get no channel: they are not an arrival.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
CHANNELS = ("direct", "organic_search", "paid_search", "social", "referral", "email", "other")
MAX_UTM = 200

SEARCH_ENGINES = ("google", "bing", "duckduckgo", "yahoo", "baidu", "yandex", "ecosia",
                  "qwant", "startpage", "search.brave.com", "naver", "seznam", "ask.com",
                  "aol", "sogou", "so.com", "perplexity", "kagi.com")
SOCIAL_NETWORKS = ("facebook", "fb.com", "fb.me", "instagram", "t.co", "twitter", "x.com",
                   "linkedin", "lnkd.in", "reddit", "youtube", "youtu.be", "tiktok",
                   "pinterest", "news.ycombinator.com", "mastodon", "threads.net", "bsky.app",
                   "whatsapp", "telegram", "t.me", "discord", "vk.com", "weibo", "quora",
                   "tumblr", "snapchat", "messenger")
_EMAIL = re.compile(r"^(e[-_]?mail|newsletter)$")
_PAID = re.compile(r"^(cpc|ppc|cpm|cpv|cpa|paid.*|retargeting)$")
_SOCIAL_MEDIUM = re.compile(r"^(social|social[-_ ]?network|social[-_ ]?media|sm)$")


def _matches(host: str | None, names: tuple[str, ...]) -> bool:
    if not host:
        return False
    labels = host.lower()
    return any(labels == n or labels.startswith(n + ".") or labels.endswith("." + n)
               or f".{n}." in f".{labels}." for n in names)


def utm_of(page_url: str | None, properties: dict) -> dict[str, str | None]:
    """The UTM fields of the page URL's query, else of the properties (``utm_source`` or
    PostHog's ``$utm_source``); each at most 200 characters, lower-case source and medium."""
    found: dict[str, str | None] = dict.fromkeys(UTM_FIELDS)
    if page_url and "utm_" in page_url:
        try:
            query = urlsplit(page_url).query
        except ValueError:
            query = ""
        for key, value in parse_qsl(query):
            if key in found and value and found[key] is None:
                found[key] = value[:MAX_UTM]
    if properties:
        for key in UTM_FIELDS:
            if found[key] is None:
                value = properties.get(key)
                if value is None:
                    value = properties.get("$" + key)
                if isinstance(value, str) and value:
                    found[key] = value[:MAX_UTM]
    for key in ("utm_source", "utm_medium"):
        if found[key] is not None:
            found[key] = found[key].strip().lower() or None
    return found


@lru_cache(maxsize=4096)
def channel_of(source: str | None, medium: str | None, referrer_host: str | None,
               pageview: bool) -> str | None:
    """The channel (one of CHANNELS) of an arrival, or None for a move inside the site.
    ``referrer_host`` is the referrer's host when it is another site."""
    if source is None and medium is None:
        if referrer_host is None:
            return "direct" if pageview else None
        if _matches(referrer_host, SEARCH_ENGINES):
            return "organic_search"
        if _matches(referrer_host, SOCIAL_NETWORKS):
            return "social"
        return "referral"
    medium = medium or ""
    source = source or ""
    if _EMAIL.match(medium) or _EMAIL.match(source):
        return "email"
    search = _matches(source, SEARCH_ENGINES) or _matches(referrer_host, SEARCH_ENGINES)
    social = _matches(source, SOCIAL_NETWORKS) or _matches(referrer_host, SOCIAL_NETWORKS)
    if _PAID.match(medium):
        if search or not source:
            return "paid_search"
        if social:
            return "social"
        return "other"
    if _SOCIAL_MEDIUM.match(medium) or social:
        return "social"
    if medium == "organic" or search:
        return "organic_search"
    if medium == "referral" or referrer_host is not None:
        return "referral"
    return "other"


def external_host(page_url: str | None, referrer_host: str | None) -> str | None:
    """The referrer's host when it is not the page's own (``www.`` aside)."""
    if not referrer_host:
        return None
    if page_url:
        try:
            own = urlsplit(page_url).hostname or ""
        except ValueError:
            own = ""
        if own.removeprefix("www.") == referrer_host:
            return None
    return referrer_host
