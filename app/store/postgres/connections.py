"""The PostgreSQL engine's connections: where the URL points, and connections handed out
from the pool without those their server has ended."""

import select
from contextlib import contextmanager

import psycopg


def parse(url):
    """(where, options): the server and database of `url` for messages and logs (never the
    password, whatever the URL's form), and the server options it sets, if any."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "PostgreSQL (DATASET_API_DATABASE_URL does not parse)", None
    params.pop("password", None)
    options = params.pop("options", None)
    return psycopg.conninfo.make_conninfo(**params), options


def cut(conn):
    """Whether the server has ended `conn` (then closed here), seen without a round trip: an
    idle connection has nothing to read unless its server ended it (a restart, an idle
    timeout), which sends an error and closes it. (poll, not select: any descriptor.)"""
    waiting = select.poll()
    waiting.register(conn.fileno(), select.POLLIN)
    if waiting.poll(0):
        conn.close()
        return True
    return False


@contextmanager
def connection(pool, timeout=None):
    """A connection of `pool`, in autocommit, not one its server has ended: so a write is
    not sent on one after a restart. (Not the pool's `check`, which waits a second after
    each one it finds ended, and a restart ends them all.)"""
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
