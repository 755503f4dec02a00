"""The PostgreSQL engine: the same operations, for several app servers on one database."""

# Each worker process opens its own pool on first use (after gunicorn forks). Name
# uniqueness per tenant is the database's (schema.py), so servers racing for one name never
# both get it; a tenant's creates and deletes take its row, which counts its datasets.

import os
import threading
from contextlib import contextmanager

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import PoolTimeout

from app.store import (IdempotencyMismatch, LimitReached, NameTaken, NotFound, ReplayGone, Store,
                       StoreBusy, StoreError, rules)
from app.store.health import Writes
from app.store.postgres import transfer
from app.store.postgres.connections import (cause, connect, connection, opened_pool, parse,
                                            unbounded)
from app.store.postgres.documents import Documents
from app.store.postgres.files import Files, drop_files
from app.store.postgres.schema import NO_STATEMENT_TIMEOUT, migrate, version_of
from app.store.postgres.sql import (CHANGE, CHECK, CREATE, DATASET_COLUMNS,
                                    EXCLUSION_VIOLATION, GET, IDEMPOTENCY_MISMATCH, KEY_COLUMNS,
                                    LIMIT_REACHED, NAME_TAKEN, RENAME, REPLAY_GONE, TENANTS,
                                    listing, own_fields, record, unstorable)

WAIT_MOST = 5  # seconds a statement may wait for a lock or run, at most (LOCK_TIMEOUT below)
ANSWER_MARGIN = 1  # seconds past that before a server that does not answer is given up
DEADLOCKS = 5  # times a write undone by a deadlock is sent, at most


