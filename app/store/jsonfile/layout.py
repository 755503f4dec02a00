"""The store file's layout: TinyDB's format, one table per line, and its checks."""

#     {"meta": {"1": {"format": 2, "id": ..., "version": ..., "after": ...}},
#      "keys": {"1": {key}}, "tenants": {"1": {"id": ..., "created": ...}},
#      "tenant:<id>": {"1": {dataset}}, "idempotency": {"1": {...}}}
#
# TinyDB's doc ids grow with each insert, so they are also each table's creation order.
# The same layout is what `store export` writes and `store import` reads, on every engine.

import orjson

from app.store import documents as docs, rules
from app.store.jsonfile import records
from app.store.jsonfile.records import is_stored

FORMAT = 2
META, KEYS, TENANTS, IDEMPOTENCY = "meta", "keys", "tenants", "idempotency"
TENANT = "tenant:"  # prefix of the tables that each hold one tenant's datasets
DOCUMENTS, CHUNKS = "documents:", "chunks:"  # ...its documents, and its documents' chunks
FILES = "files"  # in an export only: the documents' bytes (the store keeps them beside it)


def tenant_table(tenant):
    return TENANT + tenant


def _tenant_ok(doc):
    return (type(doc) is dict and doc.keys() == {"id", "created"}
            and type(doc["id"]) is str and bool(rules.HEX32.fullmatch(doc["id"]))
            and type(doc["created"]) is int)


ENTRY = ("tenant", "key", "fingerprint", "created", "dataset_id")


def _idempotency_ok(doc):
    # Stores written before entries named their dataset hold a copy of it instead.
    return (type(doc) is dict and all(map(doc.__contains__, ENTRY[:4]))
            and all(type(doc[f]) is str for f in ("tenant", "key", "fingerprint"))
            and type(doc["created"]) is int
            and (doc.keys() == set(ENTRY) and type(doc["dataset_id"]) is str
                 or doc.keys() == {*ENTRY[:4], "dataset"} and is_stored(doc["dataset"])))


def made_by(entry):
    """The id of the dataset an idempotency entry's create made."""
    return entry["dataset_id"] if "dataset_id" in entry else entry["dataset"]["id"]


def as_entry(found):
    """An idempotency entry of either shape in this one's."""
    return {**{field: found[field] for field in ENTRY[:4]}, "dataset_id": made_by(found)}


def _meta_ok(doc):
    return (type(doc) is dict and doc.get("format") == FORMAT
            and type(doc.get("id")) is str and type(doc.get("version")) is int
            and (doc.get("after") is None or type(doc.get("after")) is str))


DOCUMENT = {*docs.DOCUMENT_FIELDS, *docs.QUEUE_FIELDS, "id", "dataset_id", "created_by",
            "create_time", "update_time"}


def _document_ok(doc):
    return (type(doc) is dict and doc.keys() == DOCUMENT and type(doc["id"]) is str
            and type(doc["name"]) is str and type(doc["location"]) is str)


def _chunks_ok(doc):
    return (type(doc) is dict and doc.keys() == {"document_id", "chunks"}
            and type(doc["chunks"]) is list)


def _file_ok(doc):
    return (type(doc) is dict and doc.keys() == {"tenant", "location", "data"}
            and all(type(value) is str for value in doc.values()))


def validator(name):
    """The check of a record of table `name`, or None if the layout has no such table."""
    for prefix, valid in ((TENANT, is_stored), (DOCUMENTS, _document_ok), (CHUNKS, _chunks_ok)):
        if name.startswith(prefix):
            return valid if rules.HEX32.fullmatch(name[len(prefix):]) else None
    return {META: _meta_ok, KEYS: rules.key_ok, TENANTS: _tenant_ok,
            IDEMPOTENCY: _idempotency_ok, FILES: _file_ok}.get(name)


def check(tables):
    """Raise ValueError naming the first part of `tables` that is not the layout."""
    if not isinstance(tables, dict):
        raise ValueError("the top level is not a JSON object")
    for name, table in tables.items():
        valid = validator(name)
        if valid is None:
            raise ValueError(f"unexpected table {name!r}")
        if not isinstance(table, dict):
            raise ValueError(f"table {name!r} is not a JSON object")
        # map() keeps this loop in C: it runs on every full read of the file.
        if not (all(map(str.isdecimal, table)) and all(map(valid, table.values()))):
            bad = next(i for i, doc in table.items() if not (i.isdecimal() and valid(doc)))
            raise ValueError(f"record {bad!r} of table {name!r} is malformed")
    meta = tables.get(META, {}).get("1")
    if meta is None or len(tables[META]) != 1:
        raise ValueError("no meta record (is this a dataset store?)")


def serialise(tables):
    """The file's bytes: one JSON object, a table per line, meta first."""
    names = sorted(tables, key=lambda name: (name != META, name))
    lines = [orjson.dumps(name) + b":" + records.dumps(tables[name]) for name in names]
    return b"{" + b",\n".join(lines) + b"}\n"


def numbered(records):
    return {str(n): record for n, record in enumerate(records, 1)}


