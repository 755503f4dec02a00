"""The data store: one TinyDB JSON file, shared safely by several processes.

TinyDB alone is not safe for several processes, so every change here runs under an
exclusive flock on a lock file beside the store, on the latest version of the file, and
is committed by writing a temporary file in the same folder, fsyncing it, renaming it over
the store and fsyncing the folder. Readers take no lock: each process keeps the version it
parsed last and looks again only when the file's identity (device, inode, size, mtime)
has changed. The parsed file stays open while it is cached, so its inode cannot be reused
by a later version and be mistaken for it.

Parsing the whole file again after every other worker's write would be most of a write's
cost, so the file also keeps the changes of its last commits, in a `changes` table on its
first line: a process a few versions behind reads that line and replays them. Anything
else (no such line, a gap, a version not ahead of ours) is read in full.
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
CHANGES = "changes"  # version -> the changes of that commit, for the last KEPT_CHANGES
KEPT_CHANGES = 32
HEAD = 65536  # bytes read to find the changes line
TENANT = "tenant:"  # prefix of the tables that each hold one tenant's datasets
TENANT_TABLE = re.compile(re.escape(TENANT) + r"[0-9a-f]{32}")
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


def _change_ok(change):
    """A change as `_apply` takes it, of a record that is valid in its table."""
    if type(change) is not list or len(change) not in (3, 4) or type(change[2]) is not str:
        return False
    valid = _validator(change[1])
    if valid in (None, _changes_ok) or not change[2].isdecimal():
        return False
    return change[0] == "del" if len(change) == 3 else change[0] == "put" and valid(change[3])


def _changes_ok(changes):
    return type(changes) is list and all(map(_change_ok, changes))


def _validator(name):
    """The check of a record of table `name`, or None if the store has no such table."""
    if name == CHANGES:
        return _changes_ok
    if name == KEYS:
        return _key_ok
    if isinstance(name, str) and TENANT_TABLE.fullmatch(name):
        return _dataset_ok
    return None


def check_shape(data):
    """Raise ValueError naming the first part of `data` that is not the store's layout."""
    if not isinstance(data, dict):
        raise ValueError("the top level is not a JSON object")
    for name, table in data.items():
        valid = _validator(name)
        if valid is None:
            raise ValueError(f"unexpected table {name!r}")
        if not isinstance(table, dict):
            raise ValueError(f"table {name!r} is not a JSON object")
        # map() keeps this loop in C: it runs on every parse of the file.
        if not (all(map(str.isdecimal, table)) and all(map(valid, table.values()))):
            bad = next(i for i, doc in table.items() if not (i.isdecimal() and valid(doc)))
            raise ValueError(f"record {bad!r} of table {name!r} is malformed")


def _identity(st):
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _largest_id(table):
    """The largest TinyDB doc id of `table`: the next is one more, so ids follow creation."""
    return max(map(int, table), default=0)


def _removal(tables, name, record_id):
    """(found, changes) removing the record whose `id` is `record_id` from table `name`."""
    for doc_id, record in tables.get(name, {}).items():
        if record["id"] == record_id:
            return True, [("del", name, doc_id)]
    return False, []


def _apply(tables, changes):
    """Make changes: ("put", table, doc id, record) or ("del", table, doc id)."""
    for change in changes:
        if change[0] == "put":
            tables.setdefault(change[1], {})[change[2]] = change[3]
        else:
            del tables[change[1]][change[2]]


def _version(tables):
    return _largest_id(tables.get(CHANGES, {}))


def _serialise(tables, encode=lambda name, table: orjson.dumps(table)):
    """The file: one JSON object with a table per line, the changes first."""
    ordered = sorted(tables.items(), key=lambda item: item[0] != CHANGES)
    lines = (orjson.dumps(name) + b":" + encode(name, table) for name, table in ordered)
    return b"{" + b",\n".join(lines) + b"}\n"


class _Memory(Storage):
    """TinyDB storage over the dict a snapshot parsed; the Store does the file I/O."""

    def __init__(self, data):
        self.data = data

    def read(self):
        return self.data

    def write(self, data):
        raise TypeError("the Store changes the parsed tables itself, under its lock")


