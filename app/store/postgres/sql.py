"""The PostgreSQL engine's queries that are more than a line, and rows made records."""

import json

import orjson

from app.store import rules

PREFIX = 200  # characters of a name in the index that orders by name (see schema.py)
ORDER_BY = {"create_time": "create_time {0}", "update_time": "update_time {0}",
            "name": f'left(name_key, {PREFIX}) COLLATE "C" {{0}}, name_key COLLATE "C" {{0}}'}
SAME_NAME = "tenant_id || name_key = %s"  # a lookup by the unique hash index
BIGINT = 2 ** 63 - 1  # the largest LIMIT and OFFSET PostgreSQL takes
DATASET_COLUMNS = "id, tenant_id, name, fields, create_time, update_time"
CREATE = "SELECT create_dataset(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) AS made"  # schema.py
LIMIT_REACHED, IDEMPOTENCY_MISMATCH = "DA001", "DA002"  # the SQLSTATEs of its refusals


def loads(data):
    """A jsonb value as json.loads reads it, read by orjson (several times faster) unless that
    could differ: orjson reads an integer past 64 bits as a float, and refuses infinities
    and lone surrogates, which json.loads takes. (A regular expression would cost more than
    the parse; counting digits, then their runs, does not.)"""
    if (len(data) - len(data.translate(None, DIGITS)) < LONG
            or max(map(len, data.translate(DIGITS_ONLY).split())) < LONG):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


DIGITS, LONG = b"0123456789", 19  # 19 digits or more: past 64 bits, maybe
DIGITS_ONLY = bytes(c if c in DIGITS else 32 for c in range(256))  # the rest as spaces


def record(row):
    """A dataset row as the interface returns it."""
    return {**row["fields"], "name": row["name"], "id": row["id"], "tenant_id": row["tenant_id"],
            "created_by": row["tenant_id"], "create_time": row["create_time"],
            "update_time": row["update_time"]}


def unstorable(*values):
    """Whether a string holds a NUL: PostgreSQL refuses one in text, so no stored id, name
    or digest has it and a lookup of one finds nothing (as in the JSON engine)."""
    return any(value is not None and "\x00" in value for value in values)


def like(prefix):
    """A LIKE pattern of the strings that start with `prefix`."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def own_fields(dataset):
    return {k: v for k, v in dataset.items() if k in rules.DATASET_FIELDS and k != "name"}


def taken(conn, tenant, name):
    """The name keys of the tenant that rules.free_name could meet for `name`."""
    key = rules.same_name(name)
    prefix = key + "("
    rows = conn.execute(
        f"SELECT name_key FROM datasets WHERE {SAME_NAME} UNION SELECT name_key FROM"
        f" datasets WHERE tenant_id = %s AND left(name_key, {PREFIX}) COLLATE \"C\" LIKE %s"
        f" AND name_key LIKE %s", (tenant + key, tenant, like(prefix[:PREFIX]), like(prefix)))
    return {row["name_key"] for row in rows}
