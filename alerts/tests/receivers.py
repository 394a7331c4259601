"""Real stand-ins on loopback for what notifications reach outside the machine: an SMTP server
(aiosmtpd) and a webhook receiver (http.server) that records every request it gets and answers
with the statuses a test queues (or redirects elsewhere), over HTTP or TLS."""

from __future__ import annotations

import json
import ssl
import threading
from collections import deque
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Webhook:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, redirect_to: str = "",
                 tls: ssl.SSLContext | None = None, name: str = ""):
        self.requests: list[dict] = []
        self.statuses: deque[int] = deque()  # answers to come; 200 when empty
        self.redirect_to = redirect_to  # when set, every answer is a 302 to it
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.arrived:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                              "body": body, "json": json.loads(body)})
                    receiver.arrived.notify_all()
                if receiver.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", receiver.redirect_to)
                    self.end_headers()
                    return
                status = receiver.statuses.popleft() if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"receiver says no")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://{name or host}:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 20) -> list[dict]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
        return self.requests

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # this receiver only lives on loopback
    receiver = Webhook()
    yield receiver
    receiver.close()


class Mailbox:
    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                box.messages.append({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                                     "message": message_from_bytes(envelope.content)})
                return "250 Message accepted for delivery"

        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self):
        self.controller.stop()


@pytest.fixture
def mailbox(settings):
    box = Mailbox()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", box.port
    yield box
    box.close()
