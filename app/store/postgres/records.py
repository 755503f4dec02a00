"""Documents and chunks as rows of version7.py's tables, and the queries built for them."""

from psycopg.types.json import Jsonb

from app.store import documents as docs
from app.store import rules
from app.store.postgres.sql import BIGINT, unstorable

# A document's fields kept as columns (filtered, ordered, counted or claimed by); the rest of
# its fields are its row's `fields`. MADE: a record's fields that the store sets.
COLUMNS = ("name", "location", "size", "suffix", "run", "process_begin_at", "chunk_count",
           "token_count", "claim", "claimed_until", "attempts")
MADE = ("id", "dataset_id", "create_time", "update_time")
WRITTEN = (*COLUMNS, "name_key", "fields", "update_time")
INSERT = (f"INSERT INTO documents (tenant_id, id, dataset_id, create_time, {', '.join(WRITTEN)})"
          f" VALUES (%(tenant_id)s, %(id)s, %(dataset_id)s, %(create_time)s, "
          + ", ".join(f"%({c})s" for c in WRITTEN) + ")")
UPDATE = ("UPDATE documents SET " + ", ".join(f"{c} = %({c})s" for c in WRITTEN)
          + " WHERE id = %(id)s")
CHUNK_COLUMNS = ("id", "document_id", "position", "content", "token_count", "available",
                 "create_time")
COPY_CHUNKS = f"COPY chunks ({', '.join(CHUNK_COLUMNS)}, fields) FROM STDIN"
FILTERS = {"ids": "id = ANY(%s)", "name": "name = %s",
           "keywords": "strpos(lower(name), lower(%s)) > 0",  # as far as lower() goes
           "suffixes": "suffix = ANY(%s)", "runs": "run = ANY(%s)",
           "created_from": "create_time >= %s", "created_to": "create_time <= %s"}
ORDERS = {"create_time": "create_time", "update_time": "update_time", "size": "size",
          "name": 'name_key COLLATE "C"'}  # rules.same_name's order, by code point


def document(row):
    """A document row as a record, with the fields only the parse queue reads."""
    return {**row["fields"], **{c: row[c] for c in COLUMNS + MADE},
            "created_by": row["tenant_id"]}


def document_row(record, tenant):
    """The parameters of INSERT and UPDATE for a record (the fields the queue reads too)."""
    kept = {*COLUMNS, *MADE, "created_by"}
    return {**{c: record[c] for c in COLUMNS + MADE}, "tenant_id": tenant,
            "name_key": rules.same_name(record["name"]),
            "fields": Jsonb({k: v for k, v in record.items() if k not in kept})}


def chunk(row):
    """A chunk row as a record."""
    return {**row["fields"], **{c: row[c] for c in CHUNK_COLUMNS}}


def chunk_row(record):
    """A chunk record as a row of COPY_CHUNKS."""
    return (*(record[c] for c in CHUNK_COLUMNS),
            Jsonb({k: v for k, v in record.items() if k not in CHUNK_COLUMNS}))


def taken_like(base):
    """The LIKE pattern of the names that start with `base` (free_name's candidates)."""
    return base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def document_filter(dataset_id, query):
    """(where, args) of the dataset's documents that documents.matches(query); None if none
    can (a text with a NUL, which no stored one has)."""
    where, args = ["dataset_id = %s"], [dataset_id]
    for key, clause in FILTERS.items():
        value = query.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            if unstorable(value):
                return None
        elif isinstance(value, list):  # what no stored value can be matches nothing
            value = [v for v in value if not (isinstance(v, str) and unstorable(v))]
        where.append(clause)
        args.append(value)
    return " AND ".join(where), args


def chunk_filter(document_id, keywords, chunk_id):
    """(where, args) of the document's chunks with `keywords` in them, or that one; or None."""
    if unstorable(keywords, chunk_id):
        return None
    where, args = "document_id = %s", [document_id]
    if keywords is not None:  # as far as lower() goes
        where, args = where + " AND strpos(lower(content), lower(%s)) > 0", args + [keywords]
    if chunk_id is not None:
        where, args = where + " AND id = %s", args + [chunk_id]
    return where, args


def page(conn, table, where, args, order, offset, limit):
    """(rows, total): the rows of `table` matching `where`, ordered, `limit` from `offset`."""
    if limit is not None and limit > BIGINT:
        limit = None
    rows = conn.execute(f"SELECT *, count(*) OVER () AS total FROM {table} WHERE {where}"
                        f" ORDER BY {order} LIMIT %s OFFSET %s",
                        (*args, limit, min(offset, BIGINT))).fetchall()
    if rows or not (offset or limit == 0):  # else the count is had apart
        return rows, rows[0]["total"] if rows else 0
    return rows, conn.execute(f"SELECT count(*) AS total FROM {table} WHERE {where}",
                              args).fetchone()["total"]


def new_chunks(record, chunks, now):
    """The chunk records of a parse of `record` that made [(content, tokens)]."""
    return [docs.new_chunk(record, content, tokens, position, now)
            for position, (content, tokens) in enumerate(chunks)]
