"""Site middleware: request id and log line; static files that do not block async views."""

import logging
import re
import time
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.functional import SimpleLazyObject, empty

logger = logging.getLogger("analytics.request")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Secrets that travel in paths (the database keeps only their SHA-256): never in a log line.
_SECRET_IN_PATH = re.compile(r"/(pd_)[A-Za-z0-9_-]+")


def redact(path: str) -> str:
    return _SECRET_IN_PATH.sub(r"/\1[redacted]", path)


def _resolved_user_id(request):
    """The id of the user this request already authenticated, without authenticating it here:
    ``request.user`` is lazy, and resolving it would query the database — in an async view that
    is ``SynchronousOnlyOperation`` (a 500 for any request with a session cookie), and on the
    ingestion path a query per request for nothing."""
    user = getattr(request, "user", None)
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    if user is not None and getattr(user, "is_authenticated", False):
        return user.pk
    return None


class _SyncAndAsync:
    """Runs in whichever mode the chain below it has (Django picks per stack): subclasses give
    ``_call`` and ``_acall``. Sync-only middleware in an async stack would make Django run every
    request, async ingestion included, through one thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        return self._acall(request) if self.is_async else self._call(request)


class RequestLogMiddleware(_SyncAndAsync):
    """Gives each request an id (``X-Request-ID`` if the client sent a sane one) and logs one
    JSON line when it ends: request id, method, path, status, duration."""

    def _call(self, request):
        started = self._start(request)
        response = self.get_response(request)
        self._finish(request, response, started)
        return response

    async def _acall(self, request):
        started = self._start(request)
        response = await self.get_response(request)
        self._finish(request, response, started)
        return response

    @staticmethod
    def _start(request) -> float:
        sent = request.headers.get("X-Request-ID", "")
        request.request_id = sent if _VALID_ID.match(sent) else uuid.uuid4().hex
        return time.perf_counter()

    @staticmethod
    def _finish(request, response, started: float) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        response["X-Request-ID"] = request.request_id
        path = redact(request.path)
        logger.info(
            "%s %s %s",
            request.method,
            path,
            response.status_code,
            extra={
                "request_id": request.request_id,
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "user_id": _resolved_user_id(request),
            },
        )


class StaticFilesMiddleware(_SyncAndAsync):
    """WhiteNoise, usable in an async middleware chain (WhiteNoise's own is sync-only).

    Looks the file up in WhiteNoise's table (a dict lookup), serves hits in a worker thread, and
    passes everything else straight on.
    """

    def __init__(self, get_response):
        from whitenoise.middleware import WhiteNoiseMiddleware

        super().__init__(get_response)
        self.whitenoise = WhiteNoiseMiddleware(get_response)

    def _call(self, request):
        return self.whitenoise(request)

    def _find(self, request):
        if self.whitenoise.autorefresh:
            return self.whitenoise.find_file(request.path_info)
        return self.whitenoise.files.get(request.path_info)

    async def _acall(self, request):
        from asgiref.sync import sync_to_async

        static_file = self._find(request)
        if static_file is None:
            return await self.get_response(request)
        return await sync_to_async(self.whitenoise.serve, thread_sensitive=False)(
            static_file, request)
