"""The JSON engine: the store in one TinyDB-format file, with a journal beside it."""

# `db.json` holds the store as of its last checkpoint; `db.json.wal` the commits since, one
# line each, appended and synced under an exclusive lock (`db.json.lock`). The file is
# rewritten only when the journal has grown as large as it (and on `store export`).
# Readers take no lock (see engine.Engine).

import base64
import os
import time
import uuid

import orjson

from app.store import (IdempotencyMismatch, LimitReached, NameTaken, NotFound, ReplayGone,
                       Store, StoreBusy, StoreError, rules)
from app.store.jsonfile import files, layout
from app.store.jsonfile.document_ops import DocumentOps
from app.store.jsonfile.documents import Tenant
from app.store.jsonfile.engine import Engine
from app.store.jsonfile.layout import IDEMPOTENCY, KEYS, TENANTS, ordered, shown, tenant_table


class JsonStore(DocumentOps, Store):
    """Keys and datasets in one JSON file, safe for several processes; files beside it."""

    kind = "JSON file"

    def __init__(self, path, config):
        self.path = self.location = os.path.abspath(path)
        self.files = self.path + ".files"  # the documents' bytes, a folder per tenant
        self.dataset_limit = int(config["TENANT_DATASET_LIMIT"])
        self.legacy_defaults = rules.legacy_defaults(config)  # of a first-format store
        self.engine = Engine(path, float(config["LOCK_TIMEOUT"]), int(config["JOURNAL_LIMIT"]),
                             self._upgrade, expired)

    def _read(self, query):
        """`query(state)` on the latest state."""
        with self.engine.mutex:
            return query(self.engine.read())

    def _upgrade(self, path):
        """The tables of a store of the first format at `path`; StoreError if it is not one."""
        try:
            with open(path, "rb") as file:
                tables = orjson.loads(file.read())
            return layout.upgrade(tables, self.legacy_defaults)
        except (OSError, ValueError) as err:
            raise StoreError(f"{path}: not a dataset store: {err}") from err

    # Keys and tenants

    def create_key(self, tenant, label, digest, now):
        key = {"id": uuid.uuid4().hex, "tenant": tenant, "name": label, "digest": digest,
               "created": now, "last_used": None}

        def op(state):
            changes = [("put", KEYS, state.next_id(KEYS), key)]
            if not state.tenant_exists(tenant):
                changes.append(("put", TENANTS, state.next_id(TENANTS),
                                {"id": tenant, "created": now}))
            return dict(key), changes

        return self.engine.commit(op)

    def find_key(self, digest):
        key = self._read(lambda state: state.key(digest))
        return None if key is None else dict(key)

    def list_keys(self):
        return self._read(lambda state: [dict(key) for key in ordered(state.table(KEYS))])

    def revoke_key(self, key_id):
        def op(state):
            doc_id = state.key_doc(key_id)
            return doc_id is not None, [("del", KEYS, doc_id)] if doc_id else []

        return self.engine.commit(op)

    def note_use(self, key, now):
        stale = now - rules.TOUCH_INTERVAL

        def op(state):  # checked again under the lock: another worker may have done it
            doc_id = state.key_doc(key["id"])
            record = doc_id and state.table(KEYS)[doc_id]
            if record and (record["last_used"] or 0) <= stale:
                return None, [("put", KEYS, doc_id, {**record, "last_used": now})]
            return None, []

        if (key["last_used"] or 0) <= stale:
            try:
                self.engine.commit(op, timeout=0)
            except StoreBusy:
                pass  # bookkeeping never waits: the next request writes it

    def tenant_exists(self, tenant):
        return self._read(lambda state: state.tenant_exists(tenant))

    def list_tenants(self):
        def query(state):
            keys = {}
            for key in state.table(KEYS).values():
                keys[key["tenant"]] = keys.get(key["tenant"], 0) + 1
            return [{**t, "keys": keys.get(t["id"], 0),
                     "datasets": len(state.table(tenant_table(t["id"])))}
                    for t in ordered(state.table(TENANTS))]

        return self._read(query)

    # Datasets

    def create_dataset(self, tenant, fields, now, idempotency=None):
        record = rules.copied(rules.new_dataset(fields))  # nothing of the caller's is kept

        def op(state):
            changes = []
            if idempotency:
                replayed, changes = remember(state, tenant, now, idempotency)
                if replayed is not None:
                    return replayed, []
            if len(state.taken(tenant)) >= self.dataset_limit:
                raise LimitReached(self.dataset_limit)
            stored = {**record, "name": rules.free_name(record["name"], state.taken(tenant)),
                      "id": uuid.uuid4().hex, "create_time": now, "update_time": now}
            table = tenant_table(tenant)
            changes.append(("put", table, state.next_id(table), stored))
            if not state.taken(tenant) and not state.tenant_exists(tenant):  # as by a key
                changes.append(("put", TENANTS, state.next_id(TENANTS),
                                {"id": tenant, "created": now}))
            if idempotency:
                changes.append(("put", IDEMPOTENCY, state.next_id(IDEMPOTENCY),
                                {"tenant": tenant, "key": idempotency[0],
                                 "fingerprint": idempotency[1], "created": now,
                                 "dataset_id": stored["id"]}))
            return shown(stored, tenant), changes

        return self.engine.commit(op)

    def get_dataset(self, tenant, dataset_id):
        def query(state):
            _, stored = state.dataset(tenant, dataset_id)
            return None if stored is None else shown(stored, tenant)

        return self._read(query)

    def list_datasets(self, tenant, name=None, dataset_id=None, ids=None, keywords=None,
                      chunk_method=None, orderby="create_time", desc=True, offset=0, limit=None):
        wanted = None if ids is None else set(ids)

        def matches(doc):
            return ((wanted is None or doc["id"] in wanted)
                    and (keywords is None or rules.name_has(doc["name"], keywords))
                    and (chunk_method is None or doc["chunk_method"] == chunk_method))

        narrowed = None if ids is keywords is chunk_method is None else matches
        return self._read(lambda state: state.listing(tenant, name, dataset_id, orderby, desc,
                                                      offset, limit, narrowed))

    def version(self, tenant):
        return self._read(lambda state: self.engine.point())  # of every tenant at once

    def update_dataset(self, tenant, dataset_id, patch, now):
        rules.new_dataset(patch.fields)  # raises on a field that is not a dataset's
        patch = rules.Patch(*map(rules.copied, patch))  # nothing of the caller's is kept

        def op(state):
            doc_id, old = state.dataset(tenant, dataset_id)
            if old is None:
                return None, []
            new = {**rules.patched(old, patch), "update_time": now}
            if "name" in patch.fields:
                if state.taken(tenant).get(rules.same_name(new["name"]), doc_id) != doc_id:
                    raise NameTaken(new["name"])
            return shown(new, tenant), [("put", tenant_table(tenant), doc_id, new)]

        return self.engine.commit(op)

    def delete_datasets(self, tenant, ids=None):
        def op(state):
            table = state.table(tenant_table(tenant))
            if ids is None:
                found = list(table)
            else:
                found = {dataset_id: state.dataset(tenant, dataset_id)[0] for dataset_id in ids}
                missing = [i for i, doc_id in found.items() if doc_id is None]
                if missing:
                    raise NotFound(missing)
                found = list(found.values())
            own = Tenant(state, tenant)
            locations.extend(own.forget({table[doc_id]["id"] for doc_id in found}))
            return ([shown(table[doc_id], tenant) for doc_id in found],
                    [("del", tenant_table(tenant), doc_id) for doc_id in found] + own.done())

        locations = []
        deleted = self.engine.commit(op)
        self._remove_bytes(tenant, locations)
        return deleted

    # Operation

    def exists(self):
        return os.path.lexists(self.path) or os.path.lexists(self.engine.journal_path)

    def health(self):
        self._read(lambda state: None)
        if not os.path.exists(self.path):
            raise StoreError(f"{self.path} is missing: was the store removed?")
        self.engine.writes.check()

    def check(self):
        with self.engine.mutex, self.engine.lock():
            for path in (self.path, self.engine.journal_path):
                files.remove(files.temporary(path))  # a crash's leftovers
            self.engine.close_state()
            return self.engine.read().counts()

    def export(self):
        with self.engine.mutex, self.engine.lock():
            state = self.engine.read()
            self.engine.checkpoint()
            data = layout.from_tables(state.tables)
        data["files"] = {}
        for document in data["documents"]:
            stream = self.read_bytes(document["created_by"], document["location"])
            if stream is None:
                raise StoreError(f"the bytes of document {document['id']} are missing")
            with stream:
                data["files"][document["location"]] = base64.b64encode(stream.read()).decode()
        return data

    def import_(self, data):
        tables = layout.to_tables(data, {"format": layout.FORMAT, "id": "", "version": 0,
                                         "after": None})
        try:
            layout.check(tables)
        except ValueError as err:
            raise StoreError(f"not a dataset store export: {err}") from err
        del tables[layout.META]
        tables.pop(layout.FILES, None)  # kept as files, beside the store
        for document in data.get("documents", ()):
            file = self.new_file(document["created_by"], document["location"])
            file.write(base64.b64decode(data["files"][document["location"]]))
            file.finish()

        def op(state):
            if any(state.tables.values()):
                raise StoreError(f"{self.path} is not empty: import only into a new store")
            return None, [("put", name, doc_id, record)
                          for name, table in tables.items() for doc_id, record in table.items()]

        self.engine.commit(op)
        self.compact()

    def compact(self):
        with self.engine.mutex, self.engine.lock():
            self.engine.read()
            if self.engine.journal_size():
                self.engine.checkpoint()

    def reset_journal(self):
        """Take the file as it is, its journal lost: a new journal begins at the file."""
        self.engine.reset_journal()

    def close(self):
        self.engine.close()


