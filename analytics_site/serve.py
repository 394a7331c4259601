"""The web process: daphne, with the request-body rules it lacks.

Daphne (through Twisted) reads a whole request body — into memory here (Twisted would write one
of 100 kB or more to a temporary file), handed on as one message — before the application sees
the request, whatever its size, and Django checks its own limit only when a
view reads the body. So a client could make every web process read 64 MiB (or an endless chunked
body) for a request that was going to be refused. Here, before any of the body is read:

- a declared ``Content-Length`` over the limit is answered 413 at once and the connection closed;
- a body without a length (chunked) stops being read at the limit: 413, closed;
- an ingestion request with a large body (over ``KEY_FIRST_ABOVE``, or chunked) that names its
  key outside the body (``X-API-Key``, ``Authorization``, ``?p=``) has the key checked first:
  the socket is not read while the key is looked up, and an unknown key is answered 401 without
  reading the body. (A small body arrives with the headers anyway; the view checks its key.)

The limit is the larger of ``INGEST_MAX_BODY_BYTES`` and ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (the
views still apply their own, exactly). Answers are the API's error format.

Twisted's own parsing of form bodies is off: it answered a bare, empty 400 to a multipart body it
could not parse before the application could say anything; Django parses forms itself.

    python -m analytics_site.serve [daphne's options] analytics_site.asgi:application
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
from http import HTTPStatus
from io import BytesIO
from urllib.parse import parse_qs

from daphne import server as daphne_server  # first: it installs Twisted's asyncio reactor
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest

logger = logging.getLogger("analytics.serve")

# Ingestion endpoints whose key may come in a header: (path, whether only X-API-Key counts).
KEY_FIRST_ABOVE = 64 * 1024
HEADER_KEY_PATHS = {
    "/api/v1/events/batch": True, "/api/v1/metrics": True,
    "/write": False, "/api/v2/write": False, "/v1/metrics": False, "/api/v1/prom/write": False,
}


def body_limit() -> int:
    from django.conf import settings

    return max(settings.INGEST_MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


INFLUX_PATHS = {b"/write", b"/api/v2/write"}  # whose clients show an answer's "message"


def _error(status: int, message: str, code: str, details: dict, *, path: bytes,
           extra: bytes = b"") -> bytes:
    answer = {"error": message, "code": code, "details": details}
    if path in INFLUX_PATHS:
        answer["message"] = message
    body = json.dumps(answer).encode()
    phrase = HTTPStatus(status).phrase.encode()
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n%s\r\n" % (status, phrase, len(body), extra)) + body


class LimitedRequest(WebRequest):
    _refused = False
    _body_done = False
    _received = 0
    _limit = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._parsePOSTFormSubmission = False  # see the module docstring

    def gotLength(self, length):
        self._limit = body_limit()
        if length is not None and length > self._limit:
            self._refuse(413)
            return
        # In memory, whatever the length: the limit bounds it (Twisted writes a body of 100 kB
        # or more, or one without a length, to a temporary file on disk and reads it back).
        self.content = BytesIO()
        if length is None or length > KEY_FIRST_ABOVE:
            self._check_key_first()

    def handleContentChunk(self, data):
        if self._refused:
            return
        self._received += len(data)
        if self._received > self._limit:
            self._refuse(413)
            return
        super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        self._body_done = True
        if not self._refused:
            super().requestReceived(command, path, version)

    def _refuse(self, status: int) -> None:
        """Answer now, read nothing more, close. Twisted would still send its 100 Continue for
        an ``Expect`` header after this; removing the header stops it."""
        if self._refused:
            return
        self._refused = True
        self.requestHeaders.removeHeader(b"Expect")
        path = self.channel._path.split(b"?")[0] if self.channel else b""
        if status == 413:
            answer = _error(413, f"Request body is larger than {self._limit} bytes.",
                            "PAYLOAD_TOO_LARGE", {"max_bytes": self._limit}, path=path)
        else:
            answer = _error(401, "Missing or invalid ingest key.", "UNAUTHORIZED", {},
                            path=path, extra=b'WWW-Authenticate: Bearer realm="ingest"\r\n')
        transport = self.channel.transport if self.channel else None
        if transport is not None:
            transport.write(answer)
            transport.loseConnection()
        logger.info("refused a request body before reading it",
                    extra={"status": status, "path": path.decode("latin-1")})

    # -- the key, before the body --------------------------------------------------------------
    def _header(self, name: bytes) -> str | None:
        values = self.requestHeaders.getRawHeaders(name)
        return values[0].decode("latin-1") if values else None

    def _check_key_first(self) -> None:
        uri = self.channel._path
        path, _, query = uri.partition(b"?")
        own_api = HEADER_KEY_PATHS.get(path.decode("latin-1"))
        if own_api is None:
            return
        from events.ingest import intake

        if own_api:
            raw = self._header(b"x-api-key")
        else:
            raw = intake.header_key(x_api_key=self._header(b"x-api-key"),
                                    authorization=self._header(b"authorization"),
                                    query=parse_qs(query.decode("latin-1")))
        if not raw:
            return  # the key may be in the body: the view decides
        # "Expect: 100-continue" is answered only once the key is known (Twisted would answer
        # it right away): a careful client then sends no body at all for an unknown key.
        expect = (self._header(b"expect") or "").lower() == "100-continue"
        if expect:
            self.requestHeaders.removeHeader(b"Expect")
        producer = self.channel._networkProducer
        producer.pauseProducing()
        self._lookup = asyncio.ensure_future(  # kept, so it is not collected half-way
            self._look_up(raw, producer, expect))

    async def _look_up(self, raw: str, producer, expect: bool) -> None:
        from analytics_site.errors import ApiError
        from events import selectors

        try:
            known = await selectors.ingest_key(raw) is not None
        except ApiError:  # storage unavailable: let the view answer (503)
            known = True
        except Exception:
            logger.exception("ingest key pre-check failed")
            known = True
        if self.channel is None or self._refused:
            return
        if known or self._body_done:  # all arrived meanwhile: the view answers, not us
            if expect and not self._body_done:
                self.channel.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            producer.resumeProducing()
        else:
            self._refuse(401)


class LimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = LimitedRequest
        return protocol


# Young collections every 10,000 new containers instead of 700: a batch of 1,000 JSON points
# is some 2,000 dicts and lists, and each collection walked them again while they were parsed.
GC_THRESHOLDS = (10_000, 10, 10)


def freeze_heap() -> None:
    """Move everything alive now (modules, Django's settings and apps, the URLconf the lean
    router read, the ASGI app; templates load later) out of the collector's reach and make
    young collections rarer. Without it every full
    collection walked the ~330,000 objects of a started web process: parsing a 1,000-point
    JSON batch took 2.4 ms here with the default collector, 0.7 ms with this."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class Server(daphne_server.Server):
    def run(self):
        from events import enrich

        # A body reaches the application as one message, not in 8 kB pieces (daphne's default:
        # a 300 kB line-protocol request was some forty messages through the event loop).
        self.request_buffer_size = body_limit() + 1
        enrich.warm()  # what the first request would otherwise wait for
        freeze_heap()  # the application is imported by now; nothing has been served yet
        super().run()


def main() -> None:
    os.environ.setdefault("DATABASE_POOL", "1")  # see settings: one pool per web process
    daphne_server.HTTPFactory = LimitedHTTPFactory
    CommandLineInterface.server_class = Server
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
