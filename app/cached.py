"""What is kept only for speed, by what it was made of; DATASET_API_CACHE=off switches it off."""

import functools

import orjson
from flask import current_app, request

SIZE = 2000  # answers kept per memo; when it is full it starts again


def enabled():
    return current_app.config["CACHE"] != "off"


class Memo:
    """`function(value)` of a JSON value, made once per distinct value and copied out each time."""

    def __init__(self, function, size=SIZE):
        self.function, self.size = function, size
        self.kept = {}  # the value's JSON -> the answer's JSON

    def __call__(self, value):
        if not enabled():
            return self.function(value)
        try:
            blob = orjson.dumps(value)
        except orjson.JSONEncodeError:  # not JSON's types, or integers past 64 bits
            return self.function(value)
        made = self.kept.get(blob)
        if made is None:
            made = orjson.dumps(self.function(value))
            if len(self.kept) >= self.size:
                self.kept.clear()
            self.kept[blob] = made
        return orjson.loads(made)


def per_query_string(load):
    """`load()` of the request's query, made once per query string and copied out."""
    kept = functools.lru_cache(256)(lambda query_string: load())
    return lambda: dict(kept(request.query_string)) if enabled() else load()
