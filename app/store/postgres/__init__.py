"""The PostgreSQL engine: the same operations, for several app servers on one database.

Each worker process opens its own pool on first use (after gunicorn forks). Name
uniqueness per tenant is the database's: a unique index over (tenant_id, name_key), the
rules.same_name of each name, so servers racing for one name never both get it. Updates
and deletes of one tenant's datasets take its row in `tenants` first, which serialises
them, keeps its count of datasets and gives it a new stamp; creates count in one of the
tenant's 16 shard rows instead, side by side, unless near the limit (schema.py, version
5). A request's round trips are few: a read or a create or update is one statement each
(creates and updates are functions of schema.py), with no round trip to check a
connection first; a page of a list read before, while the tenant's stamp and count are the
same, is one short statement instead of the page's. A key found before is not looked up
again: the request's statement checks it is still there.
"""

import os
import threading
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb, set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from app.store import (IdempotencyMismatch, KeyRevoked, LimitReached, NameTaken, NotFound, Store,
                       StoreBusy, StoreError, rules)
from app.store.postgres.connections import connection, parse
from app.store.postgres.schema import NO_STATEMENT_TIMEOUT, migrate
from app.store.postgres.sql import (CHECK, CREATE, DATASET_COLUMNS, GET, IDEMPOTENCY_MISMATCH,
                                    KEY_COLUMNS, KNOWN, LIMIT_REACHED, NAME_TAKEN, NEAR_LIMIT,
                                    STAMP, TENANTS, UPDATE, called, checked, listing, loads,
                                    own_fields, record, unstorable)


PAGE_MOST = 100  # records of a page that is kept, at most (the current API's largest page)
KEPT_RECORDS = 2000  # records of the pages kept by a process; past that, it starts again
KEPT_KEYS = 1000  # keys a process knows, at most; past that, it starts again
NAME_RACES = 10  # times a create or rename is sent again after losing its name to another


class NearLimit(Exception):
    """A create that must be sent again taking all of its tenant's shards."""