class _Derived:
    """What is derived from the tables and kept up to date from version to version, so that
    a commit need not scan or encode a whole table again: per tenant table, the largest doc
    id and the casefolded names; per table, its JSON."""

    def __init__(self):
        self._tables = {}
        self._json = {}

    def encode(self, name, table):
        """Table `name`'s JSON: encoded again only when a change could not be spliced in."""
        if name == CHANGES:  # every commit changes it
            return orjson.dumps(table)
        encoded = self._json.get(name)
        if encoded is None:
            encoded = self._json[name] = orjson.dumps(table)
        return encoded

    def of(self, tables, name):
        """[largest doc id, set of casefolded names] of table `name`."""
        entry = self._tables.get(name)
        if entry is None:
            table = tables.get(name, {})
            entry = self._tables[name] = [_largest_id(table),
                                          {record["name"].casefold() for record in table.values()}]
        return entry

    def follow(self, tables, changes):
        """Take in `changes`, before they are applied to `tables` (a put on a tenant table
        always adds a record: datasets are never changed in place)."""
        for kind, name, doc_id, *record in changes:
            encoded = self._json.pop(name, None)
            if encoded is not None and kind == "put" and doc_id not in tables.get(name, {}):
                # A new doc id goes to the end of its table, and so of the table's JSON.
                added = orjson.dumps({doc_id: record[0]})
                self._json[name] = (added if encoded == b"{}"
                                    else b"".join((encoded[:-1], b",", added[1:])))
            entry = self._tables.get(name)
            if entry is None:
                continue
            if kind == "put":
                entry[0] = max(entry[0], int(doc_id))
                entry[1].add(record[0]["name"].casefold())
            else:
                entry[1].discard(tables[name][doc_id]["name"].casefold())


