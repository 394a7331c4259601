"""docker-compose.yml's scale-out layout, read as Compose reads it (no Docker here): one published
entry point (the proxy), `web` and `worker` scalable, every queue taken by a worker service, the
read replica under its profile, and every file the services mount present. The proxy's own
configuration is checked by the nginx of this machine when it has one (the shared
analytics-proxy.conf is exercised for real by tests/test_web_replicas.py)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from analytics_site import queues
from tests.server_fixtures import NGINX

BASE_DIR = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_only_the_proxy_publishes_http_and_web_and_workers_can_be_scaled():
    published = {name: s["ports"] for name, s in SERVICES.items() if "ports" in s}
    assert published == {"proxy": ["8000:80"],
                         "statsd": ["127.0.0.1:8125:8125/udp", "127.0.0.1:8125:8125/tcp"]}
    for name in ("web", "worker", "worker-reports", "worker-training"):
        assert "container_name" not in SERVICES[name] and "ports" not in SERVICES[name], name
    web = SERVICES["web"]["command"]
    assert "--proxy-headers" in web and web[web.index("-p") + 1] == "8000"
    assert SERVICES["proxy"]["depends_on"] == {"web": {"condition": "service_healthy"}}


def test_every_queue_is_taken_by_a_worker_service():
    taken = {}
    for name, service in SERVICES.items():
        command = service.get("command") or []
        if "worker" in command and "-Q" in command:
            for queue in command[command.index("-Q") + 1].split(","):
                taken.setdefault(queue, []).append(name)
    assert taken == {"ingest": ["worker"], "alerts": ["worker"], "scoring": ["worker"],
                     "default": ["worker"], "reports": ["worker-reports"],
                     "training": ["worker-training"]}
    assert set(taken) == set(queues.QUEUES)


def test_the_replica_is_a_profile_that_copies_the_primary_and_the_primary_allows_it():
    replica = SERVICES["postgres-replica"]
    assert replica["profiles"] == ["replica"]
    assert replica["image"] == SERVICES["postgres"]["image"]
    script = replica["command"][-1]
    assert "pg_basebackup -h postgres -U analytics" in script and " -R " in script
    assert " -C -S analytics_replica" in script  # a slot: the primary keeps the WAL it needs
    assert 'mv /var/lib/postgresql/data/copy "$$PGDATA"' in script  # a cut copy starts over
    assert "pg_stat_wal_receiver" in replica["healthcheck"]["test"][-1]
    assert replica["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    hba = (BASE_DIR / "deploy" / "postgres" / "pg_hba.conf").read_text()
    assert re.search(r"(?m)^host\s+replication\s+all\s+all\s+scram-sha-256$", hba)
    assert "hba_file=/etc/postgresql/pg_hba.conf" in SERVICES["postgres"]["command"]
    app = COMPOSE["x-app"]["environment"]
    assert app["DATABASE_REPLICA_URLS"] == "${DATABASE_REPLICA_URLS:-}"


def test_every_mounted_file_and_named_volume_exists():
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (BASE_DIR / source).is_file(), (name, source)
            else:
                assert source in declared, (name, source)




@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)")
def test_the_compose_proxy_configuration_is_valid_nginx(tmp_path):
    """As nginx -t reads it. This machine's nginx may predate 1.27.3, which added `resolve` to
    open-source upstreams, so that one word and the Docker-only names are swapped for this check."""
    conf = (BASE_DIR / "deploy" / "nginx-compose.conf").read_text()
    assert re.search(r"(?m)^\s+server web:8000 resolve ", conf)
    assert "include analytics-proxy.conf;" in conf
    version = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr
    found = tuple(int(n) for n in re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", version).groups())
    if found < (1, 27, 3):
        conf = conf.replace(" resolve ", " ")
    conf = conf.replace("server web:8000", "server 127.0.0.1:8000")
    conf = conf.replace("resolver 127.0.0.11", "resolver 127.0.0.1")
    (tmp_path / "nginx.conf").write_text(conf)
    shutil.copy(BASE_DIR / "deploy" / "analytics-proxy.conf", tmp_path)
    checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                              "-e", "stderr", "-g", f"pid {tmp_path}/nginx.pid;"],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
