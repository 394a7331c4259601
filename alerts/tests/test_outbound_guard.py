"""Webhooks against the outbound guard: every way of spelling an internal address is refused
(with the code, the host, the address and the operator's way out), public and allowed addresses
pass, a redirect is an answer and not followed, and the request goes to the address that was
vetted, over HTTP and TLS. Receivers are real servers on loopback; only DNS is faked, for names
that must resolve to chosen addresses."""

import datetime
import socket
import ssl

import pytest

from alerts import delivery, services
from alerts.models import DeliveryAttempt, Notification
from alerts.tests.receivers import Webhook
from alerts.urlguard import UnsafeURL, check_url

pytestmark = pytest.mark.django_db

# Teredo: server 65.54.227.120 (public), client 10.0.0.1 (stored inverted in the last 32 bits).
TEREDO_INTERNAL_CLIENT = "2001:0:4136:e378:8000:63bf:f5ff:fffe"

REFUSED = [
    "http://127.0.0.1:8080/hook",
    "http://10.1.2.3/hook",
    "http://172.16.5.4/hook",
    "http://192.168.0.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[64:ff9b:1::a00:1]/",  # local-use NAT64 prefix
    f"http://[{TEREDO_INTERNAL_CLIENT}]/",
    "http://[::7f00:1]/",  # IPv4-compatible 127.0.0.1
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://255.255.255.255/",
    "http://2130706433/",  # 127.0.0.1 in decimal, hex and octal
    "http://0x7f000001/",
    "http://017700000001/",
    "http://localhost/hook",
    "http://internal.hooks.test/hook",  # resolves to 10.0.0.7 (below)
    "http://mixed.hooks.test/hook",  # one public address and one internal
    "ftp://example.com/x",
    "http:///nohost",
]


class FakeDNS:
    """Answers for this test's own names (each lookup takes the next answer, the last one
    repeats); every other name goes to the real resolver. Records each lookup of its names."""

    def __init__(self, real):
        self.real = real
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def answer(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = list(answers)
        self.lookups.clear()

    def getaddrinfo(self, host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return self.real(host, port, *args, **kwargs)
        answers = self.answers[name]
        addresses = answers[min(self.lookups.count(name), len(answers) - 1)]
        self.lookups.append(name)
        port = int(port or 0)
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0)) if ":" in a
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]


@pytest.fixture
def dns(monkeypatch):
    fake = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    fake.answer("internal.hooks.test", ["10.0.0.7"])
    fake.answer("mixed.hooks.test", ["93.184.216.34", "192.168.1.9"])
    fake.answer("public.hooks.test", ["93.184.216.34"])
    return fake


@pytest.fixture
def project(make_project):
    return make_project("Shop")


def _note(channel):
    return Notification.objects.create(channel=channel, kind="firing", payload={
        "kind": "firing", "state": "firing", "rule": {"id": 1, "name": "Checkout errors"},
        "message": "[FIRING] Checkout errors"})


def _refused(url: str) -> bool:
    try:
        check_url(url)
    except UnsafeURL:
        return True
    return False


