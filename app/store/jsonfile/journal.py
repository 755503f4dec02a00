"""The write-ahead journal beside the store file, and how a process follows it."""

# The journal's first line names the checkpoint it follows:
# `{"checkpoint": id, "version": n, "after": line id}`; each further line is one commit,
# `[version, line id, previous line id, changes]`. Lines chain by id, so a process applies a
# line only if it follows the last one it applied; a line cut short by a crash (no newline)
# is never applied, and the next writer cuts it off. When the journal outgrows the file, a
# writer folds it in (a checkpoint): both new files are written beside their places, then
# the file is renamed into place, then the journal, whose header names the line it
# continues after. Between the two renames the old journal is still the file's: the file's
# meta names the line of it that was folded in, and the lines after that one are commits.

import os

import orjson

from app.store import StoreError
from app.store.jsonfile import files


def header(meta):
    return orjson.dumps({"checkpoint": meta["id"], "version": meta["version"],
                         "after": meta["after"]}) + b"\n"


def line(version, line_id, previous, changes):
    return orjson.dumps([version, line_id, previous, changes]) + b"\n"


def parse_header(data, path):
    end = data.find(b"\n")
    try:
        head = orjson.loads(data[:end]) if end > 0 else None
        if (type(head) is dict and head.keys() == {"checkpoint", "version", "after"}
                and type(head["checkpoint"]) is str and type(head["version"]) is int):
            return head, end + 1
    except orjson.JSONDecodeError:
        pass
    raise StoreError(f"{path}: not a journal of a dataset store (its first line is damaged)")


def entries(data, version, last, path):
    """(changes, version, line id, end offset) of each whole line of `data` that follows."""
    # Stops at a line not yet complete; raises StoreError at a whole line that is damaged
    # or does not follow (`version`, `last`).
    offset = 0
    while True:
        end = data.find(b"\n", offset)
        if end < 0:
            return
        try:
            number, line_id, previous, changes = orjson.loads(data[offset:end])
        except (orjson.JSONDecodeError, ValueError, TypeError):
            raise StoreError(f"{path}: a damaged line after version {version}") from None
        if number != version + 1 or previous != last or type(changes) is not list:
            raise StoreError(f"{path}: the line after version {version} does not follow it")
        version, last, offset = number, line_id, end + 1
        yield changes, version, line_id, offset


class Journal:
    """An open journal file: its identity, and how far this process has read it."""

    def __init__(self, path, fd):
        self.path, self.fd = path, fd
        self.inode = os.fstat(fd).st_ino
        self.head, self.offset = parse_header(files.read_all(fd), path)
        self.start = self.offset  # where the commits begin

    @classmethod
    def open(cls, path):
        try:
            fd = files.open_regular(path, os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise files.error(path, "cannot open", err) from err
        try:
            return cls(path, fd)
        except BaseException:
            os.close(fd)
            raise

    def new_data(self):
        """The bytes past what this process has read."""
        try:
            return files.read_all(self.fd, self.offset)
        except OSError as err:
            raise files.error(self.path, "cannot read", err) from err

    def skip_to(self, version, line_id):
        """Whether (`version`, `line_id`) is in this journal's chain; if so, read past it."""
        point = self.head["version"], self.head["checkpoint"]
        if point == (version, line_id):
            return True
        for _, *found, end in entries(self.new_data(), *point, self.path):
            if tuple(found) == (version, line_id):
                self.offset += end
                return True
        return False

    def size(self):
        return os.fstat(self.fd).st_size

    def close(self):
        os.close(self.fd)
