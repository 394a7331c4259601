"""What the server adds to an event: the visitor's browser, OS and device type from the user
agent, whether it is a known crawler, the country of the IP, the referrer's domain and the page
path, and a privacy-preserving visitor hash.

No raw IP is stored: the country is looked up offline (``iptocc``: the Regional Internet
Registries' allocations, shipped inside the package, refreshed with each release) while the
request is handled, and ``ip_hash`` is SHA-256 over a salt that changes every day (and is
deleted after it), the project, the IP and the user agent, so a hash links one visitor's events
within a day and nothing else. Crawlers are recognised by ``crawler-user-agents`` (a maintained
list of ~1,500 bot patterns, shipped inside the package) and ua-parser's spider family.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import crawleruseragents
import iptocc
from ua_parser import parse as parse_ua


@dataclass(frozen=True)
class Agent:
    browser: str | None
    os: str | None
    device_type: str | None
    bot: bool = False


_TABLETS = ("ipad", "tablet", "kindle", "silk", "playbook", "sm-t", "nexus 7", "nexus 10")
# Beyond the list: headless browsers and HTTP libraries, which it leaves out on purpose.
_BOTS = ("headlesschrome", "lighthouse", "python-requests", "python-httpx", "go-http-client",
         "curl/", "wget/")


@lru_cache(maxsize=4096)
def agent(user_agent: str) -> Agent:
    if not user_agent:
        return Agent(None, None, None)
    lowered = user_agent.lower()
    result = parse_ua(user_agent[:1000])
    browser = result.user_agent.family if result.user_agent else None
    os_name = result.os.family if result.os else None
    device = result.device.family if result.device else None
    bot = (device == "Spider" or any(marker in lowered for marker in _BOTS)
           or crawleruseragents.is_crawler(user_agent[:1000]))
    if bot:
        kind = "bot"
    elif any(marker in lowered for marker in _TABLETS) or (
            os_name == "Android" and "mobile" not in lowered):
        kind = "tablet"
    elif "mobi" in lowered or os_name in {"iOS", "Android", "Windows Phone"}:
        kind = "mobile"
    else:
        kind = "desktop"
    return Agent(None if browser == "Other" else browser, None if os_name == "Other" else os_name,
                 kind, bot)


def warm() -> None:
    """Compile ua-parser's patterns now (0.3 s here), not in the first request that has a user
    agent to read: the web processes call it before they listen."""
    agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0 Safari/537.36")


@lru_cache(maxsize=65536)
def country_of(ip: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code of the country an IP address is allocated to, or None (private,
    reserved, documentation and unallocated addresses, or not an address)."""
    if not ip or len(ip) > 64:
        return None
    try:
        return iptocc.country_code(ip)
    except (ValueError, TypeError):
        return None


def domain_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def path_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return None


def visitor_hash(*, salt: str, project_id: int, ip: str, user_agent: str) -> str:
    material = f"{salt}|{project_id}|{ip}|{user_agent}".encode()
    return hashlib.sha256(material).hexdigest()[:32]
