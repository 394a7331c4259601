"""Celery queues by kind of work, and which worker processes consume them.

Each kind of work has a queue of its own, so a ten-minute training run or a long report never
holds up an alert: the ingestion side (rollup folds, partitions, scrapes, path hours), alert
evaluation and notifications, reports, model scoring, model training. ``default`` takes any task
not routed here. A worker started without ``-Q`` consumes every queue (Celery's rule when
``task_queues`` is set); ``make run``'s launcher starts one worker per group of
``WORKER_QUEUES``:

    WORKER_QUEUES="ingest,alerts,scoring,default:2 reports:1 training:1"

Groups are separated by spaces or ``;``, queues within a group by ``,``; ``:N`` is the group's
concurrency (``CELERY_WORKER_CONCURRENCY`` when left out). A queue no group names joins the
first group, so no task is ever left without a consumer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

QUEUES = ("ingest", "alerts", "scoring", "reports", "training", "default")
ROUTES = {  # Celery's task_routes: exact names before patterns
    "ml.train_due": {"queue": "scoring"},  # only sends the trainings that are due
    "ml.relate_anomaly": {"queue": "scoring"},
    "events.*": {"queue": "ingest"},
    "alerts.*": {"queue": "alerts"},
    "reports.*": {"queue": "reports"},
    "ml.train_*": {"queue": "training"},
    "ml.score_*": {"queue": "scoring"},
}
DEFAULT_GROUPS = "ingest,alerts,scoring,default reports:1 training:1"


class BadWorkerQueues(ValueError):
    """A ``WORKER_QUEUES`` value that cannot be used (the message says why)."""


@dataclass(frozen=True)
class Group:
    queues: tuple[str, ...]
    concurrency: int

    @property
    def name(self) -> str:
        """The launcher's name for the group's worker: ``worker`` for the one taking the
        default queue, ``worker-<first queue>`` for the others."""
        return "worker" if "default" in self.queues else f"worker-{self.queues[0]}"


def groups(spec: str | None, concurrency: int = 2) -> list[Group]:
    """Worker groups from a ``WORKER_QUEUES`` value (the default layout when empty)."""
    found: list[Group] = []
    seen: set[str] = set()
    for part in re.split(r"[;\s]+", (spec or DEFAULT_GROUPS).strip()):
        if not part:
            continue
        names, _, count = part.partition(":")
        queues = tuple(q.strip() for q in names.split(",") if q.strip())
        unknown = [q for q in queues if q not in QUEUES]
        if not queues or unknown:
            raise BadWorkerQueues(
                f"WORKER_QUEUES: unknown queue {', '.join(unknown) or '(empty)'} in {part!r}; "
                f"the queues are {', '.join(QUEUES)}.")
        twice = seen.intersection(queues)
        if twice:
            raise BadWorkerQueues(f"WORKER_QUEUES: {', '.join(sorted(twice))} named twice.")
        seen.update(queues)
        if count and not (count.isdigit() and 1 <= int(count) <= 64):
            raise BadWorkerQueues(f"WORKER_QUEUES: concurrency of {part!r} is 1 to 64.")
        found.append(Group(queues, int(count) if count else concurrency))
    if not found:
        return groups(None, concurrency)
    missing = tuple(q for q in QUEUES if q not in seen)
    if missing:
        found[0] = Group(found[0].queues + missing, found[0].concurrency)
    return found
