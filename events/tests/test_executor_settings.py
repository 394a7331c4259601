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
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.QUERY_TIMEOUT_S = 7
    shown = Statement(sql.SQL("SELECT current_setting('statement_timeout'), "
                              "current_setting('work_mem'), current_setting('jit')"))
    with CaptureQueriesContext(connection) as ran:
        assert executor.rows(shown) == [("7s", executor.WORK_MEM, "off")]
    statements = [q["sql"] for q in ran.captured_queries]
    assert statements[0] == "BEGIN" and statements[-1] == "COMMIT"
    assert len(statements) == 4  # the settings and the statement: one round trip each
    with connection.cursor() as cursor:  # SET LOCAL: gone with the transaction
        cursor.execute("SELECT current_setting('statement_timeout') <> '7s'")
        assert cursor.fetchone() == (True,)
