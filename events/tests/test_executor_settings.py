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
