"""How one process keeps up with the store file and its journal, and commits to them."""

import logging
import os
import secrets
import threading
import uuid
from contextlib import contextmanager

from app.store import StoreError
from app.store.health import Writes
from app.store.jsonfile import files, layout, records
from app.store.jsonfile.journal import Journal, entries, header, line
from app.store.jsonfile.state import State

log = logging.getLogger(__name__)

# The version of a store made or upgraded here. An export's is 0: a file of version 0 has
# no journal to lose, and one of any other may have had commits in its journal.
MADE = 1


class Moved(StoreError):
    """The file and the journal were read at different checkpoints: read them again."""


class Engine:
    """The state of the store as this process last read it, and the means to change it."""

    # `read()` brings the state up to date: the lines appended to the journal since the last
    # look are applied (a stat of the journal when nothing changed); when the journal was
    # replaced at a checkpoint, the new one is taken up where it continues this process's
    # state; anything else reads the file again. `commit(op)` runs `op` on the latest state
    # under the exclusive lock and appends its changes as one synced journal line.

    def __init__(self, path, lock_timeout, journal_limit, upgrade, expired):
        self.path = os.path.abspath(path)
        self.folder = os.path.dirname(self.path)
        self.journal_path = self.path + ".wal"
        self.lock_timeout = lock_timeout
        self.journal_limit = journal_limit  # bytes of journal below which it stays apart
        self.upgrade = upgrade  # tables of the first format -> tables of this one
        self.expired = expired  # state -> the changes that drop what has expired
        self.mutex = threading.Lock()  # threads of one process share its state
        self._pid = self._state = self._journal = None
        self._version = self._last = None  # the last line (or checkpoint) applied
        self._file_id = None  # identity of the file as this process last read or wrote it
        self._stale = False  # the journal is one the file has folded in (a part of) already
        self._locked = False
        self._known = False  # read once: a store gone since is an error, not one to make anew
        # A probe of a few bytes may fit where a commit does not: a failure stands a minute.
        self.writes = Writes(lambda: files.probe(self.path), stands=60)

    @contextmanager
    def lock(self, timeout=None):
        """The exclusive lock, taken once however deeply nested."""
        if self._locked:
            yield
            return
        if not self._known:  # a new store's folder is made as its lock is first taken
            files.make_folder(self.folder)
        with files.FileLock(self.path + ".lock",
                            self.lock_timeout if timeout is None else timeout):
            self._locked = True
            try:
                yield
            finally:
                self._locked = False

    # Reading

    def read(self):
        """The current state (call with the mutex held)."""
        if self._pid != os.getpid():  # a forked process: its state is its parent's
            if self._journal is not None:
                self._journal.close()  # this process's copy of the parent's descriptor
            self._pid, self._state, self._journal = os.getpid(), None, None
        if self._state is None:
            return self._load()
        st, file_id = files.lstat(self.journal_path), files.identity(files.lstat(self.path))
        try:
            if st.st_ino != self._journal.inode:
                self._follow()  # lines added to the old journal before it was replaced
                self._switch()
                self._file_id = file_id
            elif file_id != self._file_id:  # changed by no checkpoint: by hand, or damaged
                return self._load()
            elif st.st_size > self._journal.offset:
                self._follow()
        except StoreError:  # cut back after a failed write, or damaged: read it all
            return self._load()
        return self._state

    def _follow(self):
        journal = self._journal
        start = journal.offset
        for changes, version, line_id, end in entries(journal.new_data(), self._version,
                                                      self._last, self.journal_path):
            self._state.apply(changes)
            self._version, self._last, journal.offset = version, line_id, start + end

    def _switch(self):
        journal = Journal.open(self.journal_path)
        if journal is None:
            raise StoreError(f"{self.journal_path} is missing: was the store removed?")
        head = journal.head
        if head["version"] == self._version and self._last in (head["after"], head["checkpoint"]):
            self._journal.close()
            self._journal, self._last = journal, head["checkpoint"]
            self._stale = False
            self._follow()
        else:
            journal.close()
            raise Moved("the journal was replaced by one that does not continue this state")

    def _load(self):
        """Read the file and its journal from scratch."""
        self._state = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        for _ in range(3):
            try:
                self._state = self._read_both()
                return self._state
            except Moved:
                continue
        raise StoreError(f"{self.journal_path} does not belong to {self.path}; if the file "
                         f"was restored from a backup, move the journal aside")

    def _read_both(self):
        files.check_owner(self.path)
        journal = Journal.open(self.journal_path)
        if journal is None:
            with self.lock():
                self._create()
            journal = Journal.open(self.journal_path)
            if journal is None:
                raise Moved("the journal was removed as it was made")
        try:
            tables = self._read_file()
            meta = tables.pop(layout.META)["1"]
            self._journal, self._state = journal, State(tables)
            self._stale = journal.head["checkpoint"] != meta["id"]
            if not self._stale:
                self._version, self._last = meta["version"], meta["id"]
            # A checkpoint that renamed the file but not the journal leaves the journal it
            # folded in, which writers go on appending to: its lines after the point the
            # file names are the commits since.
            elif journal.skip_to(meta["version"], meta["after"]):
                self._version, self._last = meta["version"], meta["after"]
            else:
                raise Moved("the file and the journal are of different checkpoints")
            self._follow()
            self._known = True
            return self._state
        except BaseException:
            self._state = self._journal = None
            journal.close()
            raise

    def _read_file(self):
        try:
            fd = files.open_regular(self.path)
        except FileNotFoundError:
            raise StoreError(f"{self.path} is missing: was the store removed?") from None
        except OSError as err:
            raise files.error(self.path, "cannot read", err) from err
        try:
            self._file_id = files.identity(os.fstat(fd))
            data = files.read_all(fd)
        except OSError as err:
            raise files.error(self.path, "cannot read", err) from err
        finally:
            os.close(fd)
        try:
            tables = records.loads(data)
        except ValueError as err:
            raise StoreError(f"{self.path}: not valid JSON: {err}") from err
        try:
            layout.check(tables)
        except ValueError as err:
            raise StoreError(f"{self.path}: JSON, but not a dataset store: {err}") from err
        return tables

    def _create(self):
        """Under the lock: make a new store, or the journal of a file that may have a new one."""
        if os.path.lexists(self.journal_path):
            return
        if not os.path.lexists(self.path):
            if self._known:
                raise StoreError(f"{self.path} is missing: was the store removed?")
            meta = new_meta(MADE, None)
            files.write_atomic(self.path, layout.serialise({layout.META: {"1": meta}}))
        else:
            try:
                tables = self._read_file()
            except StoreError:
                tables = self.upgrade(self.path)  # raises the fault if it is no older store
            else:
                if tables.pop(layout.META)["1"]["version"] != 0:
                    raise StoreError(f"{self.journal_path} is missing, and with it the commits "
                                     f"since {self.path} was written: put the journal back, or "
                                     f"take the file as it is with `ragflow-dataset-api store "
                                     f"reset-journal`")
            # Past version 0, so that a journal lost from here on is refused too.
            meta = new_meta(MADE, None)
            files.write_atomic(self.path, layout.serialise({layout.META: {"1": meta},
                                                            **tables}))
        files.write_atomic(self.journal_path, header(meta))

    def reset_journal(self):
        """Start a new journal for the file as it is, where the journal is missing."""
        with self.mutex, self.lock():
            if os.path.lexists(self.journal_path):
                raise StoreError(f"{self.journal_path} exists: move it aside first to take "
                                 f"{self.path} as it is")
            meta = self._read_file()[layout.META]["1"]
            with self.writes.attempt():
                files.write_atomic(self.journal_path, header(meta))
            self.close_state()

    # Writing

    def commit(self, op, timeout=None):
        """Run `op(state)` -> (result, changes) under the lock, append the changes; the result."""
        # The changes, if any, are one synced line; `op` sees the latest state.
        with self.mutex, self.lock(timeout):
            state = self.read()
            journal = self._journal
            if journal.size() > journal.offset:
                os.ftruncate(journal.fd, journal.offset)  # a line torn by a crash
            result, changes = op(state)
            if changes:
                self._append(changes)
                # A stale journal is folded in again at once: every load reads it whole.
                if self._stale or journal.offset > max(self.journal_limit, self._file_id[1]):
                    self._fold(state)
            return result

    def _fold(self, state):
        try:
            expired = self.expired(state)
            if expired:
                self._append(expired)
            self.checkpoint()
        except StoreError as err:  # the commit is safe in the journal: the next one tries again
            log.warning("Could not fold the journal into the store: %s", err)

    def _append(self, changes):
        version, line_id = self._version + 1, secrets.token_hex(8)
        data = line(version, line_id, self._last, changes)
        try:
            with self.writes.attempt():
                files.append_synced(self._journal.fd, data, self.journal_path)
            self._state.apply(changes)
        except BaseException:
            self._state = None  # read again: whether the line is in is for the file to say
            raise
        self._version, self._last = version, line_id
        self._journal.offset += len(data)

    def point(self):
        """Where the state read last stands: the file's identity and the last line applied."""
        return self._file_id, self._last

    def journal_size(self):
        """Bytes of commits in the journal (call with the lock held, after `read`)."""
        return self._journal.offset - self._journal.start

    def checkpoint(self):
        """Under the lock: fold the journal into the file and start a new journal."""
        meta = new_meta(self._version, self._last)
        with self.writes.attempt():
            files.stage_all([(self.path, layout.serialise({layout.META: {"1": meta},
                                                           **self._state.tables})),
                              (self.journal_path, header(meta))])
            try:
                files.put_in_place(self.path)
            except StoreError:
                files.remove(files.temporary(self.journal_path))
                raise
            # From here until the journal's rename, the old journal goes on as the file's.
            self._file_id, self._stale = files.identity(files.lstat(self.path)), True
            files.put_in_place(self.journal_path)
            try:
                journal = Journal.open(self.journal_path)
                if journal is None:
                    raise StoreError(f"{self.journal_path} is missing: was the store removed?")
            except StoreError:
                self.close_state()  # the next read takes up whatever is there
                raise
            self._journal.close()
            self._journal, self._last, self._stale = journal, meta["id"], False
            files.sync_folder(self.folder)

    def close_state(self):
        """Forget the state: the next read is from scratch (call with the mutex held)."""
        if self._journal is not None and self._pid == os.getpid():
            self._journal.close()
        self._state = self._journal = None

    def close(self):
        with self.mutex:
            self.close_state()


def new_meta(version, after):
    return {"format": layout.FORMAT, "id": uuid.uuid4().hex, "version": version,
            "after": after}
