"""The PostgreSQL engine's documents and chunks: each change one transaction, rules inside."""

# Lock order, so that no two changes wait for each other: the tenant's row (a create or
# delete of datasets, an upload under a limit), then the dataset's (every change of its
# documents or their counts), then its documents, then their chunks and files. A claim takes
# one document row only, skipping those another transaction holds.

import uuid

from psycopg.types.json import Jsonb

from app.store import LimitReached, NameTaken, NotFound
from app.store import documents as docs
from app.store.postgres.files import drop_files
from app.store.postgres.records import (COPY_CHUNKS, INSERT, ORDERS, UPDATE, chunk,
                                        chunk_filter, chunk_row, document, document_filter,
                                        document_row, new_chunks, page, taken_like)
from app.store.postgres.sql import unstorable

COUNTS = ("document_count", "chunk_count", "token_num")


class Counts:
    """A dataset's counts in a transaction that holds its row, kept as its documents change
    and written back once."""

    def __init__(self, conn, tenant, row):
        self.conn, self.tenant, self.seq = conn, tenant, row["seq"]
        self.counts = self.kept = {k: row["fields"].get(k, 0) for k in COUNTS}

    @classmethod
    def locked(cls, conn, tenant, dataset_id):
        """The Counts of the tenant's dataset, its row locked; None if it has none."""
        row = None if unstorable(dataset_id) else conn.execute(
            "SELECT seq, fields FROM datasets WHERE tenant_id = %s AND id = %s FOR UPDATE",
            (tenant, dataset_id)).fetchone()
        return None if row is None else cls(conn, tenant, row)

    def change(self, old, new):
        """Count a document that went from `old` to `new` (None: none)."""
        self.counts = docs.recount(self.counts, old, new)

    def write(self, old, new):
        """Store `new` over `old`, its chunks dropped if it has none now, and count it."""
        self.conn.execute(UPDATE, document_row(new, self.tenant))
        if old["chunk_count"] and not new["chunk_count"]:
            self.conn.execute("DELETE FROM chunks WHERE document_id = %s", (new["id"],))
        self.change(old, new)

    def save(self):
        if self.counts != self.kept:
            self.conn.execute("UPDATE datasets SET fields = fields || %s WHERE seq = %s",
                              (Jsonb(self.counts), self.seq))


