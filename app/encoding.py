"""Flask's JSON answers, byte for byte, encoded by orjson where that gives the same bytes."""

import orjson
from flask import current_app
from flask.json.provider import DefaultJSONProvider

# Dates and dataclasses go to Flask's encoder, which writes them its own way.
OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE | orjson.OPT_PASSTHROUGH_DATETIME
           | orjson.OPT_PASSTHROUGH_DATACLASS)


class FastJSONProvider(DefaultJSONProvider):
    """Flask's default JSON: sorted keys, non-ASCII escaped, compact out of debug mode.

    A compact answer of JSON's own types (str, int, float, bool, None, list, dict) whose
    encoding is ASCII without DEL is encoded by orjson instead, at a fraction of the cost;
    anything else (other types, text that Flask escapes and orjson does not, integers past
    64 bits) by Flask. The bytes are the same, but for floats that need an exponent
    (orjson writes 1e16 for 1e+16): the service's answers have none.
    """

    def response(self, *args, **kwargs):
        if self.compact or (self.compact is None and not current_app.debug):
            try:
                body = orjson.dumps(answer(args, kwargs), option=OPTIONS)
            except orjson.JSONEncodeError:
                body = None
            if body is not None and body.isascii() and b"\x7f" not in body:
                return current_app.response_class(body, mimetype=self.mimetype)
        return super().response(*args, **kwargs)


def answer(args, kwargs):
    """The value `response(*args, **kwargs)` answers, as Flask's jsonify reads them."""
    if args and kwargs:
        raise TypeError("app.json.response() takes either args or kwargs, not both")
    if not args and not kwargs:
        return None
    return args[0] if len(args) == 1 else (args or kwargs)


def init_app(app):
    app.json = FastJSONProvider(app)
