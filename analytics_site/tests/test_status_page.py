"""The system status page (/status/): a superuser sees what /readyz checks, the read replicas
with their lag and which worker nodes consume each Celery queue; anyone else signed in gets a
404, and a stranger the login page. A replica's password is never shown."""

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.template.loader import render_to_string

from analytics_site import status
from analytics_site.celery import app as celery_app
from conftest import child_env, wait_for
from projects.models import Role
from tests.browser.login import login
from tests.replica_servers import start_pair

pytestmark = pytest.mark.django_db
BASE_DIR = Path(__file__).resolve().parents[2]
WORKER = "status-test@box"


class _Tables(HTMLParser):
    """The text of each cell of each table with an id, row by row."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id"):
            self._table = self.tables.setdefault(dict(attrs)["id"], [])
        elif self._table is not None and tag == "tr":
            self._table.append([])
        elif self._table is not None and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif self._cell is not None and tag in ("td", "th"):
            self._table[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


@pytest.fixture
def nowhere():
    """Socket folders where no PostgreSQL listens (short: socket paths are limited)."""
    made = []

    def make() -> str:
        made.append(tempfile.mkdtemp(prefix="nolisten"))
        return made[-1]

    yield make
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def beat_seen(settings):
    redis.Redis.from_url(settings.REDIS_URL).set(settings.BEAT_HEARTBEAT_KEY, time.time())


@pytest.fixture
def worker():
    """A real Celery worker on the test Redis database, named WORKER, consuming ``queues``
    (every queue when none are given), once it answers."""
    started = []

    def start(*queues):
        only = ["-Q", ",".join(queues)] if queues else []
        started.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "analytics_site", "worker", "-l", "WARNING",
             "--concurrency", "1", "-n", WORKER, "--without-mingle", "--without-gossip", *only],
            env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: celery_app.control.ping(timeout=0.5), 60, "the worker to answer")

    yield start
    for proc in started:
        proc.terminate()
    for proc in started:
        proc.wait(30)


def test_superuser_sees_each_check_failing_with_its_error(client, settings, superuser):
    settings.DATABASE_REPLICA_URLS = []
    redis.Redis.from_url(settings.REDIS_URL).delete(settings.BEAT_HEARTBEAT_KEY)
    client.force_login(superuser)

    response = client.get("/status/")

    assert response.status_code == 200
    html = response.content.decode()
    found = tables(html)
    assert [[name, state, detail] for name, state, _, detail in found["checks"][1:]] == [
        ["postgres", "ok", "—"],
        ["redis", "ok", "—"],
        ["worker", "failing", "RuntimeError: no Celery worker answered within 1 s"],
        ["beat", "failing", "RuntimeError: beat has not been seen"],
    ]
    assert all(re.fullmatch(r"\d+\.\d ms", row[2]) for row in found["checks"][1:])
    assert '<span class="badge state-firing" id="readiness">not ready</span>' in html
    assert found["queues"][1:] == [[queue, "—"] for queue in
                                   ("ingest", "alerts", "scoring", "reports", "training",
                                    "default")]
    assert "No worker answered within 1 s." in html
    assert "replicas" not in found  # none configured: no section
    assert '<a href="/status/" aria-current="page">Status</a>' in html


@pytest.mark.slow
def test_superuser_sees_the_worker_beat_and_the_queues_it_consumes(client, settings, superuser,
                                                                   worker, beat_seen):
    settings.DATABASE_REPLICA_URLS = []
    worker("ingest", "alerts")
    client.force_login(superuser)

    html = client.get("/status/").content.decode()

    found = tables(html)
    states = {row[0]: row[1] for row in found["checks"][1:]}
    assert states == {"postgres": "ok", "redis": "ok", "worker": "ok", "beat": "ok"}
    details = {row[0]: row[3] for row in found["checks"][1:]}
    assert details["worker"] == WORKER
    seen = re.fullmatch(r"last seen (\d+\.\d) s ago", details["beat"])
    assert seen and 0 <= float(seen[1]) < 30, details["beat"]
    assert '<span class="badge badge-ok" id="readiness">ready</span>' in html
    assert found["queues"][1:] == [["ingest", WORKER], ["alerts", WORKER], ["scoring", "—"],
                                   ["reports", "—"], ["training", "—"], ["default", "—"]]
    assert "No worker answered" not in html


def test_a_member_who_is_not_a_superuser_gets_404(client, make_user, make_project):
    member = make_user("li", is_staff=True)
    make_project("Storefront", owner=make_user("maria"), members={member: Role.ADMIN})
    client.force_login(member)

    response = client.get("/status/")

    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.content.decode()
    assert 'href="/status/"' not in client.get("/projects/").content.decode()


def test_a_stranger_is_sent_to_log_in(client):
    response = client.get("/status/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/status/"


def test_a_down_replica_is_shown_down_with_its_error_and_no_password(client, settings,
                                                                     superuser, nowhere):
    url_folder, keyword_folder = nowhere(), nowhere()
    settings.DATABASE_REPLICA_URLS = [
        f"postgresql://reader:hunter2@{quote(url_folder, safe='')}:5432/analytics",
        f"host={keyword_folder} dbname=analytics user=reader password=hunter2"]
    client.force_login(superuser)

    html = client.get("/status/").content.decode()

    assert tables(html)["replicas"][1:] == [
        [f"{url_folder}:5432/analytics", "down", "—",
         "PoolTimeout: couldn't get a connection after 2.00 sec"],
        # a keyword connection string is named after its host, port and database too
        [f"{keyword_folder}:5432/analytics", "down",
         "—", "PoolTimeout: couldn't get a connection after 2.00 sec"],
    ]
    assert "hunter2" not in html
    assert "hunter2" not in client.get("/readyz").content.decode()  # /readyz answers anyone


def test_replicas_render_with_their_state_and_lag():
    rows = status.replica_rows([
        {"name": "db-replica-1:5432/analytics", "up": True, "lag_s": 0.2},
        {"name": "db-replica-2:5432/analytics", "up": True, "lag_s": None},
        {"name": "db-replica-3:5432/analytics", "up": True, "lag_s": 75.4},
        {"name": "db-replica-4:5432/analytics", "up": False,
         "error": "PoolTimeout: couldn't get a connection after 2.00 sec"},
    ])
    html = render_to_string("status.html", {
        "ready": True, "checks": [], "replicas": rows, "max_lag": status.seconds(5.0),
        "queues": [], "workers_answered": True})

    assert tables(html)["replicas"] == [
        ["Replica", "State", "Lag", "Error"],
        ["db-replica-1:5432/analytics", "up", "0.2 s", ""],
        ["db-replica-2:5432/analytics", "up", "unknown", ""],
        ["db-replica-3:5432/analytics", "up", "1 min 15 s", ""],
        ["db-replica-4:5432/analytics", "down", "—",
         "PoolTimeout: couldn't get a connection after 2.00 sec"],
    ]
    assert "at most 5.0 s behind" in html


def test_durations_read_as_people_say_them():
    assert [status.seconds(s) for s in (None, 0.0, 0.24, 59.94, 60.0, 3599.4, 7385.0)] == [
        "unknown", "0.0 s", "0.2 s", "59.9 s", "1 min 0 s", "59 min 59 s", "2 h 3 min"]


# Run against a real primary and its streaming replica (tests/replica_servers.py): lag is
# measured against the primary's WAL position on Django's connection, so that connection must
# be the replica's primary, which the test database is not: hence a process of its own.
PROBE = """
import json, time
import django
django.setup()
from dataclasses import asdict
from analytics_site import health, status
deadline = time.monotonic() + 60
while True:
    states = health.replicas_state()
    if states[0].get("lag_s") == 0.0 or time.monotonic() > deadline:
        break
    time.sleep(0.5)
