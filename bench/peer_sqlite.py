"""The peer: the same three endpoints on SQLite (WAL, synchronous=FULL), one connection per worker."""

import hashlib
import os
import re
import sqlite3
import time
import uuid

from flask import Flask, g, request

from app import encoding
from bench import shapes

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (digest TEXT PRIMARY KEY, id TEXT NOT NULL, tenant TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    seq INTEGER PRIMARY KEY,  -- creation order: breaks ties
    id TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL, name TEXT NOT NULL, folded TEXT NOT NULL,
    create_time INTEGER NOT NULL, update_time INTEGER NOT NULL, UNIQUE (tenant, folded));
CREATE INDEX IF NOT EXISTS datasets_create ON datasets (tenant, create_time, seq);
CREATE INDEX IF NOT EXISTS datasets_update ON datasets (tenant, update_time, seq);
"""
STRICT_NAME = re.compile(r"[A-Za-z0-9_\-.]{1,1023}")
ORDER_COLUMNS = {"create_time": "create_time", "update_time": "update_time", "name": "folded"}
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}

app = Flask(__name__)
encoding.init_app(app)  # the service's JSON encoding, so that only the rest differs
_connection = None


class Refused(Exception):
    """An answer in the error envelope: (HTTP status, legacy code, message)."""


def digest(key):
    return hashlib.sha256(key.encode()).hexdigest()


def connect(path):
    """A connection whose transactions are explicit, on a WAL database synced in full."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(SCHEMA)
    return conn


def db():
    """This worker process's one connection, opened after the fork."""
    global _connection
    if _connection is None:
        _connection = connect(os.environ["BENCH_PEER_DB"])
    return _connection


def fill(path, tenants, keys):
    """Make the database: `tenants` maps tenant id to dataset rows, `keys` maps key to tenant."""
    conn = connect(path)
    with conn:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO keys VALUES (?, ?, ?)",
                         [(digest(key), uuid.uuid4().hex, tenant) for key, tenant in keys.items()])
        conn.executemany(
            "INSERT INTO datasets (id, tenant, name, folded, create_time, update_time)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(r["id"], tenant, r["name"], r["name"].casefold(), r["create_time"], r["update_time"])
             for tenant, rows in tenants.items() for r in rows])
    conn.close()


@app.errorhandler(Refused)
def refused(error):
    status, code, message = error.args
    return {"code": code, "message": message}, status


@app.before_request
def authenticate():
    header = request.headers.get("Authorization")
    if header is None:
        raise Refused(401, 109, "Authorization header is missing.")
    parts = header.split()
    bearer = len(parts) == 2 and parts[0].lower() == "bearer"
    key = parts[-1] if bearer or len(parts) == 1 else ""
    row = db().execute("SELECT tenant FROM keys WHERE digest = ?", (digest(key),)).fetchone()
    if row is None:
        raise Refused(401, 109, "Token is invalid.")
    g.tenant = row["tenant"]


def free_name(conn, tenant, name):
    """`name`, or the first of `name(1)`, `name(2)`... the tenant has in no letter case."""
    candidate, n = name, 0
    while conn.execute("SELECT 1 FROM datasets WHERE tenant = ? AND folded = ?",
                       (tenant, candidate.casefold())).fetchone():
        n += 1
        candidate = f"{name}({n})"
    return candidate


@app.post("/api/v1/dataset")
def create_dataset():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or len(body) != 1 or not body.keys() <= {"name", "dataset_name"}:
        raise Refused(400, 102, "The body must be one field: name or dataset_name.")
    name = next(iter(body.values()))
    name = name.strip() if isinstance(name, str) else ""
    if not STRICT_NAME.fullmatch(name):
        raise Refused(400, 102, "Dataset name: 1 to 1023 of A-Z, a-z, 0-9, '_', '-' and '.'.")
    now = time.time_ns() // 1_000_000
    dataset_id = uuid.uuid4().hex
    conn = db()
    with conn:  # commits, or rolls back on an exception
        conn.execute("BEGIN IMMEDIATE")  # takes the write lock before the name is chosen
        name = free_name(conn, g.tenant, name)
        conn.execute("INSERT INTO datasets (id, tenant, name, folded, create_time, update_time)"
                     " VALUES (?, ?, ?, ?, ?, ?)",
                     (dataset_id, g.tenant, name, name.casefold(), now, now))
    return shapes.created(dataset_id, name)


@app.get("/api/v1/dataset")
def list_datasets():
    args = request.args
    try:
        offset, count = int(args.get("offset", 0)), int(args.get("count", -1))
        column = ORDER_COLUMNS[args.get("orderby", "create_time").lower()]
        order = "DESC" if BOOLEANS[args.get("desc", "true").lower()] else "ASC"
    except (ValueError, KeyError):
        raise Refused(400, 101, "Bad offset, count, orderby or desc.") from None
    if offset < 0 or count < -1:
        raise Refused(400, 101, "Offset or count is out of the valid range.")
    rows = db().execute(
        "SELECT id, name, create_time, update_time FROM datasets WHERE tenant = ?"
        f" ORDER BY {column} {order}, seq {order} LIMIT ? OFFSET ?", (g.tenant, count, offset))
    return shapes.listed(rows, g.tenant)


@app.delete("/api/v1/dataset/<dataset_id>")
def delete_dataset(dataset_id):
    if not db().execute("DELETE FROM datasets WHERE tenant = ? AND id = ?",
                        (g.tenant, dataset_id)).rowcount:
        return {"code": 102, "message": "Dataset not found.", "success": False}, 404
    return {"code": 0, "message": "Dataset deleted successfully!", "success": True}
