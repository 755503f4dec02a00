"""The storage interface, its errors, and the choice of engine.

Views, auth and the CLI call the operations of `Store` and nothing else. Two engines
implement it: the JSON file (`jsonfile`, the default) and PostgreSQL (`postgres`, when
DATASET_API_DATABASE_URL is set). Records are plain dicts (see `rules.new_dataset`).
"""

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
    """A create past the tenant's limit of datasets (DATASET_API_TENANT_DATASET_LIMIT)."""

    def __init__(self, limit):
        super().__init__(limit)
        self.limit = limit


class IdempotencyMismatch(Exception):
    """An Idempotency-Key used before with another request body."""


class KeyRevoked(Exception):
    """The request's key, which find_key answered from what the process knew, is gone (a
    401): the operation was not done."""


class Store:
    """The operations every engine implements. Times are integer ms since the epoch.

    `location` names where the store is, for messages (a path, or a URL without password).

    Keys: {"id", "tenant", "name", "digest", "created", "last_used"}.
    Tenants: {"id", "created", "keys", "datasets"} (the last two are counts).
    Datasets: the fields of `rules.new_dataset`, plus "id", "tenant_id", "created_by",
    "create_time", "update_time".
    """

    # Keys and tenants

    def create_key(self, tenant, label, digest, now):
        """Store a new key of `tenant` (a tenant that does not exist yet is made)."""
        raise NotImplementedError

    def find_key(self, digest):
        """The key with this SHA-256 hex digest, or None. An engine may answer from the keys
        the process found before, without asking the store: then the next operation of the
        thread checks that the key is still there before doing anything, and raises
        KeyRevoked if it is not; confirm_key checks it if no operation did."""
        raise NotImplementedError

    KEYS_KEPT = False  # whether find_key may answer from the keys found before

    def confirm_key(self):
        """At the end of a request: raise KeyRevoked if find_key's key was not checked by
        an operation since and is gone (only an engine whose KEYS_KEPT is true has any to
        check)."""

    def list_keys(self):
        """Every key, oldest first."""
        raise NotImplementedError

    def revoke_key(self, key_id):
        """Remove the key; False if there is none with that id."""
        raise NotImplementedError

    def note_use(self, key, now):
        """Record a key's last use, at most once a minute (rules.TOUCH_INTERVAL); skipped,
        not waited for, when the store is busy."""
        raise NotImplementedError

    def tenant_exists(self, tenant):
        raise NotImplementedError

    def list_tenants(self):
        """Every tenant, oldest first, with its counts of keys and datasets."""
        raise NotImplementedError

    # Datasets

    def create_dataset(self, tenant, fields, now, idempotency=None):
        """Add a dataset with `fields` (rules.DATASET_FIELDS), its name made free with
        rules.free_name; return the record. Raises LimitReached if the tenant has its
        limit of datasets (config TENANT_DATASET_LIMIT) already. `idempotency` = (key,
        fingerprint): a create with a key seen in the last day returns that create's record
        again, or raises IdempotencyMismatch if its fingerprint differs."""
        raise NotImplementedError

    def get_dataset(self, tenant, dataset_id):
        """The tenant's dataset with this id, or None."""
        raise NotImplementedError

    def list_datasets(self, tenant, name=None, dataset_id=None, orderby="create_time",
                      desc=True, offset=0, limit=None):
        """(records, total): the tenant's datasets matching the filters (`name` compared
        case-insensitively), ordered by `orderby` (rules.ORDERS) with ties in creation
        order (the whole order reversed when `desc`), `limit` of them (None: all) from
        `offset`; `total` counts every match. Like get_dataset's, the records may be shared
        with other requests (the JSON engine hands out one dict per version of a dataset):
        read them, never change them."""
        raise NotImplementedError

    def update_dataset(self, tenant, dataset_id, changes, now, rename_taken=False):
        """Change the fields in `changes` and set update_time; return the record, or None
        if the tenant has no such dataset. A new name that another of the tenant's datasets
        has raises NameTaken, or with `rename_taken` becomes the first free `name(N)`."""
        raise NotImplementedError

    def delete_datasets(self, tenant, ids=None):
        """Delete the tenant's datasets with these ids (None: all of them), all or none;
        return the deleted records. Raises NotFound, deleting nothing, if any is not the
        tenant's."""
        raise NotImplementedError

    # Operation

    def health(self):
        """Raise StoreError if the store cannot be used now."""
        raise NotImplementedError

    def check(self):
        """Check every record; return {"keys": n, "tenants": n, "datasets": n}."""
        raise NotImplementedError

    def export(self):
        """Everything, as rules.EXPORT_FORMAT: {"keys": [...], "tenants": [...],
        "datasets": [...], "idempotency": [...]}, each list in creation order (datasets
        by tenant, in the tenants' order)."""
        raise NotImplementedError

    def import_(self, data):
        """Load an export into this store, which must be empty (else StoreError)."""
        raise NotImplementedError

    def compact(self):
        """Make the store as small on disk as it can be now (a clean stop does this)."""

    def close(self):
        """Let go of files, connections and pools."""


def open_store(config):
    """The engine the configuration names."""
    if config.get("DATABASE_URL"):
        from app.store.postgres import PostgresStore
        return PostgresStore(config["DATABASE_URL"], config)
    from app.store.jsonfile import JsonStore
    return JsonStore(config["DB_PATH"], config)


def init_app(app):
    app.extensions["store"] = open_store(app.config)


def get_store():
    """The current app's store (looked up through the proxy's object: an attribute of the
    proxy itself takes several times as long)."""
    return current_app._get_current_object().extensions["store"]
