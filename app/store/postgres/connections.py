"""The PostgreSQL engine's connections: where the URL points, deadlines, and the pool's."""

import re
import select
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import ConnectionPool

from app.serving.metrics import waiting
from app.settings import ConfigError
from app.store.postgres.sql import dumps, loads

VARIABLE = "DATASET_API_DATABASE_URL"
SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
CONNECT_TIMEOUT = 3  # seconds to connect, at most


def parse(url):
    """(where, options): `url` without its password, and its server options, or ConfigError."""
    # Refused at once, and never quoted: it may hold the password.
    scheme = SCHEME.match(url)
    if not url.strip():
        raise ConfigError(f"{VARIABLE} must not be empty")
    if scheme and scheme[1] not in ("postgresql", "postgres"):
        raise ConfigError(f"{VARIABLE} must be a postgresql:// URL, not {scheme[1]}://")
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:  # its message may quote the URL
        raise ConfigError(f"{VARIABLE} does not parse as a PostgreSQL URL") from None
    if not params:  # all left to libpq's defaults: the local socket, as the login user
        raise ConfigError(f"{VARIABLE} names no server or database")
    options = params.get("options")
    if not scheme:  # libpq's key=value pairs
        shown = {k: v for k, v in params.items() if k not in ("password", "options")}
        return psycopg.conninfo.make_conninfo(**shown), options
    parts = urlsplit(url)
    user, at, hosts = parts.netloc.rpartition("@")
    query = "&".join(p for p in parts.query.split("&")
                     if unquote(p.partition("=")[0]) != "password")
    shown = f"{parts.scheme}://{user.partition(':')[0]}{at}{hosts}{parts.path}"
    return shown + (f"?{query}" if query else ""), options


def cause(err):
    """psycopg's message of `err` in one line: the server's, or libpq's last, without hints."""
    if err.diag.message_primary:  # the server's own (past it: the statement, its context)
        return err.diag.message_primary
    # A connection tried at several addresses fails with a line (and a hint) for each.
    lines = [line for line in str(err).splitlines() if line.strip() and not line[0].isspace()]
    last = lines[-1] if lines else type(err).__name__
    return last.removeprefix("connection failed: ").replace("FATAL:  ", "")


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


def settings(options, deadline):
    """The keyword arguments of Connection.connect, and a configure(conn) for the deadline."""
    def configure(conn):
        set_json_loads(loads, conn)
        set_json_dumps(dumps, conn)
        conn.deadline = deadline

    return {"connect_timeout": CONNECT_TIMEOUT, "row_factory": dict_row, "autocommit": True,
            "options": options, "client_encoding": "UTF8"}, configure  # not PGCLIENTENCODING's


def connect(url, options, deadline):
    """One Connection, outside any pool: a failure is psycopg's at once, not a pool's wait."""
    kwargs, configure = settings(options, deadline)
    conn = Connection.connect(url, **kwargs)
    configure(conn)
    return conn


def opened_pool(url, options, deadline):
    """A pool of Connections to `url` with these server options and deadline, opening."""
    kwargs, configure = settings(options, deadline)

    class Pooled(Connection):
        """The pool's connections; `failure`: why the last one could not be made, if it was not."""

        failure = None

        @classmethod
        def connect(cls, *args, **kwargs):
            try:
                conn = super().connect(*args, **kwargs)
            except psycopg.Error as err:
                cls.failure = cause(err)
                raise
            cls.failure = None
            return conn

    pool = ConnectionPool(url, min_size=1, max_size=4, timeout=3, open=False,
                          reconnect_timeout=0, configure=configure, connection_class=Pooled,
                          kwargs=kwargs)
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
    try:  # (not `with conn`: in autocommit its commit does nothing, and putconn rolls back)
        yield conn
    finally:
        pool.putconn(conn)
