"""The PostgreSQL engine's bytes: files as rows of documents.PIECE bytes, in the database."""

# A piece is written, and committed, as soon as it has come in, each in its own statement
# on a connection taken for it alone: an upload holds no transaction open while its client
# sends, and no statement of it waits on more than a piece. A download reads piece by piece
# the same way. What an upload cut short leaves is dropped, or else collected.

import contextlib
import io
import uuid

from app.store import StoreError
from app.store.documents import PIECE
from app.store.postgres.connections import unbounded
from app.store.postgres.schema import NO_STATEMENT_TIMEOUT
from app.store.postgres.sql import unstorable

NOW = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"  # as files.created is set


def drop_files(conn, locations):
    """Delete the files at `locations` that no document names (any more)."""
    conn.execute("DELETE FROM files f WHERE location = ANY(%s) AND NOT EXISTS"
                 " (SELECT FROM documents d WHERE d.location = f.location)",
                 ([location for location in locations if location],))


def pieces_of(data):
    """`data` in pieces of PIECE bytes (one empty piece if it is empty)."""
    return [data[at:at + PIECE] for at in range(0, len(data), PIECE)] or [b""]


class Files:
    """The bytes operations of PostgresStore (see app.store.Store)."""

    def new_file(self, tenant):
        return NewFile(self, tenant)

    def _piece(self, tenant, location, number, data):
        with self._writing(), self._connection() as conn:
            conn.execute("INSERT INTO files (location, piece, tenant, data)"
                         " VALUES (%s, %s, %s, %b)", (location, number, tenant, data))

    def read_bytes(self, tenant, location):
        if unstorable(location):
            return None
        count = self._read(lambda conn: conn.execute(
            "SELECT count(*) AS n FROM files WHERE location = %s AND tenant = %s",
            (location, tenant)).fetchone()["n"])
        return Pieces(self._pieces(location, count)) if count else None

    def _pieces(self, location, count):
        for number in range(count):
            row = self._read(lambda conn: conn.execute(
                "SELECT data FROM files WHERE location = %s AND piece = %s",
                (location, number), binary=True).fetchone())
            if row is None:  # deleted while it was read
                raise StoreError(f"{self.location}: the file {location} went while read")
            yield row["data"]

    def collect(self, grace):
        # A file is as old as its last piece: one still coming in is never taken.
        with self._transaction() as conn, unbounded(conn):
            conn.execute(NO_STATEMENT_TIMEOUT)
            return conn.execute(
                f"WITH gone AS (DELETE FROM files f WHERE location IN (SELECT location FROM"
                f" files GROUP BY location HAVING max(created) <= {NOW} - %s) AND NOT EXISTS"
                f" (SELECT FROM documents d WHERE d.location = f.location) RETURNING location)"
                f" SELECT count(DISTINCT location) AS n FROM gone", (grace,)).fetchone()["n"]


class Pieces(io.RawIOBase):
    """A binary file read from an iterator of pieces of bytes: a read of a whole piece or more
    answers the piece itself, uncopied."""

    def __init__(self, pieces):
        self.pieces, self.rest = iter(pieces), b""

    def readable(self):
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            return self.readall()
        while not self.rest:
            self.rest = next(self.pieces, None)
            if self.rest is None:
                self.rest = b""
                return b""
        if size >= len(self.rest):
            taken, self.rest = self.rest, b""
        else:
            taken, self.rest = self.rest[:size], self.rest[size:]
        return taken

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readall(self):
        return b"".join(iter(lambda: self.read(PIECE), b""))


class NewFile:
    """A file whose pieces are written as they fill (Store.new_file)."""

    def __init__(self, store, tenant):
        self.store, self.tenant = store, tenant
        self.location, self.size, self.number, self.held = uuid.uuid4().hex, 0, 0, bytearray()

    def write(self, data):
        view = memoryview(data)
        try:
            while len(self.held) + len(view) >= PIECE:
                take = PIECE - len(self.held)
                self.held += view[:take]
                view = view[take:]
                self.store._piece(self.tenant, self.location, self.number, self.held)
                self.number, self.held = self.number + 1, bytearray()
        except BaseException:
            self.abort()
            raise
        self.held += view
        self.size += len(data)
        return len(data)

    def seek(self, offset, whence=0):
        return self.size  # the bytes are read back through the store, never from here

    def finish(self):
        if self.held or not self.number:
            try:
                self.store._piece(self.tenant, self.location, self.number, self.held)
            except BaseException:
                self.abort()
                raise
        return self.location, self.size

    def abort(self):
        with contextlib.suppress(StoreError):  # else `collect` takes them
            with self.store._writing(), self.store._connection() as conn:
                conn.execute("DELETE FROM files WHERE location = %s", (self.location,))
