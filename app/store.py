"""The data store: one TinyDB JSON file, shared safely by several processes.

TinyDB alone is not safe for several processes, so every change here runs under an
exclusive flock on a lock file beside the store, on the latest version of the file, and
is committed by writing a temporary file in the same folder, fsyncing it, renaming it over
the store and fsyncing the folder. Readers take no lock: each process keeps the version it
parsed last and parses again only when the file's identity (device, inode, size, mtime)
has changed. The parsed file stays open while it is cached, so its inode cannot be reused
by a later version and be mistaken for it.
"""

import fcntl
import os
import re
import threading
import uuid
from contextlib import contextmanager

import orjson
from flask import current_app
from tinydb import Query, TinyDB
from tinydb.storages import Storage

KEYS = "keys"
TENANT = "tenant:"  # prefix of the tables that each hold one tenant's datasets
TENANT_ID = re.compile(r"[0-9a-f]{32}")
TOUCH_INTERVAL = 60_000  # ms: a key's last use is written at most once a minute

# Ties are broken by the TinyDB doc id, which grows with each insert: creation order.
ORDERINGS = {
    "create_time": lambda doc: (doc["create_time"], doc.doc_id),
    "update_time": lambda doc: (doc["update_time"], doc.doc_id),
    "name": lambda doc: (doc["name"].casefold(), doc.doc_id),
}
KEY_FIELDS = {"id", "tenant", "name", "digest", "created", "last_used"}
DATASET_FIELDS = {"id", "name", "create_time", "update_time"}


def _key_ok(doc):
    return (type(doc) is dict and doc.keys() == KEY_FIELDS
            and type(doc["id"]) is type(doc["tenant"]) is type(doc["name"]) is str
            and type(doc["digest"]) is str and type(doc["created"]) is int
            and (doc["last_used"] is None or type(doc["last_used"]) is int))


def _dataset_ok(doc):
    return (type(doc) is dict and doc.keys() == DATASET_FIELDS
            and type(doc["id"]) is type(doc["name"]) is str
            and type(doc["create_time"]) is type(doc["update_time"]) is int)


class StoreError(RuntimeError):
    """The store file cannot be read, parsed or written."""


def free_name(name, taken):
    """`name`, or the first of `name(1)`, `name(2)`... whose casefold is not in `taken`."""
    candidate, n = name, 0
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{name}({n})"
    return candidate


def check_shape(data):
    """Raise ValueError naming the first part of `data` that is not the store's layout."""
    if not isinstance(data, dict):
        raise ValueError("the top level is not a JSON object")
    for name, table in data.items():
        if name == KEYS:
            valid = _key_ok
        elif name.startswith(TENANT) and TENANT_ID.fullmatch(name[len(TENANT):]):
            valid = _dataset_ok
        else:
            raise ValueError(f"unexpected table {name!r}")
        if not isinstance(table, dict):
            raise ValueError(f"table {name!r} is not a JSON object")
        # map() keeps this loop in C: it runs on every parse of the file.
        if not (all(map(str.isdecimal, table)) and all(map(valid, table.values()))):
            bad = next(i for i, doc in table.items() if not (i.isdecimal() and valid(doc)))
            raise ValueError(f"record {bad!r} of table {name!r} is malformed")


def _identity(st):
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _close(fd):
    if fd is not None:
        os.close(fd)


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _next_id(table):
    """TinyDB's next doc id for `table`: one more than the largest, so ids follow creation."""
    return str(max(map(int, table), default=0) + 1)


def _pop(table, record_id):
    """Remove the record whose `id` is `record_id` from a raw table; False if none has it."""
    for doc_id, record in table.items():
        if record["id"] == record_id:
            del table[doc_id]
            return True
    return False


class _Memory(Storage):
    """TinyDB storage over the dict a snapshot parsed; the Store does the file I/O."""

    def __init__(self, data):
        self.data = data

    def read(self):
        return self.data

    def write(self, data):
        raise TypeError("the Store changes the parsed tables itself, under its lock")


