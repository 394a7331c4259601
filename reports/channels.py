"""A run's summary and link to the alerts' webhook and Slack-compatible channels, through the
site's outbound guard (``analytics_site.outbound``: vetted address, no redirects). A webhook gets
the JSON a receiver of alert notifications already reads (``kind`` "report"), signed like them:
``X-Signature`` is the hex HMAC-SHA256 of the body with the channel's secret."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from analytics_site import outbound

POLICY = outbound.Policy(setting="WEBHOOK_ALLOWED_NETWORKS", purpose="report webhooks")
RESPONSE_MAX_BYTES = 64 * 1024


@dataclass
class Result:
    ok: bool
    code: int | None = None
    error: str = ""


def post(channel, *, run_id: int, summary: dict, text: str, url: str) -> Result:
    headers = {"Content-Type": "application/json", "User-Agent": "analytics-reports/1",
               "X-Notification-Id": f"report-run-{run_id}-{channel.pk}"}
    if channel.kind == "slack":
        body = json.dumps({"text": text}).encode()
    else:
        body = json.dumps({"kind": "report", "run": run_id, "report": summary,
                           "message": text, "url": url}, separators=(",", ":")).encode()
        if channel.secret:
            headers["X-Signature"] = hmac.new(channel.secret.encode(), body,
                                              hashlib.sha256).hexdigest()
    try:
        answer = outbound.request("POST", channel.url, policy=POLICY, content=body,
                                  headers=headers, timeout=channel.timeout_s,
                                  max_bytes=RESPONSE_MAX_BYTES)
    except outbound.URLRefused as exc:
        return Result(False, None, exc.message)
    except outbound.RequestFailed as exc:
        return Result(False, exc.status, exc.message[:1000])
    if 200 <= answer.status < 300:
        return Result(True, answer.status)
    return Result(False, answer.status, answer.text[:500])
