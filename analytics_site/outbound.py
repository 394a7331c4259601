"""Outbound HTTP to URLs that users supply (webhooks, scrape targets): the one place that decides
where the server may connect, and the one client that connects there.

A URL is vetted once: http(s) with a host, resolved once, and every address it resolves to must
be globally routable, or inside the caller's allow-list of networks that an operator sets. An
IPv6 address that carries an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) is judged by
that IPv4 address too, since the kernel or a relay delivers it there. The request then connects
to the vetted address itself, with the original ``Host`` header and, over TLS, the host name for
SNI and the certificate check: a second DNS answer (rebinding) never gets a say. A redirect is
an answer, never followed; a response is read up to a size cap and within the timeout.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import unquote

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .errors import ApiError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # local use (RFC 8215): never public
_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible addresses


class URLRefused(ApiError):
    """A URL the server will not request: not http(s), no host, a host that does not resolve,
    or an address that is neither public nor allowed."""

    status = 400
    code = "URL_REFUSED"


class RequestFailed(Exception):
    """The request gave no usable answer: no connection, a timeout, a broken response, or a
    redirect (then ``status`` and ``location`` say where it pointed)."""

    def __init__(self, message: str, *, status: int | None = None, location: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.location = location


@dataclass(frozen=True)
class Policy:
    """Who calls out: the setting that lists the networks they may reach although not public,
    the error (with its code) they refuse with, and what to call them in that error."""

    setting: str
    refused: type[URLRefused] = URLRefused
    purpose: str = "outbound requests"

    def allowed(self) -> list[Network]:
        networks = []
        for entry in getattr(settings, self.setting, None) or []:
            try:
                networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
            except ValueError:
                raise ImproperlyConfigured(
                    f"{self.setting}: {entry!r} is not a network (e.g. 10.0.0.0/8).") from None
        return networks


@dataclass(frozen=True)
class Target:
    """A vetted URL: the URL with its host replaced by the address to connect to, and what the
    server must still be told of the original host."""

    url: httpx.URL
    host_header: str
    extensions: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    content: bytes
    truncated: bool  # the body went on past max_bytes; content holds the first max_bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def _public(address: Address) -> bool:
    return address.is_global and not (address.is_multicast or address.is_unspecified
                                      or address.is_reserved)


def _embedded(address: ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]] | None:
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped:
        return "IPv4-mapped", [address.ipv4_mapped]
    if address in _NAT64 or address in _NAT64_LOCAL:
        return "NAT64", [low32]
    if address.sixtofour:
        return "6to4", [address.sixtofour]
    if address.teredo:
        return "Teredo", list(address.teredo)
    if address in _COMPATIBLE and int(address) > 1:
        return "IPv4-compatible", [low32]
    return None


def _refusal(address: Address) -> str | None:
    """How to name ``address`` when it is not public (with the IPv4 address inside it, if
    any), or None when it is."""
    if isinstance(address, ipaddress.IPv4Address):
        return None if _public(address) else str(address)
    embedding = _embedded(address)
    if embedding is None:
        return None if _public(address) else str(address)
    kind, inner = embedding
    shown = f"{address} ({kind} of {', '.join(map(str, inner))})"
    if not all(_public(v4) for v4 in inner):
        return shown
    if address.ipv4_mapped or address in _NAT64:
        return None  # delivered to the public IPv4 address inside
    return None if _public(address) else shown


def _allowed(address: Address, networks: list[Network]) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return any(address in net or (mapped is not None and mapped in net) for net in networks)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.split("%")[0])  # a zone id says nothing of the address
    except ValueError:
        return None


def _resolve(host: str, port: int, policy: Policy) -> list[Address]:
    """The one DNS resolution of a request."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        raise policy.refused(f"The host {host!r} does not resolve.",
                             details={"url": [str(exc)]}) from None
    found: list[Address] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            if address not in found:
                found.append(address)
    if not found:
        raise policy.refused(f"The host {host!r} has no IP address.",
                             details={"url": ["No IP address."]})
    return found


