"""Content-Security-Policy and Permissions-Policy on every response.

Django 6 has a CSP middleware, but as a ``MiddlewareMixin`` it hops to the shared sync thread
for each of its hooks when the chain is async, ingestion included. This one builds the policy
with Django's own ``django.utils.csp`` and stays on whichever side the chain runs.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.utils.csp import CSP, LazyNonce, build_policy

from analytics_site.middleware import _SyncAndAsync

# Pages: only our own files, and inline scripts only with this response's nonce.
PAGE_POLICY = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    # Plotly.js injects <style> elements and writes style attributes; Swagger UI has a <style>
    # and the dashboard grid places its panels with style attributes. 'unsafe-inline' for
    # styles (never for scripts) is the usual, accepted compromise: injected CSS can restyle a
    # page, not run code.
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    # data: images: Plotly draws a heatmap into a canvas and shows it as a PNG data: URL, and
    # Swagger UI draws its icons from data: SVGs. Nothing needs blob:.
    "img-src": [CSP.SELF, "data:"],
    # 'self' also allows ws:/wss: of the same host (CSP Level 3: Chrome 71+, Firefox, Safari 16+;
    # on older browsers the pages fall back to polling). The browser computes it from the page's
    # own origin, which a Host header behind a proxy may not tell us.
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# JSON, CSV, files: not meant to be rendered as a page, so nothing may load and nothing may frame.
DATA_POLICY = build_policy({"default-src": [CSP.NONE], "frame-ancestors": [CSP.NONE]})

# Powerful features none of our pages uses, denied to the page and to anything it would embed.
# Only features Chromium recognises, so its console stays quiet; clipboard-write stays allowed
# for the snippet's copy button.
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "accelerometer", "autoplay", "browsing-topics", "camera", "captured-surface-control",
    "clipboard-read", "compute-pressure", "display-capture", "encrypted-media", "gamepad",
    "geolocation", "gyroscope", "hid", "identity-credentials-get", "idle-detection",
    "interest-cohort", "local-fonts", "magnetometer", "microphone", "midi", "otp-credentials",
    "payment", "picture-in-picture", "publickey-credentials-create",
    "publickey-credentials-get", "screen-wake-lock", "serial", "speaker-selection", "usb",
    "window-management", "xr-spatial-tracking",
))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def page_policy(nonce: str) -> str:
    """The page policy with this response's nonce; PUBLIC_URL's origin may differ from the one
    the browser is on, and the demo page's tracker sends its events there."""
    policy = PAGE_POLICY
    if settings.PUBLIC_URL:
        policy = {**policy, "connect-src": [CSP.SELF, _origin(settings.PUBLIC_URL)]}
    return build_policy(policy, nonce)


class SecurityHeadersMiddleware(_SyncAndAsync):
    """Gives each request a nonce (``request.csp_nonce``, ``{{ csp_nonce }}`` in templates) and
    each response a CSP (the page policy for HTML, a deny-all one for the rest) and the
    Permissions-Policy. A view that sets its own CSP header keeps it."""

    def _call(self, request):
        self._start(request)
        response = self.get_response(request)
        self._finish(request, response)
        return response

    async def _acall(self, request):
        self._start(request)
        response = await self.get_response(request)
        self._finish(request, response)
        return response

    @staticmethod
    def _start(request) -> None:
        # Made only when read (by a template or for an HTML response): the API pays nothing.
        # _csp_nonce is where Django's get_nonce() and its csp context processor look.
        request.csp_nonce = request._csp_nonce = LazyNonce()

    @staticmethod
    def _finish(request, response) -> None:
        if "Content-Security-Policy" not in response:
            if response.get("Content-Type", "").startswith("text/html"):
                policy = page_policy(str(request.csp_nonce))
            else:
                policy = DATA_POLICY
            response["Content-Security-Policy"] = policy
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