def locked_documents(conn, dataset_id, ids):
    """{id: record} of these documents of the dataset, locked; NotFound naming any other."""
    ids = list(dict.fromkeys(ids))
    rows = conn.execute("SELECT * FROM documents WHERE dataset_id = %s AND id = ANY(%s)"
                        " ORDER BY seq FOR UPDATE",
                        (dataset_id, [i for i in ids if not unstorable(i)])).fetchall()
    found = {row["id"]: document(row) for row in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(missing)
    return {i: found[i] for i in ids}


def changed_chunks(conn, document_id, ids, change, args=()):
    """The rows (id, token_count) `change` (an UPDATE or DELETE of chunks) returns of these
    chunks of the document (None: all); NotFound naming any other, rolling back."""
    kept = None if ids is None else [i for i in ids if not unstorable(i)]
    rows = conn.execute(f"{change} WHERE document_id = %s AND (%s::text[] IS NULL OR"
                        f" id = ANY(%s)) RETURNING id, token_count",
                        (*args, document_id, kept, kept)).fetchall()
    if ids is not None:
        found = {row["id"] for row in rows}
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            raise NotFound(missing)
    return rows


class Documents:
    """The document, chunk and bytes operations of PostgresStore (see app.store.Store)."""

    def _dataset(self, conn, tenant, dataset_id):
        """The Counts of the tenant's dataset, its row locked; NotFound if it has none."""
        counts = Counts.locked(conn, tenant, dataset_id)
        if counts is None:
            raise NotFound([dataset_id])
        return counts

    def add_documents(self, tenant, dataset_id, documents, now, limits=None):
        made = [docs.new_document(fields) for fields in documents]
        limits = {what: n for what, n in (limits or {}).items() if n is not None}
        with self._transaction() as conn:
            if limits:
                conn.execute("SELECT FROM tenants WHERE id = %s FOR UPDATE", (tenant,))
            counts = self._dataset(conn, tenant, dataset_id)
            if limits:
                held = conn.execute("SELECT count(*) AS documents, coalesce(sum(size), 0)"
                                    " AS bytes FROM documents WHERE tenant_id = %s",
                                    (tenant,)).fetchone()
                adding = {"documents": len(made), "bytes": sum(r["size"] for r in made)}
                for what in ("documents", "bytes"):
                    if what in limits and held[what] + adding[what] > limits[what]:
                        raise LimitReached(limits[what], what)
            taken = set()
            for record in made:
                base = docs.name_parts(record["name"])[0]
                taken.update(row["name"] for row in conn.execute(
                    "SELECT name FROM documents WHERE dataset_id = %s AND name LIKE %s",
                    (dataset_id, taken_like(base))))
                record.update(name=docs.free_name(record["name"], taken), id=uuid.uuid4().hex,
                              dataset_id=dataset_id, created_by=tenant, create_time=now,
                              update_time=now)
                taken.add(record["name"])
                conn.execute(INSERT, document_row(record, tenant))
                counts.change(None, record)
            counts.save()
        return [docs.shown(record) for record in made]

    def get_document(self, tenant, dataset_id, document_id):
        if unstorable(dataset_id, document_id):
            return None
        row = self._read(lambda conn: conn.execute(
            "SELECT * FROM documents WHERE id = %s AND dataset_id = %s AND tenant_id = %s",
            (document_id, dataset_id, tenant)).fetchone())
        return None if row is None else docs.shown(document(row))

    def list_documents(self, tenant, dataset_id, query, orderby="create_time", desc=True,
                       offset=0, limit=None):
        if unstorable(dataset_id):
            return None
        matching = document_filter(dataset_id, query)
        order = f"{ORDERS[orderby]} {'DESC' if desc else 'ASC'}, seq {'DESC' if desc else 'ASC'}"

        def read(conn):
            if conn.execute("SELECT FROM datasets WHERE tenant_id = %s AND id = %s",
                            (tenant, dataset_id)).fetchone() is None:
                return None
            if matching is None:
                return [], 0
            rows, total = page(conn, "documents", *matching, order, offset, limit)
            return [docs.shown(document(row)) for row in rows], total

        return self._read(read)

    def update_document(self, tenant, dataset_id, document_id, patch, now):
        docs.new_document(patch.fields)  # raises on a field that is not a document's
        with self._transaction() as conn:
            counts = Counts.locked(conn, tenant, dataset_id)
            if counts is None:
                return None
            try:
                [old] = locked_documents(conn, dataset_id, [document_id]).values()
            except NotFound:
                return None
            new = {**docs.patched(old, patch), "update_time": now}
            if new["name"] != old["name"] and conn.execute(
                    "SELECT FROM documents WHERE dataset_id = %s AND name = %s",
                    (dataset_id, new["name"])).fetchone() is not None:
                raise NameTaken(new["name"])
            counts.write(old, new)
            counts.save()
            available = docs.switched(old, new)
            if available is not None:
                conn.execute("UPDATE chunks SET available = %s WHERE document_id = %s",
                             (available, document_id))
        return docs.shown(new)

    def delete_documents(self, tenant, dataset_id, ids=None):
        with self._transaction() as conn:
            counts = self._dataset(conn, tenant, dataset_id)
            if ids is None:
                rows = conn.execute("DELETE FROM documents WHERE dataset_id = %s RETURNING *",
                                    (dataset_id,)).fetchall()
                gone = [document(row) for row in sorted(rows, key=lambda row: row["seq"])]
            else:
                gone = list(locked_documents(conn, dataset_id, ids).values())
                conn.execute("DELETE FROM documents WHERE id = ANY(%s)",
                             ([r["id"] for r in gone],))
            drop_files(conn, [record["location"] for record in gone])
            for record in gone:
                counts.change(record, None)
            counts.save()
        return [docs.shown(record) for record in gone]

    def _parses(self, tenant, dataset_id, ids, change):
        """`change(record)` (new fields, or None) applied to each document; their records."""
        with self._transaction() as conn:
            counts = self._dataset(conn, tenant, dataset_id)
            records = locked_documents(conn, dataset_id, ids)
            for i, old in records.items():
                fields = change(old)
                if fields is not None:
                    records[i] = {**old, **fields}
                    counts.write(old, records[i])
            counts.save()
        return [docs.shown(record) for record in records.values()]

    def queue_parse(self, tenant, dataset_id, ids, now):
        return self._parses(tenant, dataset_id, ids,
                            lambda old: {**docs.queued(now), "update_time": now})

    def cancel_parse(self, tenant, dataset_id, ids, now):
        return self._parses(tenant, dataset_id, ids, lambda old: {
            **docs.cancelled(old, now), "update_time": now}
            if old["run"] == docs.RUNNING else None)

    def claim_parse(self, claim, until, now):
        with self._transaction() as conn:
            while True:
                row = conn.execute(
                    f"SELECT * FROM documents WHERE run = '{docs.RUNNING}' AND claimed_until"
                    f" <= %s ORDER BY process_begin_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED",
                    (now,)).fetchone()
                if row is None:
                    return None
                old = document(row)
                if old["attempts"] < docs.ATTEMPTS:
                    new = {**old, **docs.claimed(old, claim, until, now)}
                    conn.execute(UPDATE, document_row(new, row["tenant_id"]))
                    return row["tenant_id"], docs.shown(new)
                # Its chunk counts stay as they are (none): its dataset's counts too.
                conn.execute(UPDATE, document_row({**old, **docs.given_up(old, now)},
                                                  row["tenant_id"]))

    def finish_parse(self, tenant, document_id, claim, chunks, error, now):
        if unstorable(document_id):
            return False
        with self._transaction() as conn:
            row = conn.execute("SELECT dataset_id FROM documents WHERE id = %s AND"
                               " tenant_id = %s", (document_id, tenant)).fetchone()
            if row is None:
                return False
            counts = Counts.locked(conn, tenant, row["dataset_id"])  # before the document's
            if counts is None:
                return False
            try:
                [old] = locked_documents(conn, row["dataset_id"], [document_id]).values()
            except NotFound:
                return False
            if not docs.held(old, claim):
                return False
            made = [] if error is not None else new_chunks(old, chunks, now)
            with conn.cursor() as cur, cur.copy(COPY_CHUNKS) as copy:
                for record in made:
                    copy.write_row(chunk_row(record))
            counts.write(old, {**old, **docs.finished(old, made, error, now),
                               "update_time": now})
            counts.save()
        return True

    def renew_parse(self, tenant, document_id, claim, until):
        if unstorable(document_id, claim):
            return False
        with self._transaction() as conn:
            return conn.execute(
                f"UPDATE documents SET claimed_until = %s WHERE id = %s AND tenant_id = %s"
                f" AND claim = %s AND run = '{docs.RUNNING}' RETURNING id",
                (until, document_id, tenant, claim)).fetchone() is not None

    def list_chunks(self, tenant, dataset_id, document_id, keywords=None, chunk_id=None,
                    offset=0, limit=None):
        if unstorable(dataset_id, document_id):
            return None
        matching = chunk_filter(document_id, keywords, chunk_id)

        def read(conn):
            if conn.execute("SELECT FROM documents WHERE id = %s AND dataset_id = %s AND"
                            " tenant_id = %s", (document_id, dataset_id, tenant)
                            ).fetchone() is None:
                return None
            if matching is None:
                return [], 0
            rows, total = page(conn, "chunks", *matching, "position", offset, limit)
            return [chunk(row) for row in rows], total

        return self._read(read)

    def delete_chunks(self, tenant, dataset_id, document_id, ids=None):
        with self._transaction() as conn:
            counts = self._dataset(conn, tenant, dataset_id)
            try:
                [old] = locked_documents(conn, dataset_id, [document_id]).values()
            except NotFound:
                raise NotFound([document_id]) from None
            rows = changed_chunks(conn, document_id, ids, "DELETE FROM chunks")
            counts.write(old, {**old, "chunk_count": old["chunk_count"] - len(rows),
                               "token_count": old["token_count"]
                               - sum(row["token_count"] for row in rows)})
            counts.save()
        return len(rows)

    def set_chunks_available(self, tenant, dataset_id, document_id, ids, available):
        with self._transaction() as conn:
            if unstorable(dataset_id, document_id) or conn.execute(
                    "SELECT FROM documents WHERE id = %s AND dataset_id = %s AND"
                    " tenant_id = %s", (document_id, dataset_id, tenant)).fetchone() is None:
                raise NotFound([document_id])
            return len(changed_chunks(conn, document_id, ids,
                                      "UPDATE chunks SET available = %s", (available,)))
