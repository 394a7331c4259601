"""A per-project data version in Redis: the rollup fold bumps it when it takes in new data, and
the query engine puts it in the cache key of answers that reach now — so an answer cached a
moment before new data was folded is not served after it (the 10 s TTL stays the upper bound)."""

from django.core.cache import cache

TTL_S = 3600


def _key(project_id: int) -> str:
    return f"data-version:{project_id}"


def bump(project_id: int) -> None:
    key = _key(project_id)
    cache.add(key, 0, TTL_S)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, TTL_S)


def version(project_id: int) -> int:
    return cache.get(_key(project_id)) or 0
