"""Flask's JSON answers, byte for byte, encoded by orjson where that gives the same bytes."""

import orjson
from flask import current_app
from flask.json.provider import DefaultJSONProvider

# Dates and dataclasses go to Flask's encoder, which writes them its own way.
OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE | orjson.OPT_PASSTHROUGH_DATETIME
           | orjson.OPT_PASSTHROUGH_DATACLASS)


class FastJSONProvider(DefaultJSONProvider):
    """Flask's default JSON, the same bytes, encoded by orjson where that gives the same bytes."""

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
