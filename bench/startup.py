"""Start-up benchmark for `make run`: seconds from launch to /readyz ready, cold (a new, empty
data folder: initdb, migrations, admin, demo project) and warm (the same folder again), and the
seconds a Ctrl-C takes to stop everything. Embedded servers, loopback only, bounded (≤ 5 min).

    .venv/bin/python bench/startup.py

Last line: {"cold_ready_s", "warm_ready_s", "stop_s"}.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def start_and_stop(data_dir: Path) -> tuple[float, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update({"DATA_DIR": str(data_dir), "PORT": str(port), "HOST": "127.0.0.1",
                "ADMIN_PASSWORD": "bench-password"})
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "analytics_site.launcher"], cwd=BASE_DIR,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not ready(port):
            if proc.poll() is not None or time.perf_counter() - started > TIMEOUT_S:
                raise SystemExit(f"launcher did not become ready (exit {proc.poll()})")
            time.sleep(0.2)
        ready_s = time.perf_counter() - started
    finally:
        stopping = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        stop_s = time.perf_counter() - stopping
    return ready_s, stop_s


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="analytics-bench-") as tmp:
        data_dir = Path(tmp) / "var"
        cold, stop = start_and_stop(data_dir)
        print(f"cold start (new data folder) to ready: {cold:.1f} s; stop: {stop:.1f} s")
        warm, stop2 = start_and_stop(data_dir)
        print(f"warm start (same data folder) to ready: {warm:.1f} s; stop: {stop2:.1f} s")
    print(json.dumps({"cold_ready_s": round(cold, 1), "warm_ready_s": round(warm, 1),
                      "stop_s": round(max(stop, stop2), 1)}))


if __name__ == "__main__":
    main()