class PostgresStore(Store):
    """Keys and datasets in PostgreSQL."""

    KEYS_KEPT = True

    def __init__(self, url, config):
        self.url = url
        self.location, options = parse(url)
        self.dataset_limit = int(config["TENANT_DATASET_LIMIT"])
        self.timeout = float(config["LOCK_TIMEOUT"])
        wait = int(self.timeout * 1000)  # the URL's own options (a search_path...) are kept
        self.options = " ".join(filter(None, [options, f"-c statement_timeout={wait}",
                                              f"-c lock_timeout={wait}"]))
        self._pool, self._pid = None, None
        self._mutex = threading.Lock()
        self._pages, self._kept = {}, 0  # pages of lists read: (stamp, records, total)
        self._keys = {}  # keys found, by digest
        self._unchecked = threading.local()  # .digest: the thread's key found, not checked

    def _open(self):
        """This process's pool, made on first use, with the schema brought up to date."""
        with self._mutex:
            if self._pid != os.getpid():
                self._pool, self._pid = None, os.getpid()  # the parent's is not ours
            if self._pool is None:
                pool = ConnectionPool(
                    self.url, min_size=1, max_size=4, timeout=3, open=False,
                    reconnect_timeout=0, configure=lambda conn: set_json_loads(loads, conn),
                    kwargs={"connect_timeout": 3, "row_factory": dict_row, "autocommit": True,
                            "client_encoding": "UTF8",  # whatever PGCLIENTENCODING says
                            "options": self.options})
                pool.open(wait=False)
                try:
                    with pool.connection() as conn:
                        migrate(conn)
                except BaseException:
                    pool.close()
                    raise
                self._pool = pool
            return self._pool

    def _connection(self, timeout=None):
        """A connection of this process's pool (connections.connection)."""
        return connection(self._open(), timeout)

    @contextmanager
    def _errors(self):
        """Database errors as StoreError (StoreBusy when the server cannot be reached or a
        wait ran out)."""
        try:
            yield
        except PoolTimeout as err:
            raise StoreBusy(f"{self.location}: no connection to PostgreSQL: {err}") from err
        except (psycopg.OperationalError, psycopg.errors.QueryCanceled,
                psycopg.errors.LockNotAvailable) as err:
            raise StoreBusy(f"{self.location}: {err}".strip()) from err
        except psycopg.Error as err:
            raise StoreError(f"{self.location}: {err}".strip()) from err

    @contextmanager
    def _transaction(self):
        """A connection in a transaction."""
        with self._errors(), self._connection() as conn, conn.transaction():
            yield conn

    def _read(self, work):
        """`work(conn)`, its statements each committing by itself (fewer round trips). If
        the connection turns out cut (a restart of the server ends them all), the pool's
        others are checked, the cut ones replaced, and `work` runs once more: a read may be
        repeated, where a write might be done twice."""
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

    def _take_unchecked(self):
        """The digest of the thread's key if find_key answered it without looking and no
        statement has checked it since: the caller's statement checks it."""
        digest, self._unchecked.digest = getattr(self._unchecked, "digest", None), None
        return digest

    def _refused(self, digest):
        self._keys.pop(digest, None)
        return KeyRevoked()

    def _check(self, conn, digest):
        """Raise KeyRevoked if the key with `digest` (None: none to check) is gone."""
        if digest is not None and not conn.execute(f"SELECT {KNOWN} AS known",
                                                   (digest,)).fetchone()["known"]:
            raise self._refused(digest)

    def _call(self, call, args, refusals):
        """One statement, so one transaction and one round trip (a function of schema.py,
        not called if the thread's key is gone): the value it returns, or the exception
        `refusals` names for its SQLSTATE. A statement that lost a name to a create or a
        rename under way beside it (schema.py, version 5) is sent again: it did nothing,
        and the name is seen taken now."""
        digest = self._take_unchecked()
        with self._errors(), self._connection() as conn:
            for attempt in range(NAME_RACES):
                try:
                    row = conn.execute(*called(call, args, digest)).fetchone()
                    break
                except psycopg.errors.ExclusionViolation:
                    if attempt == NAME_RACES - 1:
                        raise
                except psycopg.Error as err:
                    if err.sqlstate in refusals:
                        raise refusals[err.sqlstate]() from None
                    raise
        if not row["known"]:
            raise self._refused(digest)
        return row["value"]

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
        self._unchecked.digest = None
        if unstorable(digest):
            return None
        key = self._keys.get(digest)
        if key is not None:
            self._unchecked.digest = digest
            return key
        key = self._read(lambda conn: conn.execute(
            f"SELECT {KEY_COLUMNS} FROM keys WHERE digest = %s", (digest,)).fetchone())
        if key is not None:
            if len(self._keys) >= KEPT_KEYS:
                self._keys.clear()
            self._keys[digest] = key
        return key

    def confirm_key(self):
        digest = self._take_unchecked()
        if digest is not None:
            self._read(lambda conn: self._check(conn, digest))

    def list_keys(self):
        return self._read(lambda conn: conn.execute(
            f"SELECT {KEY_COLUMNS} FROM keys ORDER BY seq").fetchall())

    def revoke_key(self, key_id):
        self._keys.clear()
        with self._errors(), self._connection() as conn:
            return conn.execute("DELETE FROM keys WHERE id = %s", (key_id,)).rowcount == 1

    def note_use(self, key, now):
        stale = now - rules.TOUCH_INTERVAL
        if (key["last_used"] or 0) > stale:
            return
        try:
            with self._errors(), self._connection(timeout=0.5) as conn:
                conn.execute("UPDATE keys SET last_used = %s WHERE id = %s"
                             " AND coalesce(last_used, 0) <= %s", (now, key["id"], stale))
            key["last_used"] = now  # as find_key answers it next
        except StoreBusy:
            pass  # bookkeeping never waits: the next request writes it

    def tenant_exists(self, tenant):
        return self._read(lambda conn: conn.execute(
            "SELECT 1 FROM tenants WHERE id = %s", (tenant,)).fetchone()) is not None

    def list_tenants(self):
        return self._read(lambda conn: conn.execute(TENANTS).fetchall())

    # Datasets

    def create_dataset(self, tenant, fields, now, idempotency=None):
        """A create counts in one of the tenant's shards beside others, unless it has an
        Idempotency-Key or the tenant is near its limit: then it takes them all
        (schema.py, version 5)."""
        dataset = rules.new_dataset(fields)
        key, fingerprint = idempotency or (None, None)
        args = (tenant, os.urandom(16).hex(), dataset["name"], rules.same_name(dataset["name"]),
                Jsonb(own_fields(dataset)), now, self.dataset_limit, key, fingerprint,
                now - rules.IDEMPOTENCY_TTL)
        refusals = {LIMIT_REACHED: lambda: LimitReached(self.dataset_limit),
                    IDEMPOTENCY_MISMATCH: lambda: IdempotencyMismatch(key),
                    NEAR_LIMIT: NearLimit}
        try:
            return self._call(CREATE, (*args, key is not None), refusals)
        except NearLimit:
            return self._call(CREATE, (*args, True), refusals)

    def get_dataset(self, tenant, dataset_id):
        if unstorable(dataset_id):
            return None
        digest = self._take_unchecked()
        row = self._read(lambda conn: conn.execute(
            *checked(GET, (tenant, dataset_id), digest)).fetchone())
        if digest is not None and not row["known"]:
            raise self._refused(digest)
        return record(row) if row and row["id"] is not None else None

    def list_datasets(self, tenant, name=None, dataset_id=None, orderby="create_time",
                      desc=True, offset=0, limit=None):
        """A page read before is answered again while the tenant's stamp is the one it was
        read with (schema.py, version 4): one short query instead of the page's."""
        if unstorable(name, dataset_id):
            return [], 0
        key = (tenant, name, dataset_id, orderby, desc, offset, limit)
        kept = self._pages.get(key)
        digest = self._take_unchecked()

        def read(conn):
            unchecked = digest
            if kept is not None:
                row = conn.execute(*checked(STAMP, (tenant,), unchecked)).fetchone()
                if unchecked is not None and not row["known"]:
                    return None
                if row is not None and row["stamp"] == kept[0]:
                    return kept
                unchecked = None
            query, args, summary, summary_args = listing(*key, unchecked)
            rows = conn.execute(query, args).fetchall()
            head = rows[0] if rows else conn.execute(summary, summary_args).fetchone()
            if not head["known"]:
                return None
            return head["stamp"], [record(row) for row in rows], head["total"] or 0

        page = self._read(read)
        if page is None:
            raise self._refused(digest)
        if page is not kept and page[0] is not None and len(page[1]) <= PAGE_MOST:
            self._kept += len(page[1])
            if self._kept > KEPT_RECORDS:
                self._pages.clear()
                self._kept = len(page[1])
            self._pages[key] = page
        return list(page[1]), page[2]

    def update_dataset(self, tenant, dataset_id, changes, now, rename_taken=False):
        rules.new_dataset(changes)  # raises on a field that is not a dataset's
        if unstorable(dataset_id):
            return None
        name = changes.get("name")
        return self._call(UPDATE, (
            tenant, dataset_id, Jsonb(own_fields(changes)), name,
            None if name is None else rules.same_name(name), now, rename_taken,
        ), {NAME_TAKEN: lambda: NameTaken(name)})

    def delete_datasets(self, tenant, ids=None):
        digest = self._take_unchecked()
        with self._transaction() as conn:
            self._check(conn, digest)
            # The tenant's row, if it has one (a tenant without one has no datasets).
            conn.execute("SELECT 1 FROM tenants WHERE id = %s FOR UPDATE", (tenant,))
            if ids is None:
                rows = conn.execute(f"DELETE FROM datasets WHERE tenant_id = %s"
                                    f" RETURNING seq, {DATASET_COLUMNS}", (tenant,)).fetchall()
            else:
                ids = list(dict.fromkeys(ids))
                rows = conn.execute(
                    f"DELETE FROM datasets WHERE tenant_id = %s AND id = ANY(%s) RETURNING seq,"
                    f" {DATASET_COLUMNS}", (tenant, [i for i in ids if not unstorable(i)])
                ).fetchall()
                missing = [i for i in ids if i not in {row["id"] for row in rows}]
                if missing:
                    raise NotFound(missing)  # the transaction is rolled back
            conn.execute("UPDATE tenants SET datasets = datasets - %s WHERE id = %s",
                         (len(rows), tenant))
        order = {i: n for n, i in enumerate(ids)} if ids else {}
        rows.sort(key=lambda row: order.get(row["id"], row["seq"]))
        return [record(row) for row in rows]

    # Operation

    def health(self):
        self._read(lambda conn: conn.execute("SELECT version FROM schema_version"))

    def check(self):
        counts = self._read(lambda conn: conn.execute(CHECK).fetchone())
        if counts.pop("wrong"):
            raise StoreError(f"{self.location}: tenants' counts of datasets are wrong")
        return counts

    def export(self):
        with self._transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one snapshot
            conn.execute(NO_STATEMENT_TIMEOUT)
            return {
                "keys": conn.execute(f"SELECT {KEY_COLUMNS} FROM keys ORDER BY seq").fetchall(),
                "tenants": conn.execute("SELECT id, created FROM tenants ORDER BY seq")
                           .fetchall(),
                "datasets": [record(row) for row in conn.execute(  # by tenant, as the file
                    f"SELECT {DATASET_COLUMNS} FROM datasets ORDER BY (SELECT seq FROM tenants"
                    f" WHERE tenants.id = datasets.tenant_id), seq")],
                "idempotency": conn.execute("SELECT tenant, key, fingerprint, created, dataset"
                                            " FROM idempotency ORDER BY created").fetchall()}

    def import_(self, data):
        with self._transaction() as conn:
            if conn.execute("SELECT EXISTS (SELECT FROM tenants) OR EXISTS (SELECT FROM keys)"
                            " AS used").fetchone()["used"]:
                raise StoreError(f"{self.location} is not empty: import only into a new store")
            conn.execute(NO_STATEMENT_TIMEOUT)
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO tenants (id, created) VALUES (%(id)s, %(created)s)",
                                data["tenants"])
                cur.executemany("INSERT INTO keys (id, tenant, name, digest, created, last_used)"
                                " VALUES (%(id)s, %(tenant)s, %(name)s, %(digest)s,"
                                " %(created)s, %(last_used)s)", data["keys"])
                with cur.copy("COPY datasets (tenant_id, id, name, name_key, fields,"
                              " create_time, update_time) FROM STDIN") as copy:
                    for d in data["datasets"]:
                        copy.write_row((d["tenant_id"], d["id"], d["name"],
                                        rules.same_name(d["name"]), Jsonb(own_fields(d)),
                                        d["create_time"], d["update_time"]))
                cur.execute("UPDATE tenants t SET datasets = (SELECT count(*) FROM datasets d"
                            " WHERE d.tenant_id = t.id)")
                cur.executemany("INSERT INTO idempotency VALUES (%s, %s, %s, %s, %s)",
                                [(e["tenant"], e["key"], e["fingerprint"], e["created"],
                                  Jsonb(e["dataset"])) for e in data["idempotency"]])

    def close(self):
        with self._mutex:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.close()
            self._pool = None

