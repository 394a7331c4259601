"""Site middleware: request id and log line; static files that do not block async views."""

import logging
import re
import time
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

logger = logging.getLogger("analytics.request")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


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
        user = getattr(request, "user", None)
        logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": request.request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "user_id": user.pk if user is not None and user.is_authenticated else None,
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
