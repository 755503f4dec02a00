"""Flask's JSON answers, byte for byte, encoded by orjson where that gives the same bytes."""

import re

import orjson
from flask import current_app
from flask.json.provider import DefaultJSONProvider

from app.cached import Made

# Dates and dataclasses go to Flask's encoder, which writes them its own way.
OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE | orjson.OPT_PASSTHROUGH_DATETIME
           | orjson.OPT_PASSTHROUGH_DATACLASS)


class FastJSONProvider(DefaultJSONProvider):
    """Flask's default JSON, the same bytes, encoded by orjson where that gives the same bytes."""

    @staticmethod
    def default(o):
        if type(o) is Made:
            return orjson.loads(o.json)
        return DefaultJSONProvider.default(o)

    def response(self, *args, **kwargs):
        if self.compact or (self.compact is None and not current_app.debug):
            try:
                body = orjson.dumps(answer(args, kwargs), default=fragment, option=OPTIONS)
            except orjson.JSONEncodeError:
                body = None
            if body is not None:
                if not body.isascii() or b"\x7f" in body:
                    body = escaped(body)
                return current_app.response_class(body, mimetype=self.mimetype)
        return super().response(*args, **kwargs)


def fragment(o):
    """orjson's hook: a Made as the JSON it holds."""
    if type(o) is Made:
        return orjson.Fragment(o.json)
    raise TypeError


OUTSIDE_ASCII = re.compile("[^\x00-\x7e]")


def escape(match):
    """A character as Python's json escapes it outside ASCII: \\uXXXX, two for a pair."""
    code = ord(match[0])
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}"
    return f"\\u{code:04x}"


def escaped(body):
    """orjson's JSON with what is not printable ASCII escaped (only strings hold such)."""
    return OUTSIDE_ASCII.sub(escape, body.decode()).encode()


def answer(args, kwargs):
    """The value `response(*args, **kwargs)` answers, as Flask's jsonify reads them."""
    if args and kwargs:
        raise TypeError("app.json.response() takes either args or kwargs, not both")
    if not args and not kwargs:
        return None
    return args[0] if len(args) == 1 else (args or kwargs)


def init_app(app):
    app.json = FastJSONProvider(app)
