"""The SQLite peer: both APIs on SQLite (WAL, synchronous=FULL), one connection per worker."""

import os
import sqlite3

import orjson

from bench import peer, shapes

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (digest TEXT PRIMARY KEY, id TEXT NOT NULL, tenant TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    seq INTEGER PRIMARY KEY,  -- creation order: breaks ties
    id TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL, name TEXT NOT NULL, folded TEXT NOT NULL,
    avatar TEXT, description TEXT, embedding_model TEXT, permission TEXT NOT NULL,
    chunk_method TEXT NOT NULL, parser_config TEXT NOT NULL, pagerank INTEGER NOT NULL,
    language TEXT NOT NULL, similarity_threshold REAL NOT NULL,
    vector_similarity_weight REAL NOT NULL, status TEXT NOT NULL,
    document_count INTEGER NOT NULL, chunk_count INTEGER NOT NULL, token_num INTEGER NOT NULL,
    create_time INTEGER NOT NULL, update_time INTEGER NOT NULL, UNIQUE (tenant, folded));
CREATE INDEX IF NOT EXISTS datasets_create ON datasets (tenant, create_time, seq);
CREATE INDEX IF NOT EXISTS datasets_update ON datasets (tenant, update_time, seq);
"""
SELECT = f"SELECT {', '.join(shapes.COLUMNS)} FROM datasets"
INSERT = (f"INSERT INTO datasets (folded, {', '.join(shapes.COLUMNS)})"
          f" VALUES ({', '.join('?' * (len(shapes.COLUMNS) + 1))})")
ORDER_COLUMNS = {"create_time": "create_time", "update_time": "update_time", "name": "folded"}


def as_row(cursor, values):
    row = dict(zip(shapes.COLUMNS, values))
    row["parser_config"] = orjson.loads(row["parser_config"])
    return row


def values(row):
    """A row's INSERT parameters: its folded name, then its columns."""
    return (row["name"].casefold(), *(orjson.dumps(row[c]).decode() if c == "parser_config"
                                      else row[c] for c in shapes.COLUMNS))


class Database:
    """One worker's connection; its transactions are explicit."""

    def __init__(self, path):
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)
        self.conn.row_factory = as_row

    def scalar(self, sql, params):
        """The first column of the first row, or None."""
        cursor = self.conn.execute(sql, params)
        cursor.row_factory = None
        row = cursor.fetchone()
        return row and row[0]

    def tenant(self, digest):
        return self.scalar("SELECT tenant FROM keys WHERE digest = ?", (digest,))

    def taken(self, tenant):
        return lambda folded: self.scalar(
            "SELECT 1 FROM datasets WHERE tenant = ? AND folded = ?", (tenant, folded))

    def create(self, tenant, dataset_id, fields, now):
        with self.conn:  # commits, or rolls back on an exception
            self.conn.execute("BEGIN IMMEDIATE")  # the write lock before the name is chosen
            row = {**fields, "id": dataset_id, "tenant": tenant, "create_time": now,
                   "update_time": now, "name": peer.free_name(self.taken(tenant), fields["name"])}
            self.conn.execute(INSERT, values(row))
        return row

    def list(self, tenant, orderby, desc, offset, limit, name=None, dataset_id=None,
             total=False):
        where, params = peer.where("?", tenant, name, dataset_id)
        order = "DESC" if desc else "ASC"
        rows = self.conn.execute(
            f"{SELECT}{where} ORDER BY {ORDER_COLUMNS[orderby]} {order}, seq {order}"
            " LIMIT ? OFFSET ?", params + [-1 if limit is None else limit, offset]).fetchall()
        return rows, total and self.scalar(f"SELECT count(*) FROM datasets{where}", params)

    def get(self, tenant, dataset_id):
        return self.conn.execute(f"{SELECT} WHERE tenant = ? AND id = ?",
                                 (tenant, dataset_id)).fetchone()

    def update(self, tenant, dataset_id, changes, now):
        sets, params = peer.assignments("?", changes, now)
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                return self.conn.execute(
                    f"UPDATE datasets SET {sets} WHERE tenant = ? AND id = ?"
                    f" RETURNING {', '.join(shapes.COLUMNS)}",
                    params + [tenant, dataset_id]).fetchone()
            except sqlite3.IntegrityError:
                raise peer.Refused(200, 102, f"Dataset name '{changes['name']}' already exists")

    def delete(self, tenant, dataset_id):
        with self.conn:
            return self.conn.execute("DELETE FROM datasets WHERE tenant = ? AND id = ?",
                                     (tenant, dataset_id)).rowcount == 1


def fill(path, datasets, keys):
    """Make the database: `datasets` as `store export` lists them, `keys` maps key to tenant."""
    database = Database(path)
    with database.conn as conn:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO keys VALUES (?, ?, ?)",
                         [(peer.digest(key), os.urandom(16).hex(), tenant)
                          for key, tenant in keys.items()])
        conn.executemany(INSERT, (values({**d, "tenant": d["tenant_id"]}) for d in datasets))
    database.conn.close()


app = peer.make_app(__name__, lambda: Database(os.environ["BENCH_PEER_DB"]))
