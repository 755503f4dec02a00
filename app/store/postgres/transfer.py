"""The PostgreSQL engine's export and import: everything, in the interface's shapes."""

import base64
import itertools

from psycopg.types.json import Jsonb

from app.store import documents as docs
from app.store import rules
from app.store.postgres.files import pieces_of
from app.store.postgres.records import (COPY_CHUNKS, WRITTEN, chunk, chunk_row, document,
                                        document_row)
from app.store.postgres.sql import KEY_COLUMNS, own_fields, record

BY_TENANT = "JOIN tenants t ON t.id = d.tenant_id ORDER BY t.seq, d.seq"  # the file's order


def export(conn):
    """Store.export of the database `conn` reads, in one snapshot."""
    data = {
        "keys": conn.execute(f"SELECT {KEY_COLUMNS} FROM keys ORDER BY seq").fetchall(),
        "tenants": conn.execute("SELECT id, created FROM tenants ORDER BY seq").fetchall(),
        "datasets": [record(row) for row in conn.execute(
            f"SELECT d.* FROM datasets d {BY_TENANT}")],
        "idempotency": conn.execute(
            "SELECT tenant, key, fingerprint, created, dataset_id FROM idempotency"
            " ORDER BY created, tenant, key").fetchall(),
        "documents": [docs.shown(document(row)) for row in conn.execute(
            f"SELECT d.* FROM documents d {BY_TENANT}")],
        "chunks": [chunk(row) for row in conn.execute(
            f"SELECT c.* FROM chunks c JOIN documents d ON d.id = c.document_id {BY_TENANT},"
            f" c.position")],
        "files": {}}
    with conn.cursor(name="files", binary=True) as cur:  # rows fetched a few at a time
        cur.execute("SELECT location, data FROM files ORDER BY location, piece")
        for location, rows in itertools.groupby(cur, key=lambda row: row["location"]):
            data["files"][location] = base64.b64encode(b"".join(r["data"] for r in rows)
                                                       ).decode()
    return data


def import_(cur, data):
    """Load Store.export's `data` through `cur`, into a database with nothing in it."""
    cur.executemany("INSERT INTO tenants (id, created) VALUES (%(id)s, %(created)s)",
                    data["tenants"])
    cur.executemany("INSERT INTO keys (id, tenant, name, digest, created, last_used) VALUES"
                    " (%(id)s, %(tenant)s, %(name)s, %(digest)s, %(created)s, %(last_used)s)",
                    data["keys"])
    with cur.copy("COPY datasets (tenant_id, id, name, name_key, fields, create_time,"
                  " update_time) FROM STDIN") as copy:
        for d in data["datasets"]:
            copy.write_row((d["tenant_id"], d["id"], d["name"], rules.same_name(d["name"]),
                            Jsonb(own_fields(d)), d["create_time"], d["update_time"]))
    cur.executemany("INSERT INTO idempotency (tenant, key, fingerprint, created, dataset_id)"
                    " VALUES (%(tenant)s, %(key)s, %(fingerprint)s, %(created)s,"
                    " %(dataset_id)s)", data["idempotency"])
    cur.execute("UPDATE tenants t SET datasets = (SELECT count(*) FROM datasets d"
                " WHERE d.tenant_id = t.id), remembered = (SELECT count(*)"
                " FROM idempotency i WHERE i.tenant = t.id)")
    tenant_of = {d["id"]: d["tenant_id"] for d in data["datasets"]}
    owner = {}  # a file's tenant: its document's
    columns = ("tenant_id", "id", "dataset_id", "create_time", *WRITTEN)
    with cur.copy(f"COPY documents ({', '.join(columns)}) FROM STDIN") as copy:
        for d in data.get("documents", []):
            d = {**docs.DOCUMENT_FIELDS, **docs.QUEUE_FIELDS, **d}  # an export without them
            row = document_row(d, tenant_of[d["dataset_id"]])
            owner[d["location"]] = row["tenant_id"]
            copy.write_row([row[c] for c in columns])
    with cur.copy(COPY_CHUNKS) as copy:
        for c in data.get("chunks", []):
            copy.write_row(chunk_row(c))
    with cur.copy("COPY files (location, piece, tenant, data) FROM STDIN") as copy:
        for location, text in data.get("files", {}).items():
            if location in owner:  # a file no document names could never be read
                for number, piece in enumerate(pieces_of(base64.b64decode(text))):
                    copy.write_row((location, number, owner[location], piece))
