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

Each commit's fsyncs are most of a write's cost, so the creates and deletes of processes
that wait for the lock are committed by the process holding it, in its own write (group
commit, see Store._update).
"""

import fcntl
import functools
import os
import re
import threading
import uuid
from contextlib import contextmanager, suppress

import orjson
from flask import current_app
from tinydb import Query, TinyDB
from tinydb.storages import Storage

KEYS = "keys"
CHANGES = "changes"  # version -> the changes of that commit, for the last KEPT_CHANGES
KEPT_CHANGES = 8
HEAD = 65536  # bytes read to find the changes line
MERGE_PARTS = 64  # a table's JSON is kept in at most this many pieces before they are joined
IOV_MAX = os.sysconf("SC_IOV_MAX")  # pieces per os.writev
TENANT = "tenant:"  # prefix of the tables that each hold one tenant's datasets
TENANT_TABLE = re.compile(re.escape(TENANT) + r"[0-9a-f]{32}")
TOUCH_INTERVAL = 60_000  # ms: a key's last use is written at most once a minute
APPLIED = "applied"  # queued change id -> its result, until the process that queued it reads it
QUEUED_ID = re.compile(r"[0-9a-f]{32}")
SYNC_MARK = 128  # bytes of the lock file that name the last file whose folder was synced
GONE = object()  # a queued file that is gone, or was removed as its process died

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


def _applied_ok(doc):
    result = doc.get("result", 0) if type(doc) is dict and len(doc) == 1 else 0
    return type(result) is bool or _dataset_ok(result)


def _change_ok(change):
    """A change as `_apply` takes it, of a record that is valid in its table."""
    if type(change) is not list or len(change) not in (3, 4) or type(change[2]) is not str:
        return False
    valid = _validator(change[1])
    if valid in (None, _changes_ok) or not _id_checker(change[1])(change[2]):
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
    if name == APPLIED:
        return _applied_ok
    if isinstance(name, str) and TENANT_TABLE.fullmatch(name):
        return _dataset_ok
    return None


def _id_checker(name):
    """The check of a record id of table `name`: TinyDB's doc ids, but for queued changes."""
    return QUEUED_ID.fullmatch if name == APPLIED else str.isdecimal


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
        id_ok = _id_checker(name)
        if not (all(map(id_ok, table)) and all(map(valid, table.values()))):
            bad = next(i for i, doc in table.items() if not (id_ok(i) and valid(doc)))
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


def _create(tenant, name, now, snapshot):
    """A new dataset of the tenant's, named `name(N)` if the tenant has the name already."""
    last, taken = snapshot.derived.of(snapshot.tables, TENANT + tenant)
    record = {"id": uuid.uuid4().hex, "name": free_name(name, taken),
              "create_time": now, "update_time": now}
    return record, [("put", TENANT + tenant, str(last + 1), record)]


def _delete(tenant, dataset_id, snapshot):
    return _removal(snapshot.tables, TENANT + tenant, dataset_id)


# The changes one process may queue for another to commit, with their arguments' types
# (the first is always the tenant); the function takes them, then the snapshot.
QUEUEABLE = {"create": (_create, (str, str, int)), "delete": (_delete, (str, str))}


def _queued_change(data):
    """The change a queued file asks for, as a function of a snapshot; None if malformed."""
    try:
        operation, *args = orjson.loads(data)
        function, types = QUEUEABLE[operation]
    except (ValueError, TypeError, KeyError):
        return None
    if (len(args) != len(types) or not all(type(a) is t for a, t in zip(args, types))
            or not TENANT_TABLE.fullmatch(TENANT + args[0])):
        return None
    return functools.partial(function, *args)


def _read_queued(path):
    """The change queued in `path` while its process waits (None if the file cannot be
    read or is malformed); GONE once the file is gone or, its process dead, removed."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # a .tmp just renamed, say
        return GONE
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:  # its process waits
        try:
            with open(fd, "rb", closefd=False) as file:
                return _queued_change(file.read())
        except OSError:
            return None
    except OSError:
        return None
    finally:
        os.close(fd)
    with suppress(OSError):
        os.remove(path)
    return GONE


def _version(tables):
    return _largest_id(tables.get(CHANGES, {}))


def _serialise(tables, encode=lambda name, table: [orjson.dumps(table)]):
    """The file, as pieces of bytes to write one after the other: one JSON object with a
    table per line, the changes first, and no `applied` table when it is empty. `encode`
    gives a table's JSON in pieces."""
    pieces = []
    for name, table in sorted(tables.items(), key=lambda item: item[0] != CHANGES):
        if table or name != APPLIED:
            pieces += (b",\n", orjson.dumps(name) + b":", *encode(name, table))
    return [b"{", *pieces[1:], b"}\n"]


