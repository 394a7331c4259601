"""A statement's own planner settings (``Statement.planner``) hold for it alone: the statements
after it in the same session see the session's settings again, and a name outside
``PLANNER_SETTINGS`` is refused when the statement is made."""

import pytest
from psycopg import sql

from events.query import executor
from events.query.executor import Statement

SHOW = sql.SQL("SELECT current_setting('work_mem'), current_setting('parallel_tuple_cost')")


@pytest.mark.django_db
def test_a_statements_planner_settings_hold_for_it_alone():
    own = Statement(SHOW, planner=(("work_mem", "128MB"), ("parallel_tuple_cost", "0.01")))
    with executor.session() as s:
        before = s.one(Statement(SHOW))
        during = s.one(own)
        after = s.one(Statement(SHOW))
    assert during == ("128MB", "0.01")
    assert before == after
    assert before[0] == executor.WORK_MEM and before[1] != "0.01"


def test_a_setting_outside_the_list_is_refused():
    with pytest.raises(ValueError, match="statement_timeout"):
        Statement(SHOW, planner=(("work_mem", "1GB"), ("statement_timeout", "0")))


@pytest.mark.django_db(transaction=True)  # the session's own transaction, not a savepoint
def test_a_session_is_set_up_in_one_statement_for_its_transaction_alone(settings):
    """Outside a transaction a session is the implicit transaction of psycopg's pipeline: its
    settings and its statements, and no ``BEGIN`` or ``COMMIT`` round trips."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.QUERY_TIMEOUT_S = 7
    shown = Statement(sql.SQL("SELECT current_setting('statement_timeout'), "
                              "current_setting('work_mem'), current_setting('jit')"))
    with CaptureQueriesContext(connection) as ran:
        assert executor.rows(shown) == [("7s", executor.WORK_MEM, "off")]
    statements = [q["sql"] for q in ran.captured_queries]
    assert len(statements) == 2 and statements[0].startswith("SELECT set_config(")
    assert "BEGIN" not in statements and "COMMIT" not in statements
    with connection.cursor() as cursor:  # set locally: gone with the session's transaction
        cursor.execute("SELECT current_setting('statement_timeout') <> '7s'")
        assert cursor.fetchone() == (True,)


@pytest.mark.django_db(transaction=True)
def test_a_sessions_statements_share_one_transaction_and_a_failed_one_ends_it_cleanly():
    from django.db import connection

    now = Statement(sql.SQL("SELECT now(), statement_timestamp()"))
    with executor.session() as s:
        (first, first_at), (second, second_at) = s.one(now), s.one(now)
    assert first == second and first_at < second_at  # one transaction: one now()
    failing = Statement(sql.SQL("SELECT 1 / (SELECT count(*) - count(*) FROM pg_class)"))
    with pytest.raises(Exception, match="division by zero"), executor.session() as s:
        s.rows(failing)
    assert executor.rows(Statement(sql.SQL("SELECT 41 + 1"))) == [(42,)]
    with connection.cursor() as cursor:  # the failed session's settings went with it
        cursor.execute("SELECT current_setting('work_mem')")
        assert cursor.fetchone() != (executor.WORK_MEM,)


@pytest.mark.django_db(transaction=True)
def test_inside_a_callers_transaction_a_session_is_a_savepoint_of_it():
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    shown = Statement(sql.SQL("SELECT current_setting('work_mem')"))
    with transaction.atomic(), CaptureQueriesContext(connection) as ran:
        assert executor.rows(shown) == [(executor.WORK_MEM,)]
        assert executor.rows(Statement(sql.SQL("SELECT 2"))) == [(2,)]
    statements = [q["sql"] for q in ran.captured_queries]
    assert len([q for q in statements if q.startswith("SAVEPOINT")]) == 2
    assert len([q for q in statements if q.startswith("RELEASE SAVEPOINT")]) == 2


@pytest.mark.django_db(transaction=True)
def test_a_session_opened_inside_another_joins_it(settings):
    """A session opened while another is open in the same context (a helper that reads on its
    own) runs in the outer one's transaction, and the outer one keeps its settings after it."""
    settings.QUERY_TIMEOUT_S = 9
    state = Statement(sql.SQL("SELECT now(), current_setting('statement_timeout'), "
                              "current_setting('work_mem')"))
    with executor.session() as outer:
        before = outer.one(state)
        inner = executor.rows(state)[0]
        after = outer.one(state)
    assert before == inner == after
    assert before[1:] == ("9s", executor.WORK_MEM)