print(json.dumps({"states": states, "rows": [asdict(r) for r in status.replica_rows(states)]}))
"""


@pytest.mark.slow
def test_a_streaming_replica_is_shown_up_with_its_lag():
    pair = start_pair(Path(tempfile.mkdtemp(prefix="replica")))  # short: socket paths
    try:
        with_password = pair.replica_url.replace("://postgres@", "://postgres:s3cret@", 1)
        assert "s3cret" in with_password  # trust auth: the password is accepted, unused
        done = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=BASE_DIR, capture_output=True, text=True,
            timeout=120, env=child_env(DATABASE_URL=pair.primary_url,
                                       DATABASE_REPLICA_URLS=with_password))
    finally:
        pair.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.strip().splitlines()[-1]
    name = f"{pair.replica_socket}:{pair.port}/analytics"
    assert json.loads(out) == {
        "states": [{"name": name, "up": True, "lag_s": 0.0}],
        "rows": [{"name": name, "up": True, "lag": "0.0 s", "error": ""}],
    }
    assert "s3cret" not in out


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_status_page_in_a_browser(page, live_server, settings, make_user, worker,
                                      beat_seen, nowhere, screenshot):
    make_user("maria", is_staff=True, is_superuser=True)
    folder = nowhere()
    settings.DATABASE_REPLICA_URLS = [
        f"postgresql://reader:hunter2@{quote(folder, safe='')}:5432/analytics"]
    worker()

    login(page, live_server.url, "maria")
    page.click("nav >> text=Status")
    page.wait_for_url(f"{live_server.url}/status/")

    assert page.inner_text("#readiness") == "READY"  # the badge is upper-cased by CSS
    assert page.locator("#checks tbody tr .badge").all_inner_texts() == ["OK"] * 4
    assert page.locator("#replicas tbody td:nth-child(2)").all_inner_texts() == ["DOWN"]
    assert page.locator("#queues tbody td:nth-child(2)").all_inner_texts() == [WORKER] * 6
    assert "hunter2" not in page.content()
    screenshot(page, "status", full_page=True)
    assert page.console_errors == []


@pytest.mark.parametrize(("given", "shown"), [
    ("postgres://reader:hunter2@db.internal:6432/analytics?sslmode=require",
     "db.internal:6432/analytics"),
    ("postgresql://reader@%2Fvar%2Frun%2Fpg/analytics", "/var/run/pg:5432/analytics"),
    ("host=db dbname=analytics password=hunter2://x", "db:5432/analytics"),
    ("host=db password='hunter2 with spaces'", "db:5432/"),
    ("not a connection string at all", "(not a connection string)"),
])
def test_a_replica_is_named_without_its_credentials(given, shown):
    from events.query import replicas

    assert replicas._name(given) == shown
