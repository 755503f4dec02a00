"""Datasets as the JSON engine holds them in memory: compact, sharing the values that repeat."""

# Every worker holds every dataset of the store: as a `Stored` tuple whose repeated values
# (models, language, parser_config...) are shared with other datasets'. The file is parsed
# with a hook that makes each dataset a `Stored` as soon as it is read.

import itertools
import json
import operator
from collections import namedtuple

import orjson

from app.store import rules

FIELDS = (*rules.DATASET_FIELDS, "id", "create_time", "update_time")
TYPES = {**rules.FIELD_TYPES, "id": (str,), "create_time": (int,), "update_time": (int,)}
TYPINGS = set(itertools.product(*TYPES.values()))  # the type of each value, in FIELDS order
SHARED = ("embedding_model", "permission", "chunk_method", "parser_config", "language",
          "similarity_threshold", "vector_similarity_weight", "status")
SHARED_AT = [FIELDS.index(field) for field in SHARED]
SHARED_MOST = 10_000  # distinct shared values kept; past that, sharing starts again
_shared = {}


class Stored(namedtuple("Stored", FIELDS)):
    """A stored dataset, read as a dict is (`stored["name"]`, `{**stored}`), never changed."""

    __slots__ = ()

    def __getitem__(self, key):
        return getattr(self, key) if type(key) is str else tuple.__getitem__(self, key)

    def keys(self):
        return FIELDS


values = operator.itemgetter(*FIELDS)  # a dataset's values, in FIELDS order


def is_stored(doc):
    """Whether `doc` is a stored dataset: its own fields, an id and two times, all typed."""
    return type(doc) is Stored or (type(doc) is dict and doc.keys() == TYPES.keys()
                                   and tuple(map(type, values(doc))) in TYPINGS)


def share(value):
    """`value`, or an equal one of the same type already held for another dataset."""
    try:
        key = orjson.dumps(value) if type(value) is dict else (type(value), value)
    except orjson.JSONEncodeError:  # an integer past 64 bits, which loads() then refuses
        return value
    if len(_shared) >= SHARED_MOST and key not in _shared:
        _shared.clear()
    return _shared.setdefault(key, value)


def compact(doc):
    """The Stored of a stored dataset (a dict that is_stored)."""
    stored = list(values(doc))
    for i in SHARED_AT:
        stored[i] = share(stored[i])
    if stored[-1] == stored[-2]:  # update_time, create_time: one int for both
        stored[-1] = stored[-2]
    return tuple.__new__(Stored, stored)


def as_dict(doc):
    return dict(zip(FIELDS, doc)) if type(doc) is Stored else doc


def _hook(pairs):
    doc = dict(pairs)
    return compact(doc) if len(doc) == len(FIELDS) and is_stored(doc) else doc


def _refuse(constant):
    raise ValueError(f"{constant} is not JSON")


def loads(data):
    """The tables of the file's bytes `data`, each dataset a Stored (ValueError if not JSON)."""
    # Also refused: JSON that the file could not be written back as.
    try:
        tables = json.loads(data, object_pairs_hook=_hook, parse_constant=_refuse)
    except RecursionError:
        raise ValueError("nested too deep") from None
    try:  # what orjson refuses to write (a lone surrogate, an integer past 64 bits)
        orjson.dumps(tables, default=as_dict)
    except orjson.JSONEncodeError as err:
        raise ValueError(str(err)) from None
    return tables


def dumps(value, option=None):
    """orjson.dumps of `value`, with its Stored as objects."""
    return orjson.dumps(value, default=as_dict, option=option)
