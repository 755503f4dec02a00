"""The rules every engine follows, written once: names, defaults, changes, order, checks."""

import copy
import math
import re
from typing import NamedTuple

import orjson

TOUCH_INTERVAL = 60_000  # ms: a key's last use is written at most once a minute
IDEMPOTENCY_TTL = 24 * 3600 * 1000  # ms an Idempotency-Key is remembered, at least
IDEMPOTENCY_MOST = 1000  # Idempotency-Keys remembered per tenant; past that, the oldest go
INT64 = (-2 ** 63, 2 ** 63 - 1)  # the integers every engine stores
ORDERS = ("create_time", "update_time", "name")
HEX32 = re.compile("[0-9a-f]{32}")  # an id as the store makes it, and as UUID.hex spells one

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


def name_has(name, keywords):
    """Whether `keywords` is a part of `name`, in any case."""
    return keywords.lower() in name.lower()


def free_name(name, taken):
    """`name`, or the first of `name(1)`, `name(2)`... whose same_name is not in `taken`."""
    candidate, n = name, 0
    while same_name(candidate) in taken:
        n += 1
        candidate = f"{name}({n})"
    return candidate


SUFFIX = re.compile(r"(.*)\(([1-9][0-9]{0,17})\)", re.DOTALL)


def suffixed(key):
    """(base, n) of a same_name key `base(n)` as free_name makes them, or (key, 0)."""
    match = SUFFIX.fullmatch(key)
    return (match[1], int(match[2])) if match else (key, 0)


def copied(value):
    """A deep copy of a JSON value (through orjson: a fifth of copy.deepcopy's time)."""
    try:
        return orjson.loads(orjson.dumps(value))
    except orjson.JSONEncodeError:  # an integer past 64 bits or a lone surrogate, kept before
        return copy.deepcopy(value)  # they were refused


def deep_merge(base, over):
    """`base` with `over` laid on it, dicts merged key by key (RAGFlow's deep_merge); a copy."""
    return copied(laid_on(base, over))


def laid_on(base, over):
    """deep_merge's result, sharing the values of `base` and `over`."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = laid_on(merged[key], value)
        else:
            merged[key] = value
    return merged


class Patch(NamedTuple):
    """A change of one dataset that the engine makes to its record as it is (see `patched`)."""
    # `fields` are set; `parser_config` is merged into the current one (deep_merge); else
    # `method_config` is the parser_config that a new chunk_method brings.

    fields: dict
    parser_config: dict | None = None
    method_config: dict | None = None


def patched(record, patch):
    """The own fields of `record` after `patch` (every engine's meaning of a Patch)."""
    new = {**record, **patch.fields}
    if patch.parser_config:
        new["parser_config"] = deep_merge(record["parser_config"], patch.parser_config)
    elif patch.method_config is not None and new["chunk_method"] != record["chunk_method"]:
        new["parser_config"] = copied(patch.method_config)
    return new


def out_of_range(value, path=()):
    """(path, value) of each integer outside INT64 and each non-finite float in `value`."""
    if type(value) is int and not INT64[0] <= value <= INT64[1]:
        yield path, value
    elif type(value) is float and not math.isfinite(value):
        yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from out_of_range(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from out_of_range(inner, (*path, index))


def legacy_defaults(config):
    """What a dataset made by the legacy API holds beside its name, by the configuration."""
    return {"embedding_model": config["EMBD_ID"], "language": config["LANGUAGE"],
            "parser_config": {"pages": [[1, 1000000]]}}


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