def test_every_internal_form_is_refused(dns, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    passed = [url for url in REFUSED if not _refused(url)]
    print(f"SSRF forms refused: {len(REFUSED) - len(passed)} of {len(REFUSED)}")
    assert passed == []


def test_the_refusal_names_the_host_the_address_and_the_way_out():
    with pytest.raises(UnsafeURL) as refused:
        check_url("http://100.64.0.1/hook")
    assert refused.value.code == "WEBHOOK_URL_REFUSED" and refused.value.status == 400
    assert refused.value.details == {"url": ["Internal address 100.64.0.1."]}
    assert refused.value.message == (
        "100.64.0.1 is an internal address: webhooks may only reach public addresses, unless an "
        "operator allows its network in WEBHOOK_ALLOWED_NETWORKS (comma-separated CIDRs).")


def test_an_embedded_ipv4_address_is_named(dns):
    with pytest.raises(UnsafeURL) as refused:
        check_url("http://[2002:7f00:1::]/hook")
    assert refused.value.details == {"url": ["Internal address 2002:7f00:1:: (6to4 of 127.0.0.1)."]}
    with pytest.raises(UnsafeURL) as refused:
        check_url("http://internal.hooks.test/hook")
    assert refused.value.message.startswith("internal.hooks.test resolves to 10.0.0.7, an internal")


@pytest.mark.parametrize("url", [
    "http://93.184.216.34/hook",
    "https://public.hooks.test/hook",
    "http://[2606:4700::1111]/hook",
    "http://[::ffff:93.184.216.34]/hook",
    "http://[2002:5db8:d822::]/hook",  # 6to4 of 93.184.216.34
    "http://[64:ff9b::5db8:d822]/hook",  # NAT64 of 93.184.216.34
])
def test_public_addresses_pass(url, dns):
    check_url(url)


def test_the_allow_list_opens_only_its_own_networks(dns, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["100.64.0.0/10", "10.0.0.0/24"]
    check_url("http://100.64.0.1/hook")
    check_url("http://internal.hooks.test/hook")
    for url in ("http://10.0.1.7/hook", "http://127.0.0.1/hook", "http://[2002:7f00:1::]/"):
        with pytest.raises(UnsafeURL):
            check_url(url)


def test_a_redirect_is_an_answer_and_is_not_followed(project, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    elsewhere = Webhook()
    redirector = Webhook(redirect_to=elsewhere.url)
    try:
        channel = services.create_channel(project=project, name="hook", kind="webhook",
                                          url=redirector.url)
        note = delivery.deliver(_note(channel).pk)
    finally:
        redirector.close()
        elsewhere.close()
    assert (note.status, note.attempts) == ("pending", 1)
    attempt = DeliveryAttempt.objects.get(notification=note)
    assert (attempt.ok, attempt.response_code) == (False, 302)
    assert attempt.error == (f"Redirect: HTTP 302 to {elsewhere.url}; redirects are not "
                             "followed.")
    assert len(redirector.requests) == 1 and elsewhere.requests == []


def test_the_request_goes_to_the_address_that_was_vetted(project, settings, dns):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    vetted = Webhook(name="hooks.example.test")
    rebound = Webhook(host="127.0.0.2", port=vetted.port)
    try:
        dns.answer("hooks.example.test", ["127.0.0.1"])
        channel = services.create_channel(project=project, name="hook", kind="webhook",
                                          url=vetted.url)
        # From now on a second lookup would answer with another address.
        dns.answer("hooks.example.test", ["127.0.0.1"], ["127.0.0.2"])
        note = delivery.deliver(_note(channel).pk)
    finally:
        vetted.close()
        rebound.close()
    assert note.status == "sent"
    assert dns.lookups == ["hooks.example.test"]
    assert [r["headers"]["Host"] for r in vetted.requests] == [f"hooks.example.test:{vetted.port}"]
    assert rebound.requests == []


def _certificate(name: str, path) -> tuple[str, str]:
    """A self-signed certificate for ``name`` (and its key), as PEM files under ``path``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = path / f"{name}.pem", path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


@pytest.mark.parametrize("served_name, sent", [("hooks.example.test", True),
                                               ("someone-else.test", False)])
def test_tls_checks_the_certificate_against_the_name_not_the_address(
        served_name, sent, project, settings, dns, tmp_path, monkeypatch):
    from analytics_site import outbound

    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    cert_file, key_file = _certificate(served_name, tmp_path)
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert_file, key_file)
    # The platform trusts this test's certificate as it trusts a public CA's.
    monkeypatch.setattr(outbound, "_tls_context",
                        lambda: ssl.create_default_context(cafile=cert_file))
    dns.answer("hooks.example.test", ["127.0.0.1"])
    receiver = Webhook(tls=server_side, name="hooks.example.test")
    try:
        channel = services.create_channel(project=project, name="tls", kind="webhook",
                                          url=receiver.url)
        note = delivery.deliver(_note(channel).pk)
    finally:
        receiver.close()
    attempt = DeliveryAttempt.objects.get(notification=note)
    assert attempt.ok is sent
    if sent:
        assert receiver.requests[0]["headers"]["Host"] == f"hooks.example.test:{receiver.port}"
    else:
        assert "CERTIFICATE_VERIFY_FAILED" in attempt.error and receiver.requests == []


def test_a_delivery_to_a_refused_name_is_not_retried(project, settings, dns):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    channel = services.create_channel(project=project, name="was ok", kind="webhook",
                                      url="http://internal.hooks.test/hook")
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    note = delivery.deliver(_note(channel).pk)
    assert (note.status, note.attempts, note.next_attempt_at) == (
        "failed", delivery.MAX_ATTEMPTS, None)
    assert DeliveryAttempt.objects.get(notification=note).error.startswith(
        "internal.hooks.test resolves to 10.0.0.7, an internal address")
