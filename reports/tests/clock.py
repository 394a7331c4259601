"""A controllable clock for real beat and worker processes in tests:

    python -m reports.tests.clock CLOCK_FILE celery -A analytics_site beat ...

runs the command in this process with time (``time.time``, ``datetime.now`` …) shifted by the
offset in seconds written in CLOCK_FILE, and follows the file when the test moves the clock
(every process reading the same file agrees on the time). Uses time-machine."""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import time_machine

# time-machine patches time.time itself, even through saved references: real time is kept as an
# anchor taken before travelling plus the monotonic clock, which it leaves alone.
_ANCHOR, _MONOTONIC = time.time(), time.monotonic()


def _real_time() -> float:
    return _ANCHOR + time.monotonic() - _MONOTONIC


def _offset(path: Path) -> float:
    return float(path.read_text().strip() or 0)


def main() -> None:
    path = Path(sys.argv[1])
    offset = _offset(path)
    traveller = time_machine.travel(datetime.fromtimestamp(_real_time() + offset, UTC),
                                    tick=True)
    coordinates = traveller.start()

    def follow():
        nonlocal offset
        while True:
            time.sleep(0.05)
            try:
                wanted = _offset(path)
            except (OSError, ValueError):
                continue
            if wanted != offset:
                offset = wanted
                coordinates.move_to(datetime.fromtimestamp(_real_time() + offset, UTC))

    threading.Thread(target=follow, daemon=True).start()
    sys.argv = sys.argv[2:]
    if sys.argv[0] == "celery":
        from celery.__main__ import main as celery_main

        sys.exit(celery_main())
    raise SystemExit(f"unknown command {sys.argv[0]}")


if __name__ == "__main__":
    main()
