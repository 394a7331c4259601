"""The read path's one door to the database: statements in, rows out, answers cached.

Sources (metric series, events, the analytics reports, the catalog) compile what they are asked
to ``Statement``s — composed SQL, its parameters, the table it reads and that table's resolution
— without touching the database, so a test can read the SQL a query becomes. Everything that
reads data runs them here:

- ``session()``: one transaction with PostgreSQL's ``statement_timeout`` at ``QUERY_TIMEOUT_S``;
  a cancelled statement becomes ``QUERY_TIMEOUT`` (504), never a 500; a statement returning more
  than ``MAX_ROWS`` rows is ``QUERY_TOO_LARGE``.
- ``answer()``: the one cache policy. The key is a kind, the project, ``CACHE_VERSION`` and the
  canonical spec (the normalised query text, the range rounded to 10 s, the step, the options);
  an answer is kept with the project's marks it was computed under (``freshness``: erasures,
  the catalogue's version for series, and the data version — bumped when the rollup fold takes
  in new data — for an answer whose range reaches now) and read back only while they still
  hold; it lives 10 s when it reaches now, and 300 s otherwise. The marks and the answer are
  read in one round trip. ``meta`` says whether the answer came from the cache and how long it
  took.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
import psycopg
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from psycopg import sql

from analytics_site.errors import ApiError
from analytics_site.renderers import JSONText

from .. import freshness
from . import replicas

# Bump when an answer's shape or meaning changes, or how it is kept: entries cached under the old
# one are not read (2: series answers kept as JSON, ``Packed``, which older code cannot read;
# 3: kept with the marks they were computed under instead of the marks in the key).
CACHE_VERSION = 3
NOW_TTL_S = 10
PAST_TTL_S = 300
MAX_ROWS = 2_000_000
# Memory a read's sorts and hashes may use before spilling to disk: funnels, retention and the
# sketches of the breakdowns sort up to a few million rows.
WORK_MEM = "64MB"
SESSION = {"work_mem": WORK_MEM}  # what a statement's own settings go back to
# What a statement may set for itself (``Statement.planner``), back to the default after it.
PLANNER_SETTINGS = frozenset({"parallel_tuple_cost", "work_mem"})
# For the reports that read a million rows or more: PostgreSQL prices handing a row from a
# parallel worker to the leader (0.1) so high that with narrow rows it reads them in one process
# instead — 10-30 % slower for funnels and retention at 10 M events.
PARALLEL = (("parallel_tuple_cost", "0.01"),)
# No JIT compilation for reads: on the product reports it cost seconds (3.5 s of a paths query
# over 30 days) and won back less; the reads here are many, short and different.


class QueryTimeout(ApiError):
    status = 504
    code = "QUERY_TIMEOUT"


class QueryTooLarge(ApiError):
    status = 400
    code = "QUERY_TOO_LARGE"


@dataclass(frozen=True)
class Statement:
    """One statement of the read path. ``table`` is what it reads (``meta.tables``);
    ``resolution`` the seconds one row of it covers (None: raw rows); ``planner``: planner
    settings for this statement alone (names in ``PLANNER_SETTINGS``)."""

    sql: sql.Composable
    params: dict | list = field(default_factory=dict)
    table: str = ""
    resolution: int | None = None
    planner: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        for name, _ in self.planner:
            if name not in PLANNER_SETTINGS:
                raise ValueError(f"{name}: not a planner setting a statement may change")

    def as_text(self) -> str:
        """The SQL as sent (parameters stay placeholders): what the snapshot tests compare."""
        return self.sql.as_string(None)


@dataclass
class Session:
    cursor: Any
    aside: Any = None  # the settings' cursor (pipelined, their rows must not reach ``cursor``)
    ran: list[Statement] = field(default_factory=list)
    replica: bool = False  # on a read replica (which may be behind the primary)

    def __post_init__(self):
        self.aside = self.aside or self.cursor

    def rows(self, statement: Statement) -> list[tuple]:
        self.ran.append(statement)
        _plan_with(self.aside, statement.planner)
        self.cursor.execute(statement.sql, statement.params)
        rows = self.cursor.fetchmany(MAX_ROWS + 1)
        # (A failed statement ends the transaction, and its settings with it.)
        _plan_with(self.aside, tuple((name, SESSION.get(name, "DEFAULT"))
                                     for name, _ in statement.planner))
        if len(rows) > MAX_ROWS:
            raise QueryTooLarge(f"The query returns more than {MAX_ROWS} rows; narrow the range "
                                "or add filters.", details={"max_rows": MAX_ROWS})
        return rows

    def one(self, statement: Statement) -> tuple | None:
        rows = self.rows(statement)
        return rows[0] if rows else None


def _set(cursor, values: tuple[tuple[str, str], ...]) -> None:
    """Settings for the rest of the transaction, all in one round trip (``set_config`` with
    ``is_local``: ``SET LOCAL``); ``DEFAULT`` (a NULL value) puts one back to its default."""
    if not values:
        return
    calls = sql.SQL(", ").join(
        sql.SQL("set_config({}, {}, true)").format(
            sql.Literal(name), sql.NULL if value == "DEFAULT" else sql.Literal(value))
        for name, value in values)
    cursor.execute(sql.SQL("SELECT {}").format(calls))


def _plan_with(cursor, planner: tuple[tuple[str, str], ...]) -> None:
    _set(cursor, planner)


def _settings(cursor, timeout: float) -> None:
    _set(cursor, (("statement_timeout", f"{int(timeout * 1000)}ms"),
                  ("work_mem", SESSION["work_mem"]), ("jit", "off")))


# The cursors of the pipelined session open in this context, if any: a session opened inside it
# joins it (entering the pipeline again would sync, ending its transaction and its settings).
_open: ContextVar[tuple[Any, Any] | None] = ContextVar("read_session_open", default=None)


@contextmanager
def _primary() -> Iterator[tuple[Any, Any]]:
    """Cursors on the primary for one session — its statements', and its settings' — sent in
    psycopg's pipeline mode: a statement's settings (and putting them back) go out with the
    statement after them instead of a round trip each; each ``rows()`` still waits for its own
    rows. Outside a transaction the session is the pipeline's own implicit one (PostgreSQL ends
    it at the pipeline's sync), so it costs no ``BEGIN`` and ``COMMIT`` round trips; inside one (a
    caller's ``atomic``), or where libpq has no pipeline mode, it is a savepoint or a
    transaction. A session only reads: it commits at its end even when a statement failed, and
    an ORM write inside it would not see its row count until then."""
    if (joined := _open.get()) is not None:
        yield joined
        return
    if not psycopg.Pipeline.is_supported():
        with transaction.atomic(), connection.cursor() as cursor:
            yield cursor, cursor
        return
    outer = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with outer, connection.cursor() as cursor, connection.cursor() as aside, \
            connection.wrap_database_errors, cursor.connection.pipeline():  # (its sync's errors
        token = _open.set((cursor, aside))                                   # too)
        try:
            yield cursor, aside
        finally:
            _open.reset(token)


@contextmanager
def session(timeout_s: float | None = None) -> Iterator[Session]:
    """Statements run in one transaction under the query timeout (the default
    ``QUERY_TIMEOUT_S``); leaving the block ends it. Inside ``answer()``'s computation it runs
    on a read replica when one is configured and fit (``replicas``), else on the primary."""
    timeout = settings.QUERY_TIMEOUT_S if timeout_s is None else timeout_s
    timed_out = QueryTimeout(f"The query took longer than {timeout:g} s; narrow the range, "
                             "add filters or use a larger step.", details={"timeout_s": timeout})
    context = replicas.reading.get()
    replica = replicas.pick(context[0]) if context is not None and context[2] else None
    if replica is not None:
        try:
            with replicas.cursor(replica) as cursor:
                if cursor is not None:
                    context[1].add(replica.name)
                    _settings(cursor, timeout)
                    yield Session(cursor, replica=True)
                    return
        except psycopg.errors.QueryCanceled:
            raise timed_out from None
    if context is not None:
        context[1].add("primary")
    try:
        with _primary() as (cursor, aside):
            _settings(aside, timeout)
            yield Session(cursor, aside)
    except OperationalError as exc:
        if isinstance(exc.__cause__, psycopg.errors.QueryCanceled):
            raise timed_out from None
        raise


def rows(statement: Statement) -> list[tuple]:
    """One statement in a session of its own."""
    with session() as s:
        return s.rows(statement)


# -- the cache policy -----------------------------------------------------------------------------
def rounded(moment) -> int:
    """Epoch seconds down to 10 s: the cache's grain for times in a spec."""
    return int(moment.timestamp()) // 10 * 10


