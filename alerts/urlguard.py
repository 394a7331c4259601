"""Where a webhook may go. A notification URL is user input that the server requests: one that
resolves to loopback, private, link-local (cloud metadata: 169.254.169.254), multicast, reserved
or unspecified addresses is refused, unless it is inside ``WEBHOOK_ALLOWED_NETWORKS`` (CIDRs an
operator allows, e.g. an internal chat server). Checked when a channel is saved and again before
every delivery (DNS may have changed since)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from analytics_site.errors import ApiError


class UnsafeURL(ApiError):
    status = 400
    code = "WEBHOOK_URL_REFUSED"


def _allowed_networks():
    return [ipaddress.ip_network(n, strict=False)
            for n in getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", [])]


def _internal(address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_private or address.is_link_local
            or address.is_multicast or address.is_reserved or address.is_unspecified)


def check_url(url: str) -> None:
    """Raise UnsafeURL unless ``url`` is http(s) and every address its host resolves to is
    public (or allowed)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("The URL must be http:// or https:// with a host.",
                        details={"url": ["An http(s) URL with a host."]})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise UnsafeURL(f"The host {parts.hostname!r} does not resolve.",
                        details={"url": [str(exc)]}) from None
    allowed = _allowed_networks()
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if _internal(address) and not any(address in net for net in allowed):
            raise UnsafeURL(
                f"{parts.hostname} resolves to {address}, an internal address; webhooks may "
                "not reach internal addresses (an operator can allow networks with "
                "WEBHOOK_ALLOWED_NETWORKS).", details={"url": [f"Internal address {address}."]})