def vet(url: str, *, policy: Policy) -> Target:
    """Raise ``policy.refused`` unless ``url`` is http(s) with a host whose every address is
    public or allowed; return where to connect."""
    try:
        parsed = httpx.URL(url or "")
    except (httpx.InvalidURL, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise policy.refused("The URL must be http:// or https:// with a host.",
                             details={"url": ["An http(s) URL with a host."]})
    host = unquote(parsed.raw_host.decode("ascii"))  # IDNA-encoded; a zone id unquoted
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    literal = _literal(host)
    addresses = [literal] if literal is not None else _resolve(host, port, policy)
    allowed = policy.allowed()
    for address in addresses:
        shown = _refusal(address)
        if shown is not None and not _allowed(address, allowed):
            where = f"{shown} is" if literal is not None else f"{parsed.host} resolves to {shown},"
            raise policy.refused(
                f"{where} an internal address: {policy.purpose} may only reach public "
                "addresses, unless an operator allows its network in "
                f"{policy.setting} (comma-separated CIDRs).",
                details={"url": [f"Internal address {shown}."]})
    address = addresses[0]
    connect_to = getattr(address, "ipv4_mapped", None) or address
    # TLS checks the certificate against the name (an address literal checks itself).
    extensions = {"sni_hostname": host} if parsed.scheme == "https" and literal is None else {}
    return Target(url=parsed.copy_with(host=str(connect_to)),
                  host_header=parsed.netloc.decode("ascii"), extensions=extensions)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The CA bundle httpx would use (SSL_CERT_FILE / SSL_CERT_DIR, else certifi), built once."""
    return httpx.create_ssl_context(trust_env=True)


def _client_options(timeout: float) -> dict:
    # trust_env=False: no proxy from the environment, which would resolve the host again.
    return {"verify": _tls_context(), "trust_env": False, "follow_redirects": False,
            "timeout": timeout}


def _redirect(response: httpx.Response) -> None:
    if 300 <= response.status_code < 400:
        location = response.headers.get("location", "")[:500]
        raise RequestFailed(f"Redirect: HTTP {response.status_code} to "
                            f"{location or '(no Location)'}; redirects are not followed.",
                            status=response.status_code, location=location)


def _failed(exc: Exception) -> RequestFailed:
    return RequestFailed(f"{type(exc).__name__}: {exc}"[:1000])


def _too_slow(timeout: float) -> RequestFailed:
    return RequestFailed(f"Timeout: no complete answer within {timeout:g} s")


def request(method: str, url: str, *, policy: Policy, timeout: float, max_bytes: int,
            headers: dict[str, str] | None = None, content: bytes | None = None) -> Answer:
    """Vet ``url`` and send one request to the vetted address; ``timeout`` bounds each step
    (connect, send, each read) and, checked between chunks, the reading of the body."""
    target = vet(url, policy=policy)
    deadline = time.monotonic() + timeout
    try:
        with httpx.Client(**_client_options(timeout)) as client, client.stream(
                method, target.url, content=content, extensions=target.extensions,
                headers={**(headers or {}), "Host": target.host_header}) as response:
            _redirect(response)
            body, truncated = bytearray(), False
            for chunk in response.iter_bytes():
                if time.monotonic() > deadline:
                    raise _too_slow(timeout)
                body += chunk
                if len(body) > max_bytes:
                    truncated = True
                    break
    except httpx.HTTPError as exc:
        raise _failed(exc) from None
    return Answer(response.status_code, dict(response.headers), bytes(body[:max_bytes]),
                  truncated)


async def request_async(method: str, url: str, *, policy: Policy, timeout: float,
                        max_bytes: int, headers: dict[str, str] | None = None,
                        content: bytes | None = None) -> Answer:
    """Vet ``url`` (resolving in a thread) and send one request to the vetted address; the
    whole exchange, DNS included, is bounded by ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            target = await asyncio.to_thread(vet, url, policy=policy)
            async with httpx.AsyncClient(**_client_options(timeout)) as client, client.stream(
                    method, target.url, content=content, extensions=target.extensions,
                    headers={**(headers or {}), "Host": target.host_header}) as response:
                _redirect(response)
                body, truncated = bytearray(), False
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        truncated = True
                        break
    except TimeoutError:
        raise _too_slow(timeout) from None
    except httpx.HTTPError as exc:
        raise _failed(exc) from None
    return Answer(response.status_code, dict(response.headers), bytes(body[:max_bytes]),
                  truncated)
