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
KEY_COLUMNS = "id, tenant, name, digest, created, last_used"
TENANTS = ("SELECT t.id, t.created, (SELECT count(*) FROM keys k WHERE k.tenant = t.id)::int"
           " AS keys, t.datasets FROM tenants t ORDER BY t.seq")
CHECK = ("SELECT (SELECT count(*) FROM keys)::int AS keys,"
         " (SELECT count(*) FROM tenants)::int AS tenants,"
         " (SELECT count(*) FROM datasets)::int AS datasets,"
         " (SELECT count(*) FROM tenants t WHERE t.datasets <>"
         "  (SELECT count(*) FROM datasets d WHERE d.tenant_id = t.id))::int AS wrong,"
         " (SELECT count(*) FROM datasets s, LATERAL (SELECT count(*) AS documents,"
         "  coalesce(sum(chunk_count), 0) AS chunks, coalesce(sum(token_count), 0) AS tokens,"
         "  count(*) FILTER (WHERE chunk_count <> (SELECT count(*) FROM chunks c"
         "   WHERE c.document_id = d.id)) AS wrong FROM documents d WHERE d.dataset_id = s.id) n"
         "  WHERE n.wrong > 0 OR (n.documents, n.chunks, n.tokens) <> ("
         "   (s.fields->>'document_count')::bigint, (s.fields->>'chunk_count')::bigint,"
         "   (s.fields->>'token_num')::bigint))::int AS miscounted")
GET = f"SELECT {DATASET_COLUMNS} FROM datasets WHERE tenant_id = %s AND id = %s"
# The functions of schema.py (version6.py), and the SQLSTATEs of their refusals
CREATE = (f"SELECT {DATASET_COLUMNS} FROM"
          f" create_dataset(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
RENAME = f"SELECT {DATASET_COLUMNS} FROM rename_dataset(%s, %s, %s, %s, %s, %s, %s, %s)"
# An update that names no new name: one UPDATE, merged into the row as the UPDATE finds it
# (version8.py).
CHANGE = (f"UPDATE datasets d SET fields = patched(d.fields, %s, %s, %s), update_time = %s"
          f" WHERE tenant_id = %s AND id = %s RETURNING {DATASET_COLUMNS}")
LIMIT_REACHED, IDEMPOTENCY_MISMATCH, NAME_TAKEN, REPLAY_GONE = "DA001", "DA002", "DA003", "DA005"
EXCLUSION_VIOLATION = "23P01"  # a rename's name taken by a create that committed meanwhile


def loads(data):
    """A jsonb value as json.loads reads it (orjson's reading where it is the same)."""
    # orjson reads an integer past 64 bits as a float, and refuses infinities and lone
    # surrogates, which json.loads takes: a text with a run of 19 digits or more is json's.
    if LONG_RUN not in data.translate(DIGITS_AS_ZEROS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def dumps(value):
    """A value as jsonb's text: orjson's, or json.dumps's for what orjson refuses."""
    try:  # (integers past 64 bits, lone surrogates: refused at the API, kept from before)
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value)


DIGITS_AS_ZEROS = bytes(48 if 48 <= c <= 57 else 32 for c in range(256))  # digits as 0s
LONG_RUN = b"0" * 19  # 19 digits in a row: past 64 bits, maybe


def record(row):
    """A dataset row as the interface returns it."""
    return {**row["fields"], "name": row["name"], "id": row["id"], "tenant_id": row["tenant_id"],
            "created_by": row["tenant_id"], "create_time": row["create_time"],
            "update_time": row["update_time"]}


def unstorable(*values):
    """Whether a string holds a NUL, which no stored id, name or digest can."""
    # PostgreSQL refuses a NUL in text: a lookup of one finds nothing, as in the JSON engine.
    return any(value is not None and "\x00" in value for value in values)


def listing(tenant, name, dataset_id, orderby, desc, offset, limit, ids=None, keywords=None,
            chunk_method=None):
    """(query, args, summary, summary_args): a page with `total` on each row, and `total` alone."""
    where, args = "tenant_id = %s", [tenant]
    if name is not None:
        where, args = f"{where} AND {SAME_NAME}", args + [tenant + rules.same_name(name)]
    if dataset_id is not None:
        where, args = where + " AND id = %s", args + [dataset_id]
    if ids is not None:
        where, args = where + " AND id = ANY(%s)", args + [ids]
    if keywords is not None:  # rules.name_has, as far as the database's lower() goes
        where, args = where + " AND strpos(lower(name), lower(%s)) > 0", args + [keywords]
    if chunk_method is not None:
        where, args = where + " AND fields->>'chunk_method' = %s", args + [chunk_method]
    direction = "DESC" if desc else "ASC"
    if limit is not None and limit > BIGINT:
        limit = None
    if len(args) == 1:  # no filter: the tenant's count, kept by its writes
        count, count_args = "(SELECT t.datasets FROM tenants t WHERE t.id = %s)", [tenant]
    else:
        count, count_args = f"(SELECT count(*) FROM datasets WHERE {where})", args
    query = (f"SELECT {DATASET_COLUMNS}, {count} AS total FROM datasets WHERE {where} ORDER BY"
             f" {ORDER_BY[orderby].format(direction)}, seq {direction} LIMIT %s OFFSET %s")
    return (query, (*count_args, *args, limit, min(offset, BIGINT)),
            f"SELECT {count} AS total", count_args)


OWN_FIELDS = frozenset(rules.DATASET_FIELDS) - {"name"}  # a row's `fields`; its name is a column


def own_fields(dataset):
    return {k: dataset[k] for k in OWN_FIELDS & dataset.keys()}
