"""Django's PostgreSQL backend whose pool sweeps out dead connections at once.

With ``CONN_HEALTH_CHECKS``, Django has psycopg-pool check each connection as it hands it out;
after a PostgreSQL restart every idle connection of the pool is dead, and the pool's check loop
backs off before each next try — 0, 1, 2, 4, … seconds — so a web process's first request after
a restart waited one step per dead connection (seven seconds for four, a timeout for more).
Here the check is ours: the first dead connection found has the pool check all its idle ones
(``ConnectionPool.check()`` drops the broken and opens replacements), and the request takes a
live one without waiting out a backoff.
"""

from __future__ import annotations

import psycopg
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        pool = self.pool
        if pool is None:
            return connection
        try:  # a round trip: the server is still there (and no transaction left open)
            pool.check_connection(connection)
        except psycopg.Error:
            pool.putconn(connection)  # broken: the pool discards it and opens another
            pool.check()  # … and the other idle ones, dead since the same restart
            connection = super().get_new_connection(conn_params)
        return connection
