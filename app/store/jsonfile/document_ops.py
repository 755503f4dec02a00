"""The JSON engine's Store operations on documents, chunks and bytes (a part of JsonStore)."""

import os
import time
import uuid

from app.store import LimitReached, NameTaken, NotFound, StoreError, rules
from app.store import documents as docs
from app.store.jsonfile import files
from app.store.jsonfile.documents import DOCUMENTS, Tenant, running


class DocumentOps:
    """Store's document operations, on JsonStore's engine (self.engine) and folder of files."""

    # Bytes

    def _file(self, tenant, location):
        if not (rules.HEX32.fullmatch(tenant) and rules.HEX32.fullmatch(location)):
            raise StoreError("not a tenant's file")  # never a path of the caller's making
        return os.path.join(self.files, tenant, location)

    def new_file(self, tenant, location=None):
        return NewFile(self._file(tenant, location or uuid.uuid4().hex), self.engine.writes)

    def read_bytes(self, tenant, location):
        try:
            fd = files.open_regular(self._file(tenant, location))
        except (StoreError, FileNotFoundError):
            return None
        except OSError as err:
            raise files.error(location, "cannot read", err) from err
        return open(fd, "rb")

    def _remove_bytes(self, tenant, locations):
        for location in locations:
            try:
                files.remove(self._file(tenant, location))
            except StoreError:
                pass  # left for collect()

    def collect(self, grace):
        oldest, removed = time.time() - grace / 1000, 0
        with self.engine.mutex, self.engine.lock():  # no document named meanwhile
            state = self.engine.read()
            named = {(name[len(DOCUMENTS):], record["location"])
                     for name in list(state.tables) if name.startswith(DOCUMENTS)
                     for record in state.tables[name].values()}
            for tenant in os.listdir(self.files) if os.path.isdir(self.files) else ():
                folder = os.path.join(self.files, tenant)
                for entry in os.scandir(folder):
                    location = entry.name.strip(".").removesuffix(".part")
                    if (tenant, entry.name) not in named and \
                            entry.stat(follow_symlinks=False).st_mtime < oldest:
                        files.remove(entry.path)
                        removed += location == entry.name
        return removed

    # Documents

    def add_documents(self, tenant, dataset_id, documents, now, limits=None):
        made = [docs.new_document(fields) for fields in documents]
        limits = limits or {}

        def op(state):
            if state.dataset(tenant, dataset_id)[0] is None:
                raise NotFound([dataset_id])
            for record in made:
                if not os.path.exists(self._file(tenant, record["location"])):
                    raise StoreError(f"the bytes of {record['name']!r} are missing")
            held = state.table(DOCUMENTS + tenant).values()
            if limits.get("documents") is not None and \
                    len(held) + len(made) > limits["documents"]:
                raise LimitReached(limits["documents"], "documents")
            if limits.get("bytes") is not None and sum(r["size"] for r in held) \
                    + sum(r["size"] for r in made) > limits["bytes"]:
                raise LimitReached(limits["bytes"], "bytes")
            own = Tenant(state, tenant)
            taken = {record["name"] for _, record in own.of(dataset_id, None)}
            added = []
            for record in made:
                name = docs.free_name(record["name"], taken)
                taken.add(name)
                added.append(own.put(None, None, {
                    **record, "name": name, "id": uuid.uuid4().hex, "dataset_id": dataset_id,
                    "created_by": tenant, "create_time": now, "update_time": now}))
            return list(map(docs.shown, added)), own.done()

        return self.engine.commit(op)

    def get_document(self, tenant, dataset_id, document_id):
        def query(state):
            _, record = Tenant(state, tenant).document(dataset_id, document_id)
            return record and docs.shown(record)

        return self._read(query)

    def list_documents(self, tenant, dataset_id, query, orderby="create_time", desc=True,
                       offset=0, limit=None):
        def listing(state):
            if state.dataset(tenant, dataset_id)[0] is None:
                return None
            rows = [r for _, r in Tenant(state, tenant).of(dataset_id, None)
                    if docs.matches(r, query)]
            rows = docs.ordered(rows, orderby, desc)
            page = rows[offset:] if limit is None else rows[offset:offset + limit]
            return [docs.shown(r) for r in page], len(rows)

        return self._read(listing)

    def update_document(self, tenant, dataset_id, document_id, patch, now):
        docs.new_document(patch.fields)  # raises on a field that is not a document's
        patch = rules.Patch(*map(rules.copied, patch))

        def op(state):
            own = Tenant(state, tenant)
            doc_id, old = own.document(dataset_id, document_id)
            if old is None:
                return None, []
            new = {**docs.patched(old, patch), "update_time": now}
            if new["name"] != old["name"] and any(
                    r["name"] == new["name"] for _, r in own.of(dataset_id, None)):
                raise NameTaken(new["name"])
            available = docs.switched(old, new)
            own.put(doc_id, old, new, None if available is None or not new["chunk_count"] else [
                {**chunk, "available": available} for chunk in own.chunks(document_id)[1]])
            return docs.shown(new), own.done()

        return self.engine.commit(op)

    def delete_documents(self, tenant, dataset_id, ids=None):
        def op(state):
            if state.dataset(tenant, dataset_id)[0] is None:
                raise NotFound([dataset_id])
            own = Tenant(state, tenant)
            found = own.of(dataset_id, ids)
            for doc_id, old in found:
                own.put(doc_id, old, None)
            return [docs.shown(r) for _, r in found], own.done()

        deleted = self.engine.commit(op)
        self._remove_bytes(tenant, [r["location"] for r in deleted])
        return deleted

    # Parsing

    def _each(self, tenant, dataset_id, ids, change):
        def op(state):
            own = Tenant(state, tenant)
            records = []
            for doc_id, old in own.of(dataset_id, ids):
                new = change(old)
                records.append(docs.shown(own.put(doc_id, old, new) if new else old))
            return records, own.done()

        return self.engine.commit(op)

    def queue_parse(self, tenant, dataset_id, ids, now):
        return self._each(tenant, dataset_id, ids, lambda old: {**old, **docs.queued(now),
                                                                "update_time": now})

    def cancel_parse(self, tenant, dataset_id, ids, now):
        return self._each(tenant, dataset_id, ids, lambda old: old["run"] == docs.RUNNING and {
            **old, **docs.cancelled(old, now), "update_time": now})

    def claim_parse(self, claim, until, now):
        def waiting(state):
            found = []
            for name in list(state.tables):
                if name.startswith(DOCUMENTS):
                    table = state.tables[name]
                    found += [(table[i]["process_begin_at"] or 0, int(i), name, i)
                              for i in state.derived(name, "running", running)
                              if docs.claimable(table[i], now)]
            return sorted(found)

        def op(state):
            tenants, result = {}, None
            for _, _, name, doc_id in waiting(state):
                tenant = name[len(DOCUMENTS):]
                own = tenants.setdefault(tenant, Tenant(state, tenant))
                old = state.tables[name][doc_id]
                if old["attempts"] >= docs.ATTEMPTS:
                    own.put(doc_id, old, {**old, **docs.given_up(old, now)})
                    continue
                result = tenant, docs.shown(own.put(doc_id, old, {
                    **old, **docs.claimed(old, claim, until, now)}))
                break
            return result, [change for own in tenants.values() for change in own.done()]

        if not self._read(waiting):
            return None  # nothing waits: no lock taken
        return self.engine.commit(op)

    def renew_parse(self, tenant, document_id, claim, until):
        def op(state):
            own = Tenant(state, tenant)
            doc_id, old = own.find(document_id)
            if not docs.held(old, claim):
                return False, []
            own.put(doc_id, old, {**old, "claimed_until": until})
            return True, own.done()

        return self.engine.commit(op)

    def finish_parse(self, tenant, document_id, claim, chunks, error, now):
        def op(state):
            own = Tenant(state, tenant)
            doc_id, old = own.find(document_id)
            if not docs.held(old, claim):
                return False, []
            made = None if error is not None else [
                docs.new_chunk(old, content, tokens, n, now)
                for n, (content, tokens) in enumerate(chunks)]
            own.put(doc_id, old, {**old, **docs.finished(old, made, error, now),
                                  "update_time": now}, made)
            return True, own.done()

        return self.engine.commit(op)

    # Chunks

    def list_chunks(self, tenant, dataset_id, document_id, keywords=None, chunk_id=None,
                    offset=0, limit=None):
        def listing(state):
            own = Tenant(state, tenant)
            if own.document(dataset_id, document_id)[0] is None:
                return None
            rows = [c for c in own.chunks(document_id)[1]
                    if (keywords is None or keywords.lower() in c["content"].lower())
                    and (chunk_id is None or c["id"] == chunk_id)]
            page = rows[offset:] if limit is None else rows[offset:offset + limit]
            return rules.copied(page), len(rows)

        return self._read(listing)

    def _chunks(self, tenant, dataset_id, document_id, ids, change):
        """Apply change(chunks, chosen ids) -> new chunks to the document's; the ids chosen."""
        def op(state):
            own = Tenant(state, tenant)
            doc_id, old = own.document(dataset_id, document_id)
            if old is None:
                raise NotFound([document_id])
            chunks = own.chunks(document_id)[1]
            known = {c["id"] for c in chunks}
            missing = [] if ids is None else [i for i in ids if i not in known]
            if missing:
                raise NotFound(missing)
            chosen = set(known if ids is None else ids)
            kept = change(chunks, chosen)
            new = {**old, "chunk_count": len(kept),
                   "token_count": sum(c["token_count"] for c in kept)}
            own.put(doc_id, old, new, kept)
            return len(chosen), own.done()

        return self.engine.commit(op)

    def delete_chunks(self, tenant, dataset_id, document_id, ids=None):
        return self._chunks(tenant, dataset_id, document_id, ids,
                            lambda chunks, chosen: [c for c in chunks if c["id"] not in chosen])

    def set_chunks_available(self, tenant, dataset_id, document_id, ids, available):
        return self._chunks(tenant, dataset_id, document_id, ids, lambda chunks, chosen: [
            {**c, "available": available} if c["id"] in chosen else c for c in chunks])


class NewFile:
    """A file written beside its place, then synced and put there (Store.new_file)."""

    def __init__(self, path, writes):
        self.path, self.writes, self.size = path, writes, 0
        folder, self.location = os.path.split(path)
        self.temp = os.path.join(folder, f".{self.location}.part")
        files.make_folder(folder)
        with writes.attempt():
            try:
                self.fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                  | os.O_NOFOLLOW, 0o600)
            except OSError as err:
                raise files.error(self.temp, "cannot write", err) from err

    def write(self, data):
        try:
            files.write_all(self.fd, data)
        except OSError as err:
            self.abort()
            self.writes.fail(err)
            raise files.error(self.path, "cannot write", err) from err
        self.size += len(data)
        return len(data)

    def seek(self, offset, whence=0):
        return self.size  # the bytes are read back through the store, never from here

    def finish(self):
        with self.writes.attempt():
            try:
                os.fsync(self.fd)
                os.close(self.fd)
                self.fd = None
                os.rename(self.temp, self.path)
            except OSError as err:
                self.abort()
                raise files.error(self.path, "cannot write", err) from err
            files.sync_folder(os.path.dirname(self.path))
        return self.location, self.size

    def abort(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        files.remove(self.temp)
