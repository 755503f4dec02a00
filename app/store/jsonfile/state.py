"""One version of the store in memory: its tables, their indexes, and the changes between."""

# A change is ("put", table, doc id, record) — a new record or a new version of one — or
# ("del", table, doc id). Indexes are built on first use and kept up to date by `apply`,
# so no change scans a table.

from app.store import rules
from app.store.jsonfile.layout import IDEMPOTENCY, KEYS, TENANT, TENANTS, shown, tenant_table
from app.store.jsonfile.records import compact


class TenantIndex:
    """One tenant's datasets by id and by name, its next doc id, and its sorted orders."""

    def __init__(self, table):
        self.by_id = {doc["id"]: doc_id for doc_id, doc in table.items()}
        self.by_name = {name_key(doc): doc_id for doc_id, doc in table.items()}
        self.orders = {}

    def put(self, doc_id, old, new):
        if old is not None:
            del self.by_name[rules.same_name(old["name"])]
        self.by_id[new["id"]] = doc_id
        self.by_name[name_key(new)] = doc_id
        self.orders.clear()

    def delete(self, old):
        del self.by_id[old["id"]]
        del self.by_name[rules.same_name(old["name"])]
        self.orders.clear()


def name_key(doc):
    """rules.same_name of the dataset's name (the name itself when they are equal)."""
    # The same string, not an equal one: the index holds no second copy of the name.
    key = rules.same_name(doc["name"])
    return doc["name"] if key == doc["name"] else key


class State:
    """The tables of one version of the file, and their indexes."""

    def __init__(self, tables):
        self.tables = tables
        self._tenants = {}
        self._keys = None  # digest -> doc id
        self._idempotency = None  # (tenant, key) -> doc id
        self._remembered = None  # tenant -> {doc id: None} of its entries, oldest first
        self._next = {}  # table -> its next doc id
        self._derived = {}  # table -> {what: value} made from it, dropped when it changes

    def table(self, name):
        return self.tables.get(name, {})

    # Changes

    def apply(self, changes):
        """Make `changes`, keeping the indexes that are built up to date."""
        for kind, name, doc_id, *new in changes:
            table = self.tables.setdefault(name, {})
            old = table.get(doc_id)
            if kind == "put":
                if name.startswith(TENANT):
                    new = [compact(new[0])]
                table[doc_id] = new[0]
                if name in self._next:
                    self._next[name] = max(self._next[name], int(doc_id) + 1)
            else:
                del table[doc_id]
            self._follow(name, doc_id, old, new[0] if new else None)

    def _follow(self, name, doc_id, old, new):
        self._derived.pop(name, None)
        if name.startswith(TENANT):
            index = self._tenants.get(name)
            if index is not None:
                index.put(doc_id, old, new) if new is not None else index.delete(old)
        elif name == KEYS and self._keys is not None:
            if old is not None:
                del self._keys[old["digest"]]
            if new is not None:
                self._keys[new["digest"]] = doc_id
        elif name == IDEMPOTENCY and self._idempotency is not None:
            if old is not None:
                del self._idempotency[old["tenant"], old["key"]]
                del self._remembered[old["tenant"]][doc_id]
            if new is not None:
                self._idempotency[new["tenant"], new["key"]] = doc_id
                self._remembered.setdefault(new["tenant"], {})[doc_id] = None

    def next_id(self, name):
        """The doc id a new record of table `name` takes: one more than the largest."""
        if name not in self._next:
            self._next[name] = max(map(int, self.table(name)), default=0) + 1
        return str(self._next[name])

    def derived(self, name, what, make):
        """`make(table)` of table `name`, made once until the table changes."""
        kept = self._derived.setdefault(name, {})
        if what not in kept:
            kept[what] = make(self.table(name))
        return kept[what]

    # Keys and tenants

    def key(self, digest):
        if self._keys is None:
            self._keys = {key["digest"]: doc_id for doc_id, key in self.table(KEYS).items()}
        doc_id = self._keys.get(digest)
        return None if doc_id is None else self.tables[KEYS][doc_id]

    def key_doc(self, key_id):
        return next((i for i, key in self.table(KEYS).items() if key["id"] == key_id), None)

    def tenant_exists(self, tenant):
        return any(t["id"] == tenant for t in self.table(TENANTS).values())

    # Datasets

    def index(self, tenant):
        name = tenant_table(tenant)
        index = self._tenants.get(name)
        if index is None:
            index = self._tenants[name] = TenantIndex(self.table(name))
        return index

    def dataset(self, tenant, dataset_id):
        """(doc id, stored record) of the tenant's dataset, or (None, None)."""
        doc_id = self.index(tenant).by_id.get(dataset_id)
        if doc_id is None:
            return None, None
        return doc_id, self.tables[tenant_table(tenant)][doc_id]

    def taken(self, tenant):
        """The same_name of each of the tenant's dataset names (a mapping to doc ids)."""
        return self.index(tenant).by_name

    def ordered(self, tenant, orderby, desc):
        """The tenant's stored datasets in `orderby` order, ties in creation order."""
        index = self.index(tenant)
        rows = index.orders.get((orderby, desc))
        if rows is None:
            pairs = [(doc, int(doc_id)) for doc_id, doc in self.table(tenant_table(tenant)).items()]
            pairs.sort(key=rules.sort_key(orderby), reverse=desc)
            rows = index.orders[orderby, desc] = [doc for doc, _ in pairs]
        return rows

    def listing(self, tenant, name, dataset_id, orderby, desc, offset, limit, matches=None):
        """(records, total) as Store.list_datasets answers; only those `matches` takes."""
        if name is None and dataset_id is None:
            rows = self.ordered(tenant, orderby, desc)
        else:  # one dataset at most: names are unique and so are ids
            index, table = self.index(tenant), self.table(tenant_table(tenant))
            doc_ids = {index.by_id.get(dataset_id) if dataset_id is not None else None,
                       index.by_name.get(rules.same_name(name)) if name is not None else None}
            if dataset_id is not None and name is not None and len(doc_ids) != 1:
                doc_ids = set()
            rows = [table[i] for i in doc_ids if i is not None]
        if matches is not None:
            rows = [doc for doc in rows if matches(doc)]
        page = rows[offset:] if limit is None else rows[offset:offset + limit]
        return [shown(doc, tenant) for doc in page], len(rows)

    def _index_idempotency(self):
        if self._idempotency is None:
            self._idempotency, self._remembered = {}, {}
            for doc_id in sorted(self.table(IDEMPOTENCY), key=int):
                entry = self.tables[IDEMPOTENCY][doc_id]
                self._idempotency[entry["tenant"], entry["key"]] = doc_id
                self._remembered.setdefault(entry["tenant"], {})[doc_id] = None

    def remembered(self, tenant, key):
        """(doc id, entry) of the idempotency entry of `key` for `tenant`, or (None, None)."""
        self._index_idempotency()
        doc_id = self._idempotency.get((tenant, key))
        return (None, None) if doc_id is None else (doc_id, self.tables[IDEMPOTENCY][doc_id])

    def remembered_by(self, tenant):
        """The doc ids of the tenant's idempotency entries, oldest first."""
        self._index_idempotency()
        return list(self._remembered.get(tenant, ()))

    def counts(self):
        tenants = self.table(TENANTS)
        return {"keys": len(self.table(KEYS)), "tenants": len(tenants),
                "datasets": sum(len(self.table(tenant_table(t["id"]))) for t in tenants.values())}
