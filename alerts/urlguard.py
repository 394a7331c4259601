"""Where a webhook may go: the site's outbound guard (``analytics_site.outbound``) with the
networks an operator opens in ``WEBHOOK_ALLOWED_NETWORKS`` (e.g. an internal chat server).
Checked when a channel is saved, and again by every delivery, which then connects to the address
it vetted (DNS may have changed since the save)."""

from __future__ import annotations

from analytics_site.outbound import Policy, URLRefused, vet


class UnsafeURL(URLRefused):
    status = 400
    code = "WEBHOOK_URL_REFUSED"


WEBHOOKS = Policy(setting="WEBHOOK_ALLOWED_NETWORKS", refused=UnsafeURL, purpose="webhooks")


def check_url(url: str) -> None:
    """Raise UnsafeURL unless ``url`` is http(s) and every address its host resolves to is
    public (or allowed)."""
    vet(url, policy=WEBHOOKS)
