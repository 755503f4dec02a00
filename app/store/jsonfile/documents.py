"""The JSON engine's documents and chunks (tables per tenant) and their bytes (files beside)."""

# `documents:<tenant>` holds a tenant's documents; `chunks:<tenant>` one record per parsed
# document, {"document_id", "chunks": [...]}, in the document's order. The bytes are files
# `<store>.files/<tenant>/<location>`, written and synced before a record names them.

from app.store import NotFound
from app.store import documents as docs
from app.store.jsonfile.layout import CHUNKS, DOCUMENTS, tenant_table


def documents_table(tenant):
    return DOCUMENTS + tenant


def chunks_table(tenant):
    return CHUNKS + tenant


def by_id(table):
    return {record["id"]: doc_id for doc_id, record in table.items()}


def by_document(table):
    return {record["document_id"]: doc_id for doc_id, record in table.items()}


def running(table):
    return [doc_id for doc_id, record in table.items() if record["run"] == docs.RUNNING]


class Tenant:
    """One tenant's documents and chunks in one state, and the changes made to them."""

    def __init__(self, state, tenant):
        self.state, self.tenant = state, tenant
        self.name, self.chunks_name = documents_table(tenant), chunks_table(tenant)
        self.changes = []
        self._counted = {}  # dataset id -> (doc id, its record with the counts so far)
        self._next = {}  # table -> the doc id the next new record takes

    def new_id(self, name):
        self._next[name] = self._next.get(name) or int(self.state.next_id(name))
        self._next[name] += 1
        return str(self._next[name] - 1)

    def find(self, document_id):
        """(doc id, record) of the tenant's document, or (None, None)."""
        doc_id = self.state.derived(self.name, "by_id", by_id).get(document_id)
        return (doc_id, self.state.table(self.name)[doc_id]) if doc_id else (None, None)

    def document(self, dataset_id, document_id):
        """(doc id, record) of the dataset's document, or (None, None)."""
        doc_id, record = self.find(document_id)
        return (doc_id, record) if record and record["dataset_id"] == dataset_id else (None, None)

    def of(self, dataset_id, ids):
        """[(doc id, record)] of these documents (None: all) of the dataset, else NotFound."""
        if ids is None:
            table = self.state.table(self.name)
            return [(i, table[i]) for i in sorted(table, key=int)
                    if table[i]["dataset_id"] == dataset_id]
        found = [self.document(dataset_id, document_id) for document_id in ids]
        missing = [i for i, (doc_id, _) in zip(ids, found) if doc_id is None]
        if missing:
            raise NotFound(missing)
        return list(dict(found).items())  # an id named twice counts once

    def forget(self, dataset_ids):
        """Delete the documents and chunks of these datasets, counting none; their locations."""
        table, chunks = self.state.table(self.name), self.chunks_name
        gone = {doc_id: r for doc_id, r in table.items() if r["dataset_id"] in dataset_ids}
        self.changes += [("del", self.name, doc_id) for doc_id in gone]
        self.changes += [("del", chunks, chunk_doc) for r in gone.values()
                         if (chunk_doc := self.chunks(r["id"])[0]) is not None]
        return [r["location"] for r in gone.values()]

    def chunks(self, document_id):
        """(doc id, the stored chunks) of the document, or (None, [])."""
        doc_id = self.state.derived(self.chunks_name, "by_document", by_document).get(document_id)
        return (doc_id, self.state.table(self.chunks_name)[doc_id]["chunks"]) if doc_id \
            else (None, [])

    def put(self, doc_id, old, new, chunks=None):
        """Change a document (None: delete it); `chunks`, if given, replace its chunks."""
        if new is None:
            self.changes.append(("del", self.name, doc_id))
        else:
            self.changes.append(("put", self.name, doc_id or self.new_id(self.name), new))
        record = new or old
        chunk_doc, _ = self.chunks(record["id"])
        if chunks is not None or new is None or new["chunk_count"] == 0:
            if chunk_doc is not None:
                self.changes.append(("del", self.chunks_name, chunk_doc))
            if chunks and new is not None:
                self.changes.append(("put", self.chunks_name, self.new_id(self.chunks_name),
                                     {"document_id": record["id"], "chunks": chunks}))
        self._count(record["dataset_id"], old, new)
        return new

    def _count(self, dataset_id, old, new):
        if dataset_id not in self._counted:
            doc_id, stored = self.state.dataset(self.tenant, dataset_id)
            if doc_id is None:
                return  # deleted with its dataset
            self._counted[dataset_id] = doc_id, {**stored}
        doc_id, dataset = self._counted[dataset_id]
        dataset.update(docs.recount(dataset, old, new))

    def done(self):
        """The changes, the datasets' new counts last."""
        return self.changes + [("put", tenant_table(self.tenant), doc_id, dataset)
                               for doc_id, dataset in self._counted.values()]
