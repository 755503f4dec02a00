"""The PostgreSQL engine's connections: where the URL points, deadlines, and the pool's."""

import select
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool

from app.serving.metrics import waiting
from app.store.postgres.sql import loads


def parse(url):
    """(where, options): `url`'s server and database, without its password, and its options."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "PostgreSQL (DATASET_API_DATABASE_URL does not parse)", None
    params.pop("password", None)
    options = params.pop("options", None)
    return psycopg.conninfo.make_conninfo(**params), options


class Unanswered(psycopg.OperationalError):
    """The server did not answer within the connection's deadline."""


class Connection(psycopg.Connection):
    """A connection whose every wait for its server ends after `deadline` s (None: never)."""

    # Each statement, commit and check waits here. The server's own statement_timeout cannot
    # end a wait for a server that does not run (stopped, swapped out, a lost host), nor can
    # TCP keepalives while its kernel answers them; psycopg's `wait` takes a timeout and
    # works in any thread, where an alarm signal would only in the main one.

    deadline = None

    def wait(self, gen, interval=0.1, timeout=None):
        try:
            return super().wait(gen, interval, self.deadline if timeout is None else timeout)
        # psycopg names no public error for a wait past its `timeout`: its wait() raises this.
        except psycopg.errors._WaitTimeout:
            self.close()  # where it is in the protocol is unknown: the pool makes another
            raise Unanswered(f"no answer from the server in {self.deadline} s") from None


@contextmanager
def unbounded(conn):
    """`conn` without a deadline, for what may rightly take minutes (upgrades, exports...)."""
    if not isinstance(conn, Connection):  # a connection of psycopg's own has none
        yield conn
        return
    kept, conn.deadline = conn.deadline, None
    try:
        yield conn
    finally:
        conn.deadline = kept


def opened_pool(url, options, deadline):
    """A pool of Connections to `url` with these server options and deadline, opening."""
    def configure(conn):
        set_json_loads(loads, conn)
        conn.deadline = deadline

    pool = ConnectionPool(url, min_size=1, max_size=4, timeout=3, open=False,
                          reconnect_timeout=0, configure=configure, connection_class=Connection,
                          kwargs={"connect_timeout": 3, "row_factory": dict_row,
                                  "autocommit": True, "options": options,
                                  "client_encoding": "UTF8"})  # whatever PGCLIENTENCODING says
    pool.open(wait=False)
    return pool


def cut(conn):
    """Whether the server has ended `conn` (then closed here), seen without a round trip."""
    # An idle connection has nothing to read unless its server ended it (a restart, an idle
    # timeout), which sends an error and closes it. (poll, not select: any descriptor.)
    waiting = select.poll()
    waiting.register(conn.fileno(), select.POLLIN)
    if waiting.poll(0):
        conn.close()
        return True
    return False


@contextmanager
def connection(pool, timeout=None):
    """A connection of `pool`, in autocommit, not one its server has ended."""
    # So a write is not sent on one after a restart. (Not the pool's `check`, which waits a
    # second after each one it finds ended, and a restart ends them all.)
    with waiting("pool"):
        conn = pool.getconn(timeout)
        for _ in range(pool.max_size):  # each of its connections at most once
            if not cut(conn):
                break
            pool.putconn(conn)  # closed: the pool makes another
            conn = pool.getconn(timeout)
    try:
        with conn:
            yield conn
    finally:
        pool.putconn(conn)
