"""The storage interface (an abstract class of domain operations), its errors, the engine."""

import abc

from flask import current_app


class StoreError(RuntimeError):
    """The store cannot be read or written (a 500, with the reason in the log)."""


class StoreBusy(StoreError):
    """The store cannot be had in time, or its server is down: try again (a 503)."""


class NameTaken(Exception):
    """A rename onto a name the tenant has already (compared case-insensitively)."""

    def __init__(self, name):
        super().__init__(name)
        self.name = name


class NotFound(Exception):
    """Datasets that are not the tenant's (unknown ids are the same): nothing was done."""

    def __init__(self, ids):
        super().__init__(ids)
        self.ids = ids


class LimitReached(Exception):
    """A create past one of the tenant's limits: of datasets (TENANT_DATASET_LIMIT), or `what`."""

    def __init__(self, limit, what="datasets"):
        super().__init__(limit, what)
        self.limit, self.what = limit, what


class IdempotencyMismatch(Exception):
    """An Idempotency-Key used before with another request body."""


class ReplayGone(Exception):
    """An Idempotency-Key whose create made a dataset that has been deleted since."""

    def __init__(self, dataset_id):
        super().__init__(dataset_id)
        self.dataset_id = dataset_id


class Store(abc.ABC):
    """The operations every engine implements, on plain records that are the caller's own."""
    # Times are integer ms since the epoch; `location` names the store for messages (a path, or
    # a URL without password). Keys: {id, tenant, name, digest, created, last_used}. Tenants:
    # {id, created, keys, datasets} (two counts). Datasets: rules.DATASET_FIELDS, plus id,
    # tenant_id, created_by, create_time, update_time.

    location = None
    kind = None  # the engine's name for people: "JSON file", "PostgreSQL"

    # Keys and tenants

    @abc.abstractmethod
    def create_key(self, tenant, label, digest, now):
        """Store a new key of `tenant` (a tenant that does not exist yet is made)."""

    @abc.abstractmethod
    def find_key(self, digest):
        """The key with this SHA-256 hex digest, or None."""

    @abc.abstractmethod
    def list_keys(self):
        """Every key, oldest first."""

    @abc.abstractmethod
    def revoke_key(self, key_id):
        """Remove the key; False if there is none with that id."""

    @abc.abstractmethod
    def note_use(self, key, now):
        """Record a key's last use, at most once a minute; skipped, never waited for, when busy."""

    @abc.abstractmethod
    def tenant_exists(self, tenant):
        """Whether the tenant has been made (by its first key or dataset)."""

    @abc.abstractmethod
    def list_tenants(self):
        """Every tenant, oldest first, with its counts of keys and datasets."""

    # Datasets

    @abc.abstractmethod
    def create_dataset(self, tenant, fields, now, idempotency=None):
        """Add a dataset of `fields` under the first free name (rules.free_name); its record."""
        # LimitReached past the tenant's limit (TENANT_DATASET_LIMIT). `idempotency` = (key,
        # fingerprint): a key the tenant used in the last day answers the current record of the
        # dataset it made, ReplayGone if that was deleted, IdempotencyMismatch for another body.

    @abc.abstractmethod
    def get_dataset(self, tenant, dataset_id):
        """The tenant's dataset with this id, or None."""

    @abc.abstractmethod
    def list_datasets(self, tenant, name=None, dataset_id=None, ids=None, keywords=None,
                      chunk_method=None, orderby="create_time", desc=True, offset=0, limit=None):
        """(records, total) of the tenant's datasets matching the filters, one page of them."""
        # `name` is compared by rules.same_name; `ids`: any of them; `keywords`: a part of the
        # name, in any case (rules.name_has); ordered by `orderby` (rules.ORDERS), ties in
        # creation order, all reversed when `desc`; `limit` of them (None: all) from `offset`;
        # `total` counts every match.

    @abc.abstractmethod
    def update_dataset(self, tenant, dataset_id, patch, now):
        """Apply the rules.Patch to the dataset as it is now; the record, or None if none."""
        # update_time is set; a new name another of the tenant's datasets has raises NameTaken.

    @abc.abstractmethod
    def delete_datasets(self, tenant, ids=None):
        """Delete these datasets of the tenant (None: all), all or none; the deleted records."""
        # NotFound, deleting nothing, if any of the ids is not the tenant's. Their documents,
        # chunks and bytes go with them.

    # Documents of a tenant's dataset (app.store.documents: their fields and rules). Each
    # change of a document's count of chunks or tokens, and each add or delete, changes its
    # dataset's document_count, chunk_count and token_num in the same step.

    @abc.abstractmethod
    def new_file(self, tenant):
        """A file for a document's bytes: write() them, then finish() or abort() it."""
        # finish() -> (location, size), the bytes synced before any record names them;
        # abort() leaves nothing. Bytes no record names go at `collect`.

    def save_bytes(self, tenant, pieces):
        """Keep the bytes of the iterable `pieces` for good; (location, size) to name them by."""
        file = self.new_file(tenant)
        try:
            for piece in pieces:
                file.write(piece)
        except BaseException:
            file.abort()
            raise
        return file.finish()

    @abc.abstractmethod
    def read_bytes(self, tenant, location):
        """The bytes at `location` as a binary file open for reading (the caller closes it)."""
        # None if the tenant has none there. Read from a real file, it has a fileno().

    @abc.abstractmethod
    def add_documents(self, tenant, dataset_id, documents, now, limits=None):
        """Add documents (fields, their bytes saved) each under a free name; their records."""
        # NotFound if the dataset is not the tenant's; LimitReached past `limits`
        # ({"documents": n, "bytes": n} per tenant, None: no limit), adding none.

    @abc.abstractmethod
    def get_document(self, tenant, dataset_id, document_id):
        """The document of the tenant's dataset, or None."""

    @abc.abstractmethod
    def list_documents(self, tenant, dataset_id, query, orderby="create_time", desc=True,
                       offset=0, limit=None):
        """(records, total) of the dataset's documents that documents.matches(`query`)."""
        # Ordered as documents.ordered; None if the dataset is not the tenant's.

    @abc.abstractmethod
    def update_document(self, tenant, dataset_id, document_id, patch, now):
        """Apply the rules.Patch by documents.patched; the record, or None if none."""
        # NameTaken if the new name is another document's of the dataset.

    @abc.abstractmethod
    def delete_documents(self, tenant, dataset_id, ids=None):
        """Delete these documents (None: all) with their chunks and bytes; the records."""
        # NotFound, deleting nothing, if any id is not a document of the dataset.

    @abc.abstractmethod
    def queue_parse(self, tenant, dataset_id, ids, now):
        """Ask for a parse of each document (documents.queued, its chunks dropped)."""
        # NotFound, changing nothing, if any id is not a document of the dataset.

    @abc.abstractmethod
    def cancel_parse(self, tenant, dataset_id, ids, now):
        """Stop the parse of each RUNNING one of these documents (documents.cancelled)."""
        # NotFound as queue_parse; the records of the documents as they are after.

    @abc.abstractmethod
    def claim_parse(self, claim, until, now):
        """Take the longest-waiting claimable document for a parse; (tenant, record) or None."""
        # Held by `claim` until `until`; one cut short ATTEMPTS times is documents.given_up.

    @abc.abstractmethod
    def renew_parse(self, tenant, document_id, claim, until):
        """Hold the parse `claim` holds until `until`; False if it is no longer held."""

    @abc.abstractmethod
    def finish_parse(self, tenant, document_id, claim, chunks, error, now):
        """End the parse `claim` holds: [(content, tokens)] or an error; False if not held."""

    @abc.abstractmethod
    def list_chunks(self, tenant, dataset_id, document_id, keywords=None, chunk_id=None,
                    offset=0, limit=None):
        """(chunks, total) of the document, in its order; None if there is no such document."""

    @abc.abstractmethod
    def delete_chunks(self, tenant, dataset_id, document_id, ids=None):
        """Delete these chunks of the document (None: all); how many were deleted."""
        # NotFound (naming the ids) if any is not a chunk of the document, deleting nothing.

    @abc.abstractmethod
    def set_chunks_available(self, tenant, dataset_id, document_id, ids, available):
        """Make these chunks of the document available or not; NotFound as delete_chunks."""

    @abc.abstractmethod
    def collect(self, grace):
        """Remove bytes no record names that are older than `grace` ms; how many."""

    def version(self, tenant):
        """A value that changes with every change of the tenant's datasets; None if unknown."""
        # For what app.cached keeps; an engine that cannot tell cheaply answers None.
        return None

    # Operation

    @abc.abstractmethod
    def exists(self):
        """Whether the store has been made (the first use of one that has not makes it)."""

    @abc.abstractmethod
    def health(self):
        """Raise StoreError if the store cannot be read or written now."""

    @abc.abstractmethod
    def check(self):
        """Check every record; return {"keys": n, "tenants": n, "datasets": n}."""

    @abc.abstractmethod
    def export(self):
        """Everything: {keys, tenants, datasets, idempotency, documents, chunks, files}."""
        # Each list in creation order; datasets and documents by tenant, in the tenants'
        # order; chunks by document; files: {location: base64 of the bytes}.

    @abc.abstractmethod
    def import_(self, data):
        """Load an export into this store, which must be empty (else StoreError)."""

    def compact(self):
        """Make the store as small on disk as it can be now (a clean stop does this)."""

    def close(self):
        """Let go of files, connections and pools."""


def open_store(config):
    """The engine the configuration names."""
    if config.get("DATABASE_URL") is not None:  # a blank one is refused, not taken as none
        from app.store.postgres import PostgresStore
        return PostgresStore(config["DATABASE_URL"], config)
    from app.store.jsonfile import JsonStore
    return JsonStore(config["DB_PATH"], config)


def init_app(app):
    app.extensions["store"] = open_store(app.config)


def get_store():
    """The current app's store."""
    return current_app.extensions["store"]
