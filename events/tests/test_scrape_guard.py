"""Scrape targets against the outbound guard: an internal URL is refused when the target is
saved (model validation and the admin form) and again before each scrape unless the operator
lists its network in SCRAPE_ALLOWED_NETWORKS; a redirect fails the scrape instead of being
followed; the scrape goes to the address that was vetted. Exporters are real servers on
loopback; only DNS is faked, for a name that must resolve to chosen addresses."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from events.ingest import scrape
from events.models import DATA_TABLES, ScrapeTarget
from events.tests import recent

pytestmark = pytest.mark.slow


class Exporter:
    """A /metrics endpoint that records the Host header of every request, or answers each with
    a 302 to ``redirect_to``; ``lines`` more samples make its body longer, ``drip_s`` sends the
    body one line at a time with that pause in between."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, redirect_to: str = "",
                 lines: int = 0, drip_s: float = 0):
        self.hosts: list[str] = []
        self.done = threading.Event()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                exporter.hosts.append(self.headers["Host"])
                if redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                    self.end_headers()
                    return
                body = [b"# TYPE queue_depth gauge\n", b"queue_depth 7\n"]
                body += [f"padding_{i} 1\n".encode() for i in range(lines)]
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(sum(map(len, body))))
                self.end_headers()
                try:
                    for line in body:
                        if exporter.done.wait(drip_s):
                            return
                        self.wfile.write(line)
                        self.wfile.flush()
                except OSError:
                    pass  # the scraper hung up

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/metrics"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.done.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def owner(db, make_project):
    return make_project("Watched")


@pytest.fixture
def project(transactional_db, make_project):
    """A project whose scrapes are committed (the scraper writes on its own connections);
    the data tables are emptied afterwards."""
    yield make_project("Scraped")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(DATA_TABLES))


@pytest.fixture
def exporters():
    started: list[Exporter] = []

    def start(**kwargs) -> Exporter:
        started.append(Exporter(**kwargs))
        return started[-1]

    yield start
    for exporter in started:
        exporter.close()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9100/metrics",
    "http://10.0.0.5:9100/metrics",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1:9100/metrics",  # carrier-grade NAT
    "http://[2002:7f00:1::]:9100/metrics",  # 6to4 of 127.0.0.1
    "http://[64:ff9b::7f00:1]:9100/metrics",  # NAT64 of 127.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/metrics",  # Teredo, client 10.0.0.1
    "http://localhost:9100/metrics",
])
def test_an_internal_target_is_refused_when_saved(url, owner, settings):
    settings.SCRAPE_ALLOWED_NETWORKS = []
    target = ScrapeTarget(project=owner, name="node", url=url)
    with pytest.raises(ValidationError) as refused:
        target.full_clean()
    [message] = refused.value.message_dict["url"]
    assert "an internal address" in message and "SCRAPE_ALLOWED_NETWORKS" in message


def test_the_allow_list_admits_the_operators_own_networks(owner, settings):
    settings.SCRAPE_ALLOWED_NETWORKS = ["127.0.0.0/8", "10.0.0.0/8"]
    for url in ("http://127.0.0.1:9100/metrics", "http://10.0.0.5:9100/metrics",
                "http://93.184.216.34:9100/metrics"):
        ScrapeTarget(project=owner, name="node", url=url).full_clean()
    with pytest.raises(ValidationError):
        ScrapeTarget(project=owner, name="node", url="http://192.168.1.5/metrics").full_clean()


def test_the_admin_form_refuses_an_internal_target(owner, settings, admin_client):
    settings.SCRAPE_ALLOWED_NETWORKS = []
    response = admin_client.post("/admin/events/scrapetarget/add/", {
        "project": owner.pk, "name": "metadata", "url": "http://100.64.0.1/metrics",
        "interval_s": 15, "timeout_s": 5, "labels": "{}", "enabled": "on"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"] == [
        "100.64.0.1 is an internal address: scrape targets may only reach public addresses, "
        "unless an operator allows its network in SCRAPE_ALLOWED_NETWORKS (comma-separated "
        "CIDRs)."]
    assert not ScrapeTarget.objects.exists()


def test_a_target_saved_before_the_guard_is_refused_at_scrape_time(project, settings, exporters):
    settings.SCRAPE_ALLOWED_NETWORKS = []
    exporter = exporters()
    target = ScrapeTarget.objects.create(project=project, name="inside", url=exporter.url)
    [report] = scrape.scrape_due()
    assert (report["up"], report["samples"]) == (False, 0)
    assert report["error"].startswith("127.0.0.1 is an internal address")
    assert exporter.hosts == []
    target.refresh_from_db()
    assert target.up is False and "SCRAPE_ALLOWED_NETWORKS" in target.last_error
    assert recent.values(project, "max:up{job:inside}") == [0.0]


def test_a_redirect_fails_the_scrape_and_is_not_followed(project, settings, exporters):
    settings.SCRAPE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    elsewhere = exporters()
    redirector = exporters(redirect_to=elsewhere.url)
    target = ScrapeTarget.objects.create(project=project, name="moved", url=redirector.url)
    [report] = scrape.scrape_due()
    assert report["up"] is False
    assert report["error"] == (f"Redirect: HTTP 302 to {elsewhere.url}; redirects are not "
                               "followed.")
    assert len(redirector.hosts) == 1 and elsewhere.hosts == []
    target.refresh_from_db()
    assert (target.up, target.last_error) == (False, report["error"])
    assert recent.values(project, "max:up{job:moved}") == [0.0]


def test_the_scrape_goes_to_the_address_that_was_vetted(project, settings, exporters,
                                                        monkeypatch):
    settings.SCRAPE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    vetted = exporters()
    rebound = exporters(host="127.0.0.2", port=vetted.port)
    real, lookups = socket.getaddrinfo, []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in ("exporter.example.test", b"exporter.example.test"):
            return real(host, port, *args, **kwargs)
        # The first answer is loopback's; any later one would be another address.
        address = "127.0.0.1" if not lookups else "127.0.0.2"
        lookups.append(host.decode() if isinstance(host, bytes) else host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    ScrapeTarget.objects.create(project=project, name="pinned",
                                url=f"http://exporter.example.test:{vetted.port}/metrics")
    [report] = scrape.scrape_due()
    assert (report["up"], report["samples"], report["error"]) == (True, 1, "")
    assert lookups == ["exporter.example.test"]
    assert vetted.hosts == [f"exporter.example.test:{vetted.port}"] and rebound.hosts == []
    assert recent.values(project, "last:queue_depth{job:pinned}") == [7.0]


def test_a_body_over_the_cap_fails_the_scrape(project, settings, exporters, monkeypatch):
    settings.SCRAPE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    monkeypatch.setattr(scrape, "MAX_BODY", 1000)
    exporter = exporters(lines=200)
    ScrapeTarget.objects.create(project=project, name="big", url=exporter.url)
    [report] = scrape.scrape_due()
    assert (report["up"], report["error"]) == (False, "PrometheusError: body over 1000 bytes")


def test_a_slow_answer_fails_the_scrape_within_its_timeout(project, settings, exporters):
    settings.SCRAPE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    # Each line comes well within the timeout; the whole body would take 2 s.
    exporter = exporters(lines=18, drip_s=0.1)
    ScrapeTarget.objects.create(project=project, name="slow", url=exporter.url, timeout_s=0.5)
    [report] = scrape.scrape_due()
    assert (report["up"], report["error"]) == (False, "Timeout: no complete answer within 0.5 s")
    assert report["duration_ms"] < 1500
