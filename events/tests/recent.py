"""Reading back what a receiver test just stored: the non-empty hourly buckets of the last ten
minutes of a query over the raw table (one bucket, unless the test spans an hour boundary)."""

from datetime import UTC, datetime, timedelta

from events import query as engine


def values(project, query: str) -> list[float]:
    end = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    answer = engine.execute(project, query=query, start="now-10m", end=end, step="1h",
                            use_cache=False, table="raw")
    return [v for s in answer["data"] for _, v in s["points"] if v is not None]


def total(project, query: str) -> float:
    return sum(values(project, query))


def last(project, query: str) -> float:
    return values(project, query)[-1]
