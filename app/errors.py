"""The error envelope and every error handler of the app."""

from flask import current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from app.store import StoreBusy, StoreError

# The legacy RetCode values.
SUCCESS = 0
EXCEPTION_ERROR = 100
ARGUMENT_ERROR = 101
DATA_ERROR = 102
AUTHENTICATION_ERROR = 109


CURRENT_API = "/api/v1/datasets"  # its answers are HTTP 200 with `data`, errors included
CURRENT_BLUEPRINTS = {"datasets", "documents", "chunks", "system"}  # RAGFlow's answers


class ApiError(Exception):
    """An error answered in the envelope: HTTP status, legacy code, message."""

    def __init__(self, status, code, message, headers=None, **fields):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.fields = fields


def in_current_api(path=None):
    """Whether the request is the current API's: by its route's blueprint, else by `path`."""
    if path is None:
        if request.blueprint is not None:
            return request.blueprint in CURRENT_BLUEPRINTS
        path = request.path
    return path == CURRENT_API or path.startswith(CURRENT_API + "/")


def current_error(code, message, data=None):
    """An error of the current API: HTTP 200, as RAGFlow answers them (`data` is null)."""
    return ApiError(200, code, message, data=data)


def envelope(status, code, message, headers=None, **fields):
    """The JSON response of an error in its API's envelope (the current API's: 200 and `data`)."""
    if in_current_api() and "data" not in fields and status != 401:
        fields["data"] = None
        status = status if status >= 500 else 200
    response = jsonify(code=code, message=message, **fields)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def first_message(messages):
    """The first message of a marshmallow error structure."""
    while not isinstance(messages, str):
        messages = next(iter(messages.values())) if isinstance(messages, dict) else messages[0]
    return messages


def handle_api_error(error):
    return envelope(error.status, error.code, error.message, error.headers, **error.fields)


def handle_http_error(error):
    """Werkzeug's errors (404, 405, 413, 415, 500...) in the envelope, never as HTML."""
    if error.code >= 500:
        # The traceback, if any, was logged by Flask before this handler ran.
        return envelope(error.code, EXCEPTION_ERROR, "Internal server error.")
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    if in_current_api() and error.code in (404, 405):
        return routing_error(error.code, headers)
    return envelope(error.code, ARGUMENT_ERROR, error.description, headers)


def routing_error(status, headers):
    """The current API's answer to a path no route has (RAGFlow's 404), or a method (405)."""
    if status == 404:
        body = {"code": 404, "message": f"Not Found: {request.path}", "data": None,
                "error": "Not Found"}
    else:  # RAGFlow answers 200, code 100 and a Python repr: a bug not kept
        body = {"code": ARGUMENT_ERROR, "message": "Method Not Allowed", "data": None}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers)
    return response


def handle_store_error(error):
    current_app.logger.error("Store unavailable: %s", error)
    return envelope(500, EXCEPTION_ERROR,
                    "The data store is unavailable; the server log says why.")


def handle_store_busy(error):
    current_app.logger.warning("Store busy: %s", error)
    return envelope(503, EXCEPTION_ERROR, "The data store is busy or unreachable; try again.",
                    {"Retry-After": "1"})


def init_app(app):
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(StoreError, handle_store_error)
    app.register_error_handler(StoreBusy, handle_store_busy)