def to_tables(export, meta):
    """The tables of an export (see Store.export), with `meta`."""
    tables = {META: {"1": meta}, KEYS: numbered(export["keys"]),
              TENANTS: numbered(export["tenants"]),
              IDEMPOTENCY: numbered(list(map(as_entry, export["idempotency"])))}
    for dataset in export["datasets"]:
        table = tables.setdefault(tenant_table(dataset["tenant_id"]), {})
        table[str(len(table) + 1)] = _stored(dataset)
    for document in export.get("documents", ()):
        table = tables.setdefault(DOCUMENTS + document["created_by"], {})
        table[str(len(table) + 1)] = {**docs.new_document(docs.own_fields(document)),
                                      **{f: document[f] for f in DOCUMENT - set(
                                          docs.DOCUMENT_FIELDS) - set(docs.QUEUE_FIELDS)}}
    tenant_of = {d["id"]: d["created_by"] for d in export.get("documents", ())}
    for chunk in export.get("chunks", ()):
        table = tables.setdefault(CHUNKS + tenant_of[chunk["document_id"]], {})
        last = table.get(str(len(table)))
        if last is None or last["document_id"] != chunk["document_id"]:
            last = table[str(len(table) + 1)] = {"document_id": chunk["document_id"],
                                                 "chunks": []}
        last["chunks"].append(chunk)
    owners = {d["location"]: d["created_by"] for d in export.get("documents", ())}
    if export.get("files"):
        tables[FILES] = numbered([{"tenant": owners[location], "location": location,
                                   "data": data} for location, data in export["files"].items()])
    return tables


def _stored(dataset):
    return {k: v for k, v in dataset.items() if k not in ("tenant_id", "created_by")}


def shown(stored, tenant):
    """A stored dataset as the interface returns it: the caller's own, down to its values."""
    # Equal values are shared between stored datasets (records.share): none is handed out.
    shown = dict(zip(records.FIELDS, stored)) if type(stored) is records.Stored else {**stored}
    shown["parser_config"] = rules.copied(shown["parser_config"])
    shown["tenant_id"] = shown["created_by"] = tenant
    return shown


def ordered(table):
    """The records of a table in creation order: by doc id."""
    return [table[doc_id] for doc_id in sorted(table, key=int)]


def from_tables(tables):
    """The export of `tables`: each list in creation order."""
    datasets = []
    for tenant in ordered(tables.get(TENANTS, {})):
        datasets += [shown(d, tenant["id"])
                     for d in ordered(tables.get(tenant_table(tenant["id"]), {}))]
    idempotency = list(map(as_entry, ordered(tables.get(IDEMPOTENCY, {}))))
    documents, chunks = [], []
    for tenant in ordered(tables.get(TENANTS, {})):
        documents += map(docs.shown, ordered(tables.get(DOCUMENTS + tenant["id"], {})))
        by_document = {r["document_id"]: r["chunks"]
                       for r in tables.get(CHUNKS + tenant["id"], {}).values()}
        chunks += [chunk for d in documents if d["created_by"] == tenant["id"]
                   for chunk in by_document.get(d["id"], ())]
    files = {record["location"]: record["data"] for record in tables.get(FILES, {}).values()}
    return {"keys": ordered(tables.get(KEYS, {})), "tenants": ordered(tables.get(TENANTS, {})),
            "datasets": datasets, "idempotency": idempotency, "documents": documents,
            "chunks": chunks, "files": files}


OLD_DATASET = {"id", "name", "create_time", "update_time"}


def _old_dataset_ok(doc):
    return (type(doc) is dict and doc.keys() == OLD_DATASET and type(doc["name"]) is str
            and type(doc["id"]) is str and type(doc["create_time"]) is int
            and type(doc["update_time"]) is int)


def _check_old(tables):
    if not isinstance(tables, dict) or META in tables:
        raise ValueError("neither this format nor the first")
    for name, table in tables.items():
        if name in ("changes", "applied"):
            continue
        valid = (rules.key_ok if name == KEYS else
                 _old_dataset_ok if validator(name) is is_stored else None)
        if valid is None or not isinstance(table, dict):
            raise ValueError(f"unexpected table {name!r}")
        if not all(i.isdecimal() and valid(doc) for i, doc in table.items()):
            raise ValueError(f"table {name!r} has a malformed record")


def upgrade(tables, defaults):
    """The tables of a store of the first format in this one, without meta (or ValueError)."""
    # The first format: datasets with a name and times only, a changes log, answers of
    # group commits.
    _check_old(tables)
    keys = tables.get(KEYS, {})
    tenants = {}
    for key in sorted(keys.values(), key=lambda k: k["created"]):
        tenants.setdefault(key["tenant"], key["created"])
    new = {KEYS: keys}
    for name, table in tables.items():
        if name.startswith(TENANT):
            tenant = name[len(TENANT):]
            first = min((d["create_time"] for d in table.values()), default=0)
            tenants[tenant] = min(tenants.get(tenant, first), first)
            new[name] = {i: {**rules.new_dataset({"name": d["name"], **defaults}),
                             "id": d["id"], "create_time": d["create_time"],
                             "update_time": d["update_time"]} for i, d in table.items()}
    ordered = sorted(tenants.items(), key=lambda item: item[1])
    new[TENANTS] = numbered([{"id": t, "created": created} for t, created in ordered])
    return new