class _Snapshot:
    """One version of the file, parsed, with the indexes built from it on demand."""

    def __init__(self, identity, data, derived=None):
        self.identity = identity
        self.derived = derived or _Derived()
        # A new TinyDB per version: its tables cache query results.
        self.db = TinyDB(data, storage=_Memory)
        self.tables = data
        self.version = _version(data)
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
        self._retired = []  # fds of files it replaced, to close
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as err:
            raise self._error("cannot create its folder", err) from err

    def _error(self, what, err):
        return StoreError(f"{self.path}: {what}: {getattr(err, 'strerror', None) or err}")

    # Reading

    def _current(self):
        """The snapshot of the file as it is now, read again only if the file changed."""
        try:
            identity = _identity(os.stat(self.path))
        except FileNotFoundError:
            identity = None
        except OSError as err:
            raise self._error("cannot read", err) from err
        if self._snapshot is None or self._snapshot.identity != identity:
            known, self._snapshot = self._snapshot, None
            self._snapshot = self._read(known)
        return self._snapshot

    def _read(self, known=None):
        """Read the file, replaying its changes onto `known` when it can, else in full;
        a missing file is an empty store, a damaged one an error."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._hold(None)
            return _Snapshot(None, {})
        except OSError as err:
            raise self._error("cannot read", err) from err
        try:
            identity = _identity(os.fstat(fd))
            caught_up = known and self._replay(known, os.pread(fd, HEAD, 0))
            if caught_up:
                self._hold(fd)
                return _Snapshot(identity, *caught_up)
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
        self._hold(fd)
        return _Snapshot(identity, data)

    @staticmethod
    def _replay(known, head):
        """`known`'s tables and derived state brought up to the file's version from its changes
        line, or None if that cannot be done safely (then the file is read in full)."""
        end = head.find(b"\n")
        line = head[:end]
        if end < 0 or not line.startswith(b'{"changes":') or not line.endswith(b","):
            return None
        try:
            changes = orjson.loads(line[:-1] + b"}")[CHANGES]
            versions = range(known.version + 1, _largest_id(changes) + 1)
            if not versions or not all(_changes_ok(changes.get(str(v))) for v in versions):
                return None
            tables = known.tables  # `known` is being replaced: its tables can be reused
            for version in versions:
                known.derived.follow(tables, changes[str(version)])
                _apply(tables, changes[str(version)])
        except (ValueError, LookupError, TypeError, AttributeError):
            return None  # a damaged line; the full read says what is wrong
        tables[CHANGES] = changes
        return tables, known.derived

    def _hold(self, fd):
        """Keep `fd` open with the snapshot; the one it replaces is closed by `_latest`."""
        if self._held is not None:
            self._retired.append(self._held)
        self._held = fd

    def _latest(self):
        """The current snapshot, outside the lock, where closing old files may take a while:
        the kernel frees a replaced file's blocks when its last descriptor closes."""
        try:
            return self._current()
        finally:
            while self._retired:
                os.close(self._retired.pop())

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
        """Run `change(snapshot)`, which returns (result, changes), on the latest version
        under the lock; commit the changes, if any, and return the result.

        Changes are made in place on the parsed tables, in TinyDB's layout: TinyDB's own
        insert and remove would copy the whole table twice per change.
        """
        with self._mutex:
            with self._locked():
                snapshot = self._current()
                try:
                    result, changes = change(snapshot)
                    if changes:
                        self._commit(snapshot, changes)
                except BaseException:
                    self._snapshot = None  # it may hold a change that was never committed
                    raise
            # Out of the lock, before the answer: a later writer's rename that this fsync
            # may persist instead is of a file fsynced already, holding this change too.
            if changes:
                self._sync_folder(self.folder)
            self._latest()
        return result

    def _commit(self, snapshot, changes):
        """Write `snapshot` with `changes` as the next version."""
        tables, version = snapshot.tables, snapshot.version + 1
        snapshot.derived.follow(tables, changes)
        _apply(tables, changes)
        log = tables.setdefault(CHANGES, {})
        if any(change[0] == "del" for change in changes):
            log.clear()  # no removed record may linger in the file; those behind read it all
        log[str(version)] = changes
        log.pop(str(version - KEPT_CHANGES), None)
        payload = _serialise(tables, snapshot.derived.encode)
        fd = self._write_file(self.path, self.temp_path, payload)
        self._snapshot = _Snapshot(_identity(os.fstat(fd)), tables, snapshot.derived)
        self._hold(fd)

    def _write_file(self, path, temp_path, payload):
        """Replace `path` atomically with `payload`, synced; return its open fd. The
        rename is durable once the folder is synced too."""
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
        return fd

    def _sync_folder(self, path):
        try:
            folder = os.open(path, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as err:
            raise self._error("cannot sync its folder", err) from err

    # Keys

    def find_key(self, digest):
        """The key record with this SHA-256 digest, or None."""
        with self._mutex:
            return self._latest().key(digest)

    def note_use(self, key, now):
        """Record a key's use, at most once per TOUCH_INTERVAL across all processes."""
        stale = now - TOUCH_INTERVAL

        def touch(snapshot):  # checked again under the lock: another worker may have done it
            for doc_id, record in snapshot.tables.get(KEYS, {}).items():
                if record["id"] == key["id"] and (record["last_used"] or 0) <= stale:
                    return True, [("put", KEYS, doc_id, {**record, "last_used": now})]
            return False, []

        if (key["last_used"] or 0) <= stale:
            self._update(touch)

    def create_key(self, tenant, name, digest, now):
        key = {"id": uuid.uuid4().hex, "tenant": tenant, "name": name, "digest": digest,
               "created": now, "last_used": None}

        def add(snapshot):
            return key, [("put", KEYS, str(_largest_id(snapshot.tables.get(KEYS, {})) + 1), key)]

        return self._update(add)

    def keys(self):
        with self._mutex:
            return self._latest().db.table(KEYS).all()

    def revoke_key(self, key_id):
        """Remove the key; False if there is none with that id."""
        return self._update(lambda snapshot: _removal(snapshot.tables, KEYS, key_id))

    def tenant_exists(self, tenant):
        with self._mutex:
            db = self._latest().db
            return (TENANT + tenant in db.tables()
                    or db.table(KEYS).contains(Query().tenant == tenant))

    # Datasets

    def create_dataset(self, tenant, name, now):
        """Add a dataset, renamed to `name(N)` if the tenant has the name already."""
        def add(snapshot):
            last, taken = snapshot.derived.of(snapshot.tables, TENANT + tenant)
            record = {"id": uuid.uuid4().hex, "name": free_name(name, taken),
                      "create_time": now, "update_time": now}
            return {**record, "tenant_id": tenant}, [
                ("put", TENANT + tenant, str(last + 1), record)]

        return self._update(add)

    def list_datasets(self, tenant, orderby, desc, offset, count, render):
        """A page of the tenant's datasets, each as `render` makes it (always one function)."""
        with self._mutex:
            snapshot = self._latest()
            rows = snapshot.listing(tenant, orderby, desc)
            rows = rows[offset:] if count == -1 else rows[offset:offset + count]
            return [snapshot.render(row, render) for row in rows]

    def delete_dataset(self, tenant, dataset_id):
        """Remove the tenant's dataset; False if the tenant has none with that id."""
        return self._update(
            lambda snapshot: _removal(snapshot.tables, TENANT + tenant, dataset_id))

    # Operation

    def health(self):
        """Raise StoreError if the store cannot be read now."""
        with self._mutex:
            self._latest()

    def verify(self):
        """Check every record and remove a temporary file a crash left; return counts."""
        with self._mutex:
            with self._locked():
                _remove(self.temp_path)
                self._snapshot = None
                self._snapshot = self._read()
            tables = self._latest().tables
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
            payload = _serialise(snapshot.tables)
            self._latest()
        os.close(self._write_file(target, os.path.join(folder, f".{name}.tmp"), payload))
        self._sync_folder(folder)


def init_app(app):
    app.extensions["store"] = Store(app.config["DB_PATH"])


def get_store():
    """The current app's store."""
    return current_app.extensions["store"]