def remember(state, tenant, now, idempotency):
    """(the record replayed, None), or (None, the changes that forget the tenant's old keys)."""
    # Forgotten: its keys past rules.IDEMPOTENCY_TTL, and its oldest past IDEMPOTENCY_MOST
    # with the one this create adds.
    oldest = now - rules.IDEMPOTENCY_TTL
    doc_id, entry = state.remembered(tenant, idempotency[0])
    if entry is not None and entry["created"] >= oldest:
        if entry["fingerprint"] != idempotency[1]:
            raise IdempotencyMismatch(idempotency[0])
        _, stored = state.dataset(tenant, layout.made_by(entry))
        if stored is None:
            raise ReplayGone(layout.made_by(entry))
        return shown(stored, tenant), None
    gone = [] if entry is None else [doc_id]  # expired, and made again: its entry goes
    held = state.remembered_by(tenant)
    kept = len(held) - len(gone)
    for held_id in held:  # oldest first, up to the first that stays
        if held_id == doc_id:
            continue
        fresh = state.table(IDEMPOTENCY)[held_id]["created"] >= oldest
        if fresh and kept < rules.IDEMPOTENCY_MOST:
            break
        gone.append(held_id)
        kept -= 1
    return None, [("del", IDEMPOTENCY, held_id) for held_id in gone]


def expired(state):
    """The changes that forget the Idempotency-Keys older than rules.IDEMPOTENCY_TTL."""
    oldest = time.time_ns() // 1_000_000 - rules.IDEMPOTENCY_TTL
    return [("del", IDEMPOTENCY, doc_id) for doc_id, entry in state.table(IDEMPOTENCY).items()
            if entry["created"] < oldest]