class _Snapshot:
    """One version of the file, parsed, with the indexes built from it on demand."""

    def __init__(self, identity, data):
        self.identity = identity
        # A new TinyDB per version: its tables cache the next doc id and query results.
        self.db = TinyDB(data, storage=_Memory)
        self.tables = data
        self._keys = None
        self._listings = {}
        self._rendered = {}

    def key(self, digest):
        if self._keys is None:
            self._keys = {doc["digest"]: doc for doc in self.db.table(KEYS)}
        return self._keys.get(digest)

    def listing(self, tenant, orderby, desc):
        rows = self._listings.get((tenant, orderby, desc))
        if rows is None:
            docs = self.db.table(TENANT + tenant).all()
            for doc in docs:  # copies: the file's records stay as they are
                doc["tenant_id"] = tenant
            rows = sorted(docs, key=ORDERINGS[orderby], reverse=desc)
            self._listings[tenant, orderby, desc] = rows
        return rows

    def render(self, row, render):
        """`render(row)`, computed once per version of the file: listing is read-mostly."""
        key = (row["tenant_id"], row["id"])
        rendered = self._rendered.get(key)
        if rendered is None:
            rendered = self._rendered[key] = render(row)
        return rendered


class Store:
    """Keys and datasets, laid out by tenant, in one JSON file."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.folder, name = os.path.split(self.path)
        self.lock_path = self.path + ".lock"
        self.temp_path = os.path.join(self.folder, f".{name}.tmp")
        self._mutex = threading.Lock()  # threads of one process share the flock
        self._snapshot = None
        self._held = None  # fd of the snapshot's file
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as err:
            raise self._error("cannot create its folder", err) from err

    def _error(self, what, err):
        return StoreError(f"{self.path}: {what}: {getattr(err, 'strerror', None) or err}")

    # Reading

    def _current(self):
        """The snapshot of the file as it is now, parsed again only if it changed."""
        try:
            identity = _identity(os.stat(self.path))
        except FileNotFoundError:
            identity = None
        except OSError as err:
            raise self._error("cannot read", err) from err
        if self._snapshot is None or self._snapshot.identity != identity:
            self._snapshot = None
            self._snapshot = self._read()
        return self._snapshot

    def _read(self):
        """Parse the file; a missing file is an empty store, a damaged one an error."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            _close(self._hold(None))
            return _Snapshot(None, {})
        except OSError as err:
            raise self._error("cannot read", err) from err
        try:
            identity = _identity(os.fstat(fd))
            with open(fd, "rb", closefd=False) as file:
                data = orjson.loads(file.read())
        except OSError as err:
            os.close(fd)
            raise self._error("cannot read", err) from err
        except orjson.JSONDecodeError as err:
            os.close(fd)
            raise self._error("not valid JSON", err) from err
        try:
            check_shape(data)
        except ValueError as err:
            os.close(fd)
            raise self._error("not a dataset store", err) from err
        _close(self._hold(fd))
        return _Snapshot(identity, data)

    def _hold(self, fd):
        """Keep `fd` open with the snapshot; return the fd it replaces, for closing."""
        replaced, self._held = self._held, fd
        return replaced

    # Writing

    @contextmanager
    def _locked(self):
        """The cross-process lock: an exclusive flock, released even if the process dies."""
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise self._error("cannot open the lock file", err) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _update(self, change):
        """Run `change(tables)` on the latest version under the lock; commit if it returns
        a true value, and return that.

        Changes are made in place on the parsed tables, in TinyDB's layout: TinyDB's own
        insert and remove would copy the whole table twice per change.
        """
        with self._mutex:
            with self._locked():
                snapshot = self._current()
                try:
                    result = change(snapshot.tables)
                    replaced = self._commit(snapshot.tables) if result else None
                except BaseException:
                    self._snapshot = None  # it may hold a change that was never committed
                    raise
            _close(replaced)  # out of the lock: freeing the old file's blocks takes a while
        return result

    def _commit(self, tables):
        """Write `tables` as the new version; return the fd of the version it replaced."""
        fd = self._write_file(self.path, self.temp_path, orjson.dumps(tables))
        self._snapshot = _Snapshot(_identity(os.fstat(fd)), tables)
        return self._hold(fd)

    def _write_file(self, path, temp_path, payload):
        """Replace `path` atomically and durably with `payload`; return its open fd."""
        try:
            fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as err:
            raise self._error("cannot write", err) from err
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            os.rename(temp_path, path)
        except OSError as err:
            os.close(fd)
            _remove(temp_path)
            raise self._error("cannot write", err) from err
        try:
            folder = os.open(os.path.dirname(path), os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as err:
            os.close(fd)
            raise self._error("cannot sync its folder", err) from err
        return fd

    # Keys

    def find_key(self, digest):
        """The key record with this SHA-256 digest, or None."""
        with self._mutex:
            return self._current().key(digest)

    def note_use(self, key, now):
        """Record a key's use, at most once per TOUCH_INTERVAL across all processes."""
        stale = now - TOUCH_INTERVAL

        def touch(tables):  # checked again under the lock: another worker may have done it
            for record in tables.get(KEYS, {}).values():
                if record["id"] == key["id"] and (record["last_used"] or 0) <= stale:
                    record["last_used"] = now
                    return True
            return False

        if (key["last_used"] or 0) <= stale:
            self._update(touch)

    def create_key(self, tenant, name, digest, now):
        key = {"id": uuid.uuid4().hex, "tenant": tenant, "name": name, "digest": digest,
               "created": now, "last_used": None}

        def add(tables):
            keys = tables.setdefault(KEYS, {})
            keys[_next_id(keys)] = key
            return key

        return self._update(add)

    def keys(self):
        with self._mutex:
            return self._current().db.table(KEYS).all()

    def revoke_key(self, key_id):
        """Remove the key; False if there is none with that id."""
        return self._update(lambda tables: _pop(tables.get(KEYS, {}), key_id))

    def tenant_exists(self, tenant):
        with self._mutex:
            db = self._current().db
            return (TENANT + tenant in db.tables()
                    or db.table(KEYS).contains(Query().tenant == tenant))

    # Datasets

    def create_dataset(self, tenant, name, now):
        """Add a dataset, renamed to `name(N)` if the tenant has the name already."""
        def add(tables):
            table = tables.setdefault(TENANT + tenant, {})
            taken = {record["name"].casefold() for record in table.values()}
            record = {"id": uuid.uuid4().hex, "name": free_name(name, taken),
                      "create_time": now, "update_time": now}
            table[_next_id(table)] = record
            return {**record, "tenant_id": tenant}

        return self._update(add)

    def list_datasets(self, tenant, orderby, desc, offset, count, render):
        """A page of the tenant's datasets, each as `render` makes it (always one function)."""
        with self._mutex:
            snapshot = self._current()
            rows = snapshot.listing(tenant, orderby, desc)
            rows = rows[offset:] if count == -1 else rows[offset:offset + count]
            return [snapshot.render(row, render) for row in rows]

    def delete_dataset(self, tenant, dataset_id):
        """Remove the tenant's dataset; False if the tenant has none with that id."""
        return self._update(lambda tables: _pop(tables.get(TENANT + tenant, {}), dataset_id))

    # Operation

    def health(self):
        """Raise StoreError if the store cannot be read now."""
        with self._mutex:
            self._current()

    def verify(self):
        """Check every record and remove a temporary file a crash left; return counts."""
        with self._mutex, self._locked():
            _remove(self.temp_path)
            self._snapshot = None
            self._snapshot = self._read()
            tables = self._snapshot.tables
        tenants = [t for name, t in tables.items() if name.startswith(TENANT)]
        return {"keys": len(tables.get(KEYS, {})), "tenants": len(tenants),
                "datasets": sum(map(len, tenants))}

    def backup(self, target):
        """Write a checked copy of the store to `target`, atomically, while others serve."""
        target = os.path.abspath(target)
        folder, name = os.path.split(target)
        with self._mutex:
            self._snapshot = None
            snapshot = self._snapshot = self._read()
            payload = orjson.dumps(snapshot.tables)
        os.close(self._write_file(target, os.path.join(folder, f".{name}.tmp"), payload))


def init_app(app):
    app.extensions["store"] = Store(app.config["DB_PATH"])


def get_store():
    """The current app's store."""
    return current_app.extensions["store"]