def _write_all(fd, pieces):
    """Write `pieces` one after the other, with as few system calls as it takes."""
    done = 0
    while done < len(pieces):
        written = os.writev(fd, pieces[done:done + IOV_MAX])
        while done < len(pieces) and written >= len(pieces[done]):
            written -= len(pieces[done])
            done += 1
        if written:
            pieces[done] = memoryview(pieces[done])[written:]


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
    id and the casefolded names; per table, its JSON, as pieces without the closing brace
    (a new record is appended as one more piece)."""

    def __init__(self):
        self._tables = {}
        self._json = {}

    def encode(self, name, table):
        """Table `name`'s JSON in pieces: encoded again only when a change could not be
        appended."""
        if name == CHANGES:  # every commit changes it
            return [orjson.dumps(table)]
        pieces = self._json.get(name)
        if pieces is None:
            pieces = self._json[name] = [orjson.dumps(table)[:-1]]
        return [*pieces, b"}"]

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
            pieces = self._json.pop(name, None)
            if pieces is not None and kind == "put" and doc_id not in tables.get(name, {}):
                # A new doc id goes to the end of its table, and so of the table's JSON.
                added = orjson.dumps({doc_id: record[0]})[1:-1]
                pieces.append(added if pieces == [b"{"] else b"," + added)
                if len(pieces) > MERGE_PARTS:
                    pieces[:] = [b"".join(pieces)]
                self._json[name] = pieces
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
        self.queue = os.path.join(self.folder, f".{name}.queue")  # see `_update`
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
    def _lock_file(self):
        """The cross-process lock's file, open: an flock on it is released even if the
        process dies."""
        try:
            try:  # O_CREAT would take the folder's lock, which every rename takes too
                fd = os.open(self.lock_path, os.O_RDWR)
            except FileNotFoundError:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise self._error("cannot open the lock file", err) from err
        try:
            yield fd
        finally:
            os.close(fd)

    def _update(self, change, queueable=None):
        """Run `change(snapshot)`, which returns (result, changes), on the latest version
        under the exclusive lock, commit the changes, if any, and return the result.

        Group commit: when another process holds the lock, a change of QUEUEABLE, given
        as `queueable` = (operation, *arguments), is queued in a file for that process to
        commit with its own, in the same write. This process waits for the lock and reads
        its result from the committed file, where it stays until the queued file is gone;
        or it commits the change itself if the holder did not take it up. The queued file
        is flocked while this process waits, so a holder never takes up the change of a
        process that died: it removes its file instead. The committing process syncs the
        folder before it releases the lock and notes so in the lock file; the processes
        whose changes it committed sync the folder again only if that note is missing.
        """
        with self._mutex:
            with self._lock_file() as lock:
                queued, queued_fd = self._queue(lock, queueable) if queueable else (None, None)
                try:
                    done = None
                    if queued:
                        fcntl.flock(lock, fcntl.LOCK_SH)  # once the holder has committed
                        done = self._done(queued)
                    if done is None:
                        fcntl.flock(lock, fcntl.LOCK_EX)
                        done = queued and self._done(queued)
                    if done is None:
                        result, synced = self._lead(change, queued, lock), True
                    else:
                        result, synced = done["result"], self._synced(lock)
                finally:
                    if queued:  # else the next committer removes it, as its flock is free
                        with suppress(OSError):
                            os.remove(self._queued_path(queued))
                        os.close(queued_fd)
            if not synced:
                self._sync_folder(self.folder)
            self._latest()
        return result

    def _queued_path(self, queued):
        return os.path.join(self.queue, queued + ".req")

    def _queue(self, lock, queueable):
        """Take the lock if it is free and return (None, None); else queue the change in a
        file of its own, flocked, and return its id and descriptor ((None, None) as well
        if it cannot be written)."""
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None, None
        except BlockingIOError:
            pass
        queued = uuid.uuid4().hex
        temp = os.path.join(self.queue, queued + ".tmp")
        try:
            os.makedirs(self.queue, exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            return None, None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _write_all(fd, [orjson.dumps(queueable)])
            os.rename(temp, self._queued_path(queued))  # whole, as the lock holder reads it
        except OSError:
            os.close(fd)
            with suppress(OSError):
                os.remove(temp)
            return None, None
        return queued, fd

    def _done(self, queued):
        """Under the lock: the committed result of the queued change, or None if it is
        still waiting."""
        done = self._current().tables.get(APPLIED, {}).get(queued)
        if done is None and not os.path.exists(self._queued_path(queued)):
            raise StoreError(f"{self.path}: a change queued by this process was removed")
        return done

    def _sync_mark(self):
        return orjson.dumps(self._snapshot.identity).ljust(SYNC_MARK)

    def _synced(self, lock):
        """Whether the process that wrote the current file synced the folder after."""
        try:
            return os.pread(lock, SYNC_MARK, 0) == self._sync_mark()
        except OSError:
            return False

    def _lead(self, change, own, lock):
        """Under the exclusive lock: run `change` and the changes other processes queued
        on the latest version, commit all their changes as one version, synced, and return
        `change`'s result."""
        snapshot, staged = self._current(), []

        def stage(changes):
            snapshot.derived.follow(snapshot.tables, changes)
            _apply(snapshot.tables, changes)
            staged.extend(changes)

        try:
            result, changes = change(snapshot)
            stage(changes)
            applied = snapshot.tables.get(APPLIED, {})
            queued = self._waiting(own)
            if queued is None:  # the results it holds may still be waited for
                queued = dict.fromkeys(applied)
            stage([("del", APPLIED, done) for done in applied if done not in queued])
            for queued_id, other in queued.items():
                if queued_id not in applied and other:
                    found, changes = other(snapshot)
                    stage([*changes, ("put", APPLIED, queued_id, {"result": found})])
            if staged:
                self._commit(snapshot, staged)
        except BaseException:
            self._snapshot = None  # it may hold a change that was never committed
            raise
        if staged:
            self._sync_folder(self.folder)
            with suppress(OSError):  # without the note, the others sync the folder too
                os.pwrite(lock, self._sync_mark(), 0)
        return result

    def _waiting(self, own):
        """{id: change} of the changes other processes have queued and wait for. A change
        that cannot be read, or is malformed, is None: its process commits it itself. None
        in place of the dict if the queue cannot be listed. The files of processes that
        died are removed."""
        try:
            entries = list(os.scandir(self.queue))
        except FileNotFoundError:
            return {}
        except OSError:
            return None
        waiting = {}
        for entry in entries:
            queued_id, _, kind = entry.name.partition(".")
            if queued_id != own:
                change = _read_queued(entry.path)
                if change is not GONE and kind == "req" and QUEUED_ID.fullmatch(queued_id):
                    waiting[queued_id] = change
        return waiting

    def _commit(self, snapshot, changes):
        """Write `snapshot`, whose tables have `changes` made already, as the next version."""
        tables, version = snapshot.tables, snapshot.version + 1
        log = tables.setdefault(CHANGES, {})
        if any(change[0] == "del" and change[1] != APPLIED for change in changes):
            log.clear()  # no removed record may linger in the file; those behind read it all
        log[str(version)] = changes
        log.pop(str(version - KEPT_CHANGES), None)
        fd = self._write_file(self.path, self.temp_path,
                              _serialise(tables, snapshot.derived.encode))
        self._snapshot = _Snapshot(_identity(os.fstat(fd)), tables, snapshot.derived)
        self._hold(fd)

    def _write_file(self, path, temp_path, pieces):
        """Replace `path` atomically with the bytes `pieces`, synced; return its open fd.
        The rename is durable once the folder is synced too."""
        try:
            fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as err:
            raise self._error("cannot write", err) from err
        try:
            _write_all(fd, pieces)
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

    def _queueable(self, operation, *args):
        """`_update` with the change `operation` of QUEUEABLE."""
        change = functools.partial(QUEUEABLE[operation][0], *args)
        return self._update(change, (operation, *args))

    def create_dataset(self, tenant, name, now):
        """Add a dataset, renamed to `name(N)` if the tenant has the name already."""
        return {**self._queueable("create", tenant, name, now), "tenant_id": tenant}

    def list_datasets(self, tenant, orderby, desc, offset, count, render):
        """A page of the tenant's datasets, each as `render` makes it (always one function)."""
        with self._mutex:
            snapshot = self._latest()
            rows = snapshot.listing(tenant, orderby, desc)
            rows = rows[offset:] if count == -1 else rows[offset:offset + count]
            return [snapshot.render(row, render) for row in rows]

    def delete_dataset(self, tenant, dataset_id):
        """Remove the tenant's dataset; False if the tenant has none with that id."""
        return self._queueable("delete", tenant, dataset_id)

    # Operation

    def health(self):
        """Raise StoreError if the store cannot be read now."""
        with self._mutex:
            self._latest()

    def verify(self):
        """Check every record and remove a temporary file a crash left; return counts."""
        with self._mutex:
            with self._lock_file() as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
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
            pieces = _serialise(snapshot.tables)
            self._latest()
        os.close(self._write_file(target, os.path.join(folder, f".{name}.tmp"), pieces))
        self._sync_folder(folder)


def init_app(app):
    app.extensions["store"] = Store(app.config["DB_PATH"])


def get_store():
    """The current app's store."""
    return current_app.extensions["store"]