def cache_key(kind: str, project_id: int, spec: dict) -> str:
    canonical = orjson.dumps({"kind": kind, "project": project_id, "v": CACHE_VERSION,
                              "spec": spec}, option=orjson.OPT_SORT_KEYS)
    return f"query:{hashlib.sha256(canonical).hexdigest()}"


def _stamp(kind: str, reaches_now: bool, marks: tuple[int, int, int]) -> tuple:
    """The marks an answer holds for: erasures always; the catalogue's version for series
    (they carry its units); the data version when it reaches now (new data folded since makes
    it another answer)."""
    erased, catalogue, version = marks
    return (erased, catalogue if kind == "series" else None, version if reaches_now else None)


# Datetimes, dataclasses and subclasses of str, int, dict, list, which orjson would write as
# something else than they are read back, are refused instead (not packed). Tuples would be
# written as lists and NaN as null: the bodies packed hold neither (``answer``'s ``pack``).
_STRICT = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
           | orjson.OPT_PASSTHROUGH_SUBCLASS)


class Packed(NamedTuple):
    """How an answer of plain JSON values is cached: its ``meta`` and each other part as JSON.
    Read back, the parts are decoded (faster than unpickling them), or handed on as they are
    for the API (``as_json``: ``JSONText``, which its renderer writes as it is — a cached series
    answer is neither decoded into thousands of Python lists nor encoded again)."""

    meta: dict
    parts: dict[str, bytes]

    @classmethod
    def of(cls, body: dict) -> Packed | dict:
        """Packed, or ``body`` itself when a part holds what JSON does not (a datetime, a
        non-string key, an integer past 64 bits): those are kept as they are."""
        try:
            parts = {name: orjson.dumps(value, option=_STRICT)
                     for name, value in body.items() if name != "meta"}
        except orjson.JSONEncodeError:
            return body
        return cls(body.get("meta", {}), parts)

    def body(self, *, as_json: bool) -> dict:
        found = {name: JSONText(text) if as_json else orjson.loads(text)
                 for name, text in self.parts.items()}
        found["meta"] = self.meta
        return found


