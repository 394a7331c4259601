"""The signed link of a run: its page and its files without a login, for that run only.

The token signs the run's id and its ``link_key`` (Django's signing, with the secret key and a
salt of its own) and expires after ``LINK_MAX_AGE_S``; giving the run a new key revokes every
link made before. A link names one run: nothing in it reaches another run or the project."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core import signing

from .models import Run

SALT = "reports.run-link"
LINK_MAX_AGE_S = 30 * 86400


def new_key() -> str:
    return secrets.token_hex(16)


def token_of(run: Run) -> str:
    return signing.dumps({"r": run.pk, "k": run.link_key}, salt=SALT, compress=True)


def url_of(run: Run) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}/r/{token_of(run)}/"


def run_of(token: str, *, max_age: int = LINK_MAX_AGE_S) -> Run | None:
    """The run a valid, unexpired, unrevoked token names; None otherwise."""
    if not isinstance(token, str) or len(token) > 300:
        return None
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(data, dict) or not isinstance(data.get("r"), int) \
            or not isinstance(data.get("k"), str) or not data["k"]:
        return None
    return (Run.objects.select_related("report__project")
            .filter(pk=data["r"], link_key=data["k"]).first())