class PostgresStore(Documents, Files, Store):
    """Keys, datasets, documents, chunks and their bytes in PostgreSQL."""

    kind = "PostgreSQL"

    def __init__(self, url, config):
        self.url = url
        self.location, options = parse(url)
        self.dataset_limit = int(config["TENANT_DATASET_LIMIT"])
        self.timeout = min(float(config["LOCK_TIMEOUT"]), WAIT_MOST)
        # The server's own timeouts end what it runs; the deadline, a little later, what
        # it does not answer at all (connections.Connection).
        self.deadline = self.timeout + ANSWER_MARGIN
        wait = int(self.timeout * 1000)  # the URL's own options (a search_path...) are kept
        self.options = " ".join(filter(None, [options, f"-c statement_timeout={wait}",
                                              f"-c lock_timeout={wait}"]))
        self._pool, self._pid = None, None
        self._mutex = threading.Lock()
        self.writes = Writes(self._probe)  # any error since the last write: probe again

    def _open(self):
        """This process's pool, made on first use, with the schema brought up to date."""
        with self._mutex:
            if self._pid != os.getpid():
                self._pool, self._pid = None, os.getpid()  # the parent's is not ours
            if self._pool is None:
                # On a connection of its own, so that a wrong password, a missing database
                # or a server down is said at once, in libpq's words, not after a pool's wait.
                with connect(self.url, self.options, self.deadline) as conn:
                    migrate(conn)
                self._pool = opened_pool(self.url, self.options, self.deadline)
            return self._pool

    def _connection(self, timeout=None):
        """A connection of this process's pool (connections.connection)."""
        return connection(self._open(), timeout)

    @contextmanager
    def _errors(self):
        """Database errors as StoreError, StoreBusy if it may pass; each noted for health()."""
        try:
            yield
        except PoolTimeout as err:
            self.writes.fail(err)
            why = self._pool and self._pool.connection_class.failure  # none: all in use
            raise StoreBusy(f"{self.location}: no connection to PostgreSQL: {err}"
                            + (f": {why}" if why else "")) from err
        except (psycopg.OperationalError, psycopg.errors.QueryCanceled,
                psycopg.errors.LockNotAvailable) as err:
            self.writes.fail(err)
            raise StoreBusy(f"{self.location}: {cause(err)}") from err
        except psycopg.Error as err:
            self.writes.fail(err)
            raise StoreError(f"{self.location}: {cause(err)}") from err

    @contextmanager
    def _writing(self):
        """A write's errors as _errors has them, its success noted for health()."""
        with self._errors():
            yield
        self.writes.succeed()

    @contextmanager
    def _transaction(self):
        """A connection in a transaction that writes."""
        with self._writing(), self._connection() as conn, conn.transaction():
            yield conn

    def _read(self, work):
        """`work(conn)` in autocommit, once more on another connection if this one was cut."""
        # A restart of the server ends every connection: the pool's others are checked and
        # the cut ones replaced. A read may be repeated, where a write might be done twice.
        with self._errors():
            conn = None
            try:
                with self._connection() as conn:
                    return work(conn)
            except psycopg.OperationalError:
                if conn is None or not conn.broken:
                    raise
            self._open().check()
            with self._connection() as conn:
                return work(conn)

    def _call(self, call, args, refusals):
        """The row of one write statement, or the refusal its SQLSTATE maps to in `refusals`."""
        with self._writing(), self._connection() as conn:
            for attempt in range(DEADLOCKS):
                try:
                    return conn.execute(call, args).fetchone()
                except psycopg.errors.DeadlockDetected:
                    # A create and a rename claiming one name each wait for the other's
                    # exclusion check; the one PostgreSQL undoes did nothing: send it again.
                    if attempt == DEADLOCKS - 1:
                        raise
                except psycopg.Error as err:
                    if err.sqlstate not in refusals:
                        raise
                    raise refusals[err.sqlstate](err) from None

    # Keys and tenants

    def create_key(self, tenant, label, digest, now):
        key = {"id": os.urandom(16).hex(), "tenant": tenant, "name": label, "digest": digest,
               "created": now, "last_used": None}
        with self._transaction() as conn:
            conn.execute("INSERT INTO tenants (id, created) VALUES (%s, %s)"
                         " ON CONFLICT (id) DO NOTHING", (tenant, now))
            conn.execute("INSERT INTO keys (id, tenant, name, digest, created) VALUES"
                         " (%(id)s, %(tenant)s, %(name)s, %(digest)s, %(created)s)", key)
        return key

    def find_key(self, digest):
        if unstorable(digest):
            return None
        return self._read(lambda conn: conn.execute(
            f"SELECT {KEY_COLUMNS} FROM keys WHERE digest = %s", (digest,)).fetchone())

    def list_keys(self):
        return self._read(lambda conn: conn.execute(
            f"SELECT {KEY_COLUMNS} FROM keys ORDER BY seq").fetchall())

    def revoke_key(self, key_id):
        with self._writing(), self._connection() as conn:
            return conn.execute("DELETE FROM keys WHERE id = %s", (key_id,)).rowcount == 1

    def note_use(self, key, now):
        stale = now - rules.TOUCH_INTERVAL
        if (key["last_used"] or 0) > stale:
            return
        try:
            with self._writing(), self._connection(timeout=0.5) as conn:
                conn.execute("UPDATE keys SET last_used = %s WHERE id = (SELECT id FROM keys"
                             " WHERE id = %s AND coalesce(last_used, 0) <= %s"
                             " FOR UPDATE SKIP LOCKED)",  # a key another write holds: skipped
                             (now, key["id"], stale))
        except StoreBusy:
            pass  # bookkeeping never waits: the next request writes it

    def tenant_exists(self, tenant):
        return self._read(lambda conn: conn.execute(
            "SELECT 1 FROM tenants WHERE id = %s", (tenant,)).fetchone()) is not None

    def list_tenants(self):
        return self._read(lambda conn: conn.execute(TENANTS).fetchall())

    # Datasets

    def create_dataset(self, tenant, fields, now, idempotency=None):
        dataset = rules.new_dataset(fields)
        key, fingerprint = idempotency or (None, None)
        row = self._call(CREATE, (
            tenant, os.urandom(16).hex(), dataset["name"], rules.same_name(dataset["name"]),
            Jsonb(own_fields(dataset)), now, self.dataset_limit, key, fingerprint,
            now - rules.IDEMPOTENCY_TTL, rules.IDEMPOTENCY_MOST,
        ), {LIMIT_REACHED: lambda err: LimitReached(self.dataset_limit),
            IDEMPOTENCY_MISMATCH: lambda err: IdempotencyMismatch(key),
            REPLAY_GONE: lambda err: ReplayGone(err.diag.message_primary)})
        return record(row)

    def get_dataset(self, tenant, dataset_id):
        if unstorable(dataset_id):
            return None
        row = self._read(lambda conn: conn.execute(GET, (tenant, dataset_id)).fetchone())
        return None if row is None else record(row)

    def list_datasets(self, tenant, name=None, dataset_id=None, ids=None, keywords=None,
                      chunk_method=None, orderby="create_time", desc=True, offset=0, limit=None):
        if unstorable(name, dataset_id, keywords, chunk_method):
            return [], 0
        if ids is not None:
            ids = [i for i in ids if not unstorable(i)]
        query, args, summary, summary_args = listing(
            tenant, name, dataset_id, orderby, desc, offset, limit,
            ids=ids, keywords=keywords, chunk_method=chunk_method)

        def read(conn):
            rows = conn.execute(query, args).fetchall()
            head = rows[0] if rows else conn.execute(summary, summary_args).fetchone()
            return [record(row) for row in rows], head["total"] or 0

        return self._read(read)

    def update_dataset(self, tenant, dataset_id, patch, now):
        rules.new_dataset(patch.fields)  # raises on a field that is not a dataset's
        if unstorable(dataset_id):
            return None
        name = patch.fields.get("name")
        changes = (Jsonb(own_fields(patch.fields)),
                   None if patch.parser_config is None else Jsonb(patch.parser_config),
                   None if patch.method_config is None else Jsonb(patch.method_config))
        if name is None:
            row = self._call(CHANGE, (*changes, now, tenant, dataset_id), {})
        else:
            taken = lambda err: NameTaken(name)  # noqa: E731
            row = self._call(RENAME, (tenant, dataset_id, name, rules.same_name(name),
                                      *changes, now),
                             {NAME_TAKEN: taken, EXCLUSION_VIOLATION: taken})
        return None if row is None or row["id"] is None else record(row)

    def delete_datasets(self, tenant, ids=None):
        with self._transaction() as conn:
            # The tenant's row, if it has one (a tenant without one has no datasets).
            conn.execute("SELECT 1 FROM tenants WHERE id = %s FOR UPDATE", (tenant,))
            ids = None if ids is None else list(dict.fromkeys(ids))
            kept = None if ids is None else [i for i in ids if not unstorable(i)]
            found = [row["id"] for row in conn.execute(
                "SELECT id FROM datasets WHERE tenant_id = %s AND (%s::text[] IS NULL OR"
                " id = ANY(%s)) ORDER BY seq FOR UPDATE", (tenant, kept, kept))]
            missing = [i for i in ids or () if i not in set(found)]
            if missing:
                raise NotFound(missing)  # the transaction is rolled back
            locations = [row["location"] for row in conn.execute(
                "SELECT location FROM documents WHERE dataset_id = ANY(%s)", (found,))]
            rows = conn.execute(f"DELETE FROM datasets WHERE id = ANY(%s) RETURNING seq,"
                                f" {DATASET_COLUMNS}", (found,)).fetchall()
            drop_files(conn, locations)  # their documents and chunks went with them
            conn.execute("UPDATE tenants SET datasets = datasets - %s WHERE id = %s",
                         (len(rows), tenant))
        order = {i: n for n, i in enumerate(ids)} if ids else {}
        rows.sort(key=lambda row: order.get(row["id"], row["seq"]))
        return [record(row) for row in rows]

    # Operation

    def exists(self):
        with self._errors(), connect(self.url, self.options, self.deadline) as conn:
            return version_of(conn) > 0

    def health(self):
        self.writes.check()

    def _probe(self):
        with self._transaction() as conn:  # a write that changes nothing, of the store's own
            conn.execute("UPDATE schema_version SET version = version")

    def check(self):
        counts = self._read(lambda conn: conn.execute(CHECK).fetchone())
        if counts.pop("wrong"):
            raise StoreError(f"{self.location}: tenants' counts of datasets are wrong")
        if counts.pop("miscounted"):
            raise StoreError(f"{self.location}: datasets' counts of documents, chunks or"
                             f" tokens are wrong")
        return counts

    def export(self):
        with (self._errors(), self._connection() as conn, unbounded(conn),
              conn.transaction()):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one snapshot
            conn.execute(NO_STATEMENT_TIMEOUT)
            return transfer.export(conn)

    def import_(self, data):
        with self._transaction() as conn, unbounded(conn):
            if conn.execute("SELECT EXISTS (SELECT FROM tenants) OR EXISTS (SELECT FROM keys)"
                            " AS used").fetchone()["used"]:
                raise StoreError(f"{self.location} is not empty: import only into a new store")
            conn.execute(NO_STATEMENT_TIMEOUT)
            with conn.cursor() as cur:
                transfer.import_(cur, data)

    def close(self):
        with self._mutex:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.close()
            self._pool = None

