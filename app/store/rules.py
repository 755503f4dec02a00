"""The rules every engine follows, written once: names, defaults, order, record checks."""

TOUCH_INTERVAL = 60_000  # ms: a key's last use is written at most once a minute
IDEMPOTENCY_TTL = 24 * 3600 * 1000  # ms an Idempotency-Key is remembered, at least
ORDERS = ("create_time", "update_time", "name")

# A dataset's own fields, with their defaults: every field of RAGFlow's current dataset
# record that the server keeps (the rest are derived: id, tenant, times).
DATASET_FIELDS = {
    "name": None,
    "avatar": None,
    "description": None,
    "embedding_model": None,
    "permission": "me",
    "chunk_method": "naive",
    "parser_config": {},
    "pagerank": 0,
    "language": "English",
    "similarity_threshold": 0.2,
    "vector_similarity_weight": 0.3,
    "status": "1",
    "document_count": 0,
    "chunk_count": 0,
    "token_num": 0,
}
FIELD_TYPES = {
    "name": (str,), "avatar": (str, type(None)), "description": (str, type(None)),
    "embedding_model": (str, type(None)), "permission": (str,), "chunk_method": (str,),
    "parser_config": (dict,), "pagerank": (int,), "language": (str,),
    "similarity_threshold": (int, float), "vector_similarity_weight": (int, float),
    "status": (str,), "document_count": (int,), "chunk_count": (int,), "token_num": (int,),
}


def same_name(name):
    """What names are compared by: two names are the same when these are equal."""
    return name.casefold()


def free_name(name, taken):
    """`name`, or the first of `name(1)`, `name(2)`... whose same_name is not in `taken`."""
    candidate, n = name, 0
    while same_name(candidate) in taken:
        n += 1
        candidate = f"{name}({n})"
    return candidate


def new_dataset(fields):
    """A dataset's own fields: the defaults, with `fields` over them."""
    unknown = set(fields) - set(DATASET_FIELDS)
    if unknown:
        raise ValueError(f"unknown dataset fields: {sorted(unknown)}")
    return {**DATASET_FIELDS, **fields}


def key_ok(key):
    return (type(key) is dict
            and key.keys() == {"id", "tenant", "name", "digest", "created", "last_used"}
            and all(type(key[f]) is str for f in ("id", "tenant", "name", "digest"))
            and type(key["created"]) is int
            and (key["last_used"] is None or type(key["last_used"]) is int))


def sort_key(orderby):
    """The sort key of (record, creation sequence) pairs: ties in creation order."""
    if orderby == "name":
        return lambda pair: (same_name(pair[0]["name"]), pair[1])
    return lambda pair: (pair[0][orderby], pair[1])
