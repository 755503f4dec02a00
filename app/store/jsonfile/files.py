"""The JSON engine's file system work: its lock, atomic replacement, synced appends."""

# Every durable step is here, in one place: a new file is written beside its target,
# fsynced, renamed over it, and the folder fsynced; a journal line is appended and
# fdatasynced. Everything else in the engine works on bytes and dicts.

import errno
import fcntl
import os
import pwd
import signal
import stat
import threading
import time

from app.serving.metrics import waiting
from app.store import StoreBusy, StoreError


def error(path, what, err):
    """A StoreError naming `path`, what failed and the system's reason."""
    return StoreError(f"{path}: {what}: {getattr(err, 'strerror', None) or err}")


class FileLock:
    """An exclusive flock on a lock file, taken within `timeout` seconds or StoreBusy."""

    # The kernel releases a flock when its process dies: a crash never leaves the store locked.

    def __init__(self, path, timeout):
        self.path, self.timeout = path, timeout
        self.fd = None

    def __enter__(self):
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as err:
            raise error(self.path, "cannot open the lock file", err) from err
        try:
            with waiting("file_lock"):
                take(fd, self.timeout)
        except TimeoutError:
            os.close(fd)
            raise StoreBusy(f"{self.path}: the store is busy (locked by another "
                            f"process for over {self.timeout:g} s)") from None
        self.fd = fd
        return self

    def __exit__(self, *exc):
        os.close(self.fd)  # closing the last descriptor releases the flock
        self.fd = None


def take(fd, timeout):
    """flock `fd` exclusively, waiting at most `timeout` seconds (else TimeoutError)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if timeout <= 0:
            raise TimeoutError from None
        wait = blocking_wait if can_alarm() else polling_wait
        wait(fd, timeout)


def can_alarm():
    """Whether this thread may wait with an alarm (gunicorn's workers leave SIGALRM alone)."""
    return (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN))


def _expire(signum, frame):
    raise TimeoutError


def blocking_wait(fd, timeout):
    """The lock, waited for in the kernel; an alarm ends the wait after `timeout` s."""
    # The kernel hands the lock over the moment it is free: no poll's sleep is lost.
    before = signal.signal(signal.SIGALRM, _expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, before)


def polling_wait(fd, timeout):
    """The lock, tried again and again until `timeout` seconds have passed (TimeoutError)."""
    # A commit holds it for about one fdatasync (a millisecond or two): waits longer than
    # that between tries would leave it free while writers sleep.
    deadline, pause = time.monotonic() + timeout, 0.0001
    while True:
        time.sleep(pause)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError from None
            pause = min(pause * 2, 0.002)


def make_folder(folder):
    """Make `folder` (and its parents) readable by its owner only, if missing."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError as err:
        raise error(folder, "cannot create the folder", err) from err


def check_owner(path):
    """Refuse a store file that belongs to another user (StoreError naming the user)."""
    # Writing it would change its owner and lock that user's service out.
    try:
        owner = os.stat(path).st_uid
    except FileNotFoundError:
        return
    except OSError as err:
        raise error(path, "cannot read", err) from err
    if owner != os.geteuid():
        try:
            name = pwd.getpwuid(owner).pw_name
        except KeyError:
            name = str(owner)
        raise StoreError(f"{path} belongs to user {name}; run this as that user "
                         f"(e.g. sudo -u {name} ...)")


def lstat(path):
    """os.lstat, a link in the file's place not being the file (StoreError if it fails)."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        raise StoreError(f"{path} is missing: was the store removed?") from None
    except OSError as err:
        raise error(path, "cannot read", err) from err


def identity(st):
    """What tells one version of a file from another."""
    return st.st_ino, st.st_size, st.st_mtime_ns


def open_regular(path, flags=os.O_RDONLY):
    """Open `path` if it is a regular file of ours: never a link, a pipe or a device."""
    # Opened without blocking, so that a planted fifo cannot hold us.
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        raise OSError(errno.EPERM, "not a regular file of this user's")
    os.set_blocking(fd, True)
    return fd


CHUNK = 1 << 16


def read_all(fd, offset=0):
    """The bytes of the open file `fd` from `offset` to its end."""
    # A first read sized by the file, then on until a read finds nothing more.
    chunks = []
    size = max(os.fstat(fd).st_size - offset, 0) + CHUNK
    while True:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset, size = offset + len(chunk), CHUNK


def sync_folder(folder):
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as err:
        raise error(folder, "cannot sync the folder", err) from err


def temporary(path):
    """The path a new version of `path` is written to before it takes its place."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.tmp")


def stage(path, data):
    """Write `data` to temporary(path) and fsync it (StoreError naming `path` if not)."""
    temp = temporary(path)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    except OSError as err:
        raise error(path, "cannot write", err) from err
    try:
        write_all(fd, data)
        os.fsync(fd)
    except OSError as err:
        remove(temp)
        raise error(path, "cannot write", err) from err
    finally:
        os.close(fd)


def stage_all(writes):
    """stage() each (path, data), or none of them."""
    staged = []
    try:
        for path, data in writes:
            stage(path, data)
            staged.append(path)
    except StoreError:
        for path in staged:
            remove(temporary(path))
        raise


def put_in_place(path):
    """Rename the staged temporary(path) over `path`; on failure the staged file goes."""
    try:
        os.rename(temporary(path), path)
    except OSError as err:
        remove(temporary(path))
        raise error(path, "cannot write", err) from err


def write_atomic(path, data):
    """Replace `path` with `data`, whole or not at all, durably."""
    stage(path, data)
    put_in_place(path)
    sync_folder(os.path.dirname(path))


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def probe(path):
    """Write a few bytes beside `path`, sync and remove them (StoreError if that fails)."""
    folder, name = os.path.split(path)
    temp = os.path.join(folder, f".{name}.probe{os.getpid()}")  # one per process
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            write_all(fd, b"probe\n")
            os.fdatasync(fd)
        finally:
            os.close(fd)
            remove(temp)
    except OSError as err:
        raise error(folder, "cannot write", err) from err


def append_synced(fd, data, path):
    """Append `data` to the journal open as `fd` and sync it, or leave no part of it."""
    start = os.lseek(fd, 0, os.SEEK_END)
    try:
        write_all(fd, data)
        os.fdatasync(fd)
    except OSError as err:
        try:
            os.ftruncate(fd, start)
        except OSError:
            pass  # a torn line is cut by the next writer; readers never take it
        raise error(path, "cannot write", err) from err


def remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        raise error(path, "cannot remove", err) from err