def answer(*, kind: str, project_id: int, spec: dict, reaches_now: bool,
           compute: Callable[[], dict], use_cache: bool = True, pack: bool = False,
           as_json: bool = False) -> dict:
    """``compute()`` (a JSON-safe dict), or its cached copy; ``meta.cached`` and
    ``meta.took_ms`` are set either way (``meta`` is added when the answer has none).
    ``pack``: the answer holds plain JSON values only (dicts with string keys, lists — never
    tuples —, strings, numbers, booleans, null), so it is cached as JSON (``Packed``).
    ``as_json``: a packed answer, read from the cache or just computed, may have its parts as
    ``JSONText`` (encoded once, for the cache and the answer alike), for the API's renderer
    only."""
    try:
        return _answer(kind=kind, project_id=project_id, spec=spec, reaches_now=reaches_now,
                       compute=compute, use_cache=use_cache, pack=pack, as_json=as_json)
    finally:
        freshness.forget_seen()


def _answer(*, kind, project_id, spec, reaches_now, compute, use_cache, pack, as_json) -> dict:
    started = time.perf_counter()
    key = cache_key(kind, project_id, spec)
    marks, kept = freshness.marks_and(project_id, key if use_cache else None)
    stamp = _stamp(kind, reaches_now, marks)
    body = kept[1] if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == stamp else None
    cached = body is not None
    if isinstance(body, Packed):
        body = body.body(as_json=as_json)
    if body is None:
        read_from: set[str] = set()
        token = replicas.reading.set((project_id, read_from, True))
        try:
            body = compute()
        except (replicas.ReplicaFailed, psycopg.OperationalError) as exc:
            if isinstance(exc, psycopg.errors.QueryCanceled) or read_from <= {"primary"}:
                raise
            # A replica failed mid-computation: the whole answer again, on the primary.
            read_from.clear()
            replicas.reading.set((project_id, read_from, False))
            body = compute()
        finally:
            replicas.reading.reset(token)
        meta = body.setdefault("meta", {})
        meta["cached"] = False
        meta["read_from"] = sorted(read_from)
        stored = Packed.of(body) if pack and (use_cache or as_json) else body
        if use_cache:
            cache.set(key, (stamp, stored), NOW_TTL_S if reaches_now else PAST_TTL_S)
        if as_json and isinstance(stored, Packed):  # encoded once: the API sends what is kept
            body = stored.body(as_json=True)
    meta = body.setdefault("meta", {})
    meta["cached"] = cached
    meta["took_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return body
