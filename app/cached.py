"""What is kept only for speed, by what it was made of; DATASET_API_CACHE=off switches it off."""

import functools

import orjson
from flask import current_app, request

SIZE = 2000  # answers kept per memo; when it is full it starts again


def enabled():
    return current_app.config["CACHE"] != "off"


class Made:
    """An answer made before, kept as its JSON: app.encoding writes it as it is."""

    __slots__ = ("json",)

    def __init__(self, json):
        self.json = json


class Memo:
    """`function(value)` of a JSON value, made once per distinct value (a Made while on)."""

    def __init__(self, function, size=SIZE):
        self.function, self.size = function, size
        self.kept = {}  # the value's JSON -> a Made of the answer

    def __call__(self, value):
        return self.made(value) if enabled() else self.function(value)

    def each(self, values):
        """[self(value) for value in values], the setting read once."""
        return list(map(self.made if enabled() else self.function, values))

    def made(self, value):
        try:
            blob = orjson.dumps(value)
        except orjson.JSONEncodeError:  # not JSON's types, or integers past 64 bits
            return self.function(value)
        made = self.kept.get(blob)
        if made is None:
            made = Made(orjson.dumps(self.function(value), option=orjson.OPT_SORT_KEYS))
            if len(self.kept) >= self.size:
                self.kept.clear()
            self.kept[blob] = made
        return made


class Pages:
    """Answers of reads, each kept while the store's version for its tenant stays the same."""

    def __init__(self, size=256, most=100):
        self.size, self.most, self.kept = size, most, {}  # most: records of a page kept

    def __call__(self, store, tenant, key, make):
        """make() -> (a tuple of Made, anything immutable), or the same kept from before."""
        if not enabled():
            return make()
        version = store.version(tenant)
        if version is None:
            return make()
        key = store.location, tenant, key  # one process may serve several stores (tests do)
        kept = self.kept.get(key)
        if kept is not None and kept[0] == version:
            return kept[1]
        made = make()
        if len(made[0]) <= self.most and all(type(answer) is Made for answer in made[0]):
            if len(self.kept) >= self.size:
                self.kept.clear()
            self.kept[key] = version, made
        return made


def per_query_string(load):
    """`load()` of the request's query, made once per query string and copied out."""
    kept = functools.lru_cache(256)(lambda query_string: load())
    return lambda: dict(kept(request.query_string)) if enabled() else load()
