"""``WS /ws/ingest/``: the ingestion batches over one WebSocket, for high-rate senders.

The key comes with the handshake (``X-API-Key`` header, or ``?api_key=`` where a browser cannot
set headers); a browser's Origin is checked against the key's allow-list. Then each message is one
batch, a JSON object (text frame, or gzip-compressed JSON in a binary frame):

    {"id": 17, "type": "events", "events": [...], "sent_at": "..."}
    {"id": 18, "type": "metrics", "points": [...]}

and each is answered, in order, with the same result as the REST endpoints plus its ``id`` and
status: ``{"id": 17, "status": 202, "accepted": N, "rejected": [...]}`` or ``{"id": 18, "status":
429, "error", "code", "details": {"retry_after": 1, ...}}``. A bad key or origin is answered once
and the socket closed with code 4401 / 4403. A message over 1 MiB on the wire closes the socket
(daphne's WebSocket limit); a compressed one that inflates past 1 MiB is answered with
413 and the socket stays open. Senders may pipeline: send several batches, then read
the answers. The key is re-read every few seconds, so revoking it stops the socket too.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qs

import orjson
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from analytics_site.errors import ApiError, error_body

from .. import services
from . import intake

RECHECK_KEY_S = 5.0
logger = logging.getLogger(__name__)


def _request_id(value):
    """The sender's id, echoed in the answer: a number or a short string (anything else could
    not be echoed safely — a 300-deep list cannot even be encoded)."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)
                         and abs(value) < 2**53):
        return value
    if isinstance(value, str) and len(value) <= 200:
        return value
    raise ApiError('"id" must be a number or a string of at most 200 characters.',
                   code="VALIDATION_ERROR", details={"id": ["A number or a short string."]})


class IngestConsumer(AsyncWebsocketConsumer):
    key: services.IngestKey | None = None

    async def connect(self) -> None:
        headers = {name.decode("latin1").lower(): value.decode("latin1")
                   for name, value in self.scope.get("headers", [])}
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        self.raw_key = headers.get("x-api-key") or (query.get("api_key") or [None])[0]
        self.origin = headers.get("origin")
        client = self.scope.get("client") or ("", 0)
        self.client = services.Client(ip=client[0] or "",
                                      user_agent=headers.get("user-agent", "")[:1000])
        await self.accept()
        await self._authorize()

    async def _authorize(self) -> bool:
        try:
            self.key = await intake.authorize(self.raw_key, self.origin)
        except ApiError as exc:
            self.key = None
            await self._answer(None, exc.status,
                               error_body(exc.message, exc.code, exc.details))
            if exc.status in (401, 403):
                await self.close(code=4000 + exc.status)
            return False
        self.checked_at = time.monotonic()
        return True

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """Every message is answered, and no message closes the socket: a sender that
        pipelines must get one answer per batch, in order, whatever a batch holds."""
        if self.key is None:
            return
        request_id = None
        try:
            payload = intake.parse_json(self._body(text_data, bytes_data))
            request_id = _request_id(payload.get("id"))
            kind = payload.get("type")
            if not isinstance(kind, str) or kind not in intake.KINDS:
                raise ApiError('"type" must be "events" or "metrics".', code="VALIDATION_ERROR",
                               details={"type": ["Must be events or metrics."]})
            if time.monotonic() - self.checked_at > RECHECK_KEY_S and not await self._authorize():
                return
            result = await intake.ingest(key=self.key, kind=kind, payload=payload,
                                         client=self.client)
        except ApiError as exc:
            await self._answer(request_id, exc.status,
                               error_body(exc.message, exc.code, exc.details))
            return
        except Exception:
            logger.exception("ingest socket: unexpected error")
            await self._answer(request_id, 500, error_body("Internal error.", "INTERNAL_ERROR"))
            return
        await self._answer(request_id, 202, result.as_dict())

    @staticmethod
    def _body(text_data: str | None, bytes_data: bytes | None) -> bytes:
        limit = settings.INGEST_MAX_BODY_BYTES
        if text_data is not None:
            body = text_data.encode()
            if len(body) > limit:
                raise intake.too_big(limit)
            return body
        if len(bytes_data) > limit:
            raise intake.too_big(limit)
        try:
            return intake.inflate(bytes_data, limit, wbits=47)  # gzip or zlib
        except ApiError as exc:
            if exc.code != "INVALID_BODY":
                raise
            raise ApiError("A binary message must be gzip-compressed JSON.",
                           code="INVALID_BODY") from None

    async def _answer(self, request_id, status: int, body: dict) -> None:
        await self.send(text_data=orjson.dumps({"id": request_id, "status": status, **body})
                        .decode())
