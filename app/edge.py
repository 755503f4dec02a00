"""Every request's edge: its id, a body limit chunked bodies obey, errors outside Flask as JSON,
and what its log line and metrics say of it."""

import io
import os
import re
import time
from http import HTTPStatus

import orjson
from flask import current_app, g, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from app.errors import ARGUMENT_ERROR, EXCEPTION_ERROR, in_current_api
from app.serving import metrics

REQUEST_ID = re.compile(r"[\w.:-]{1,128}", re.ASCII)  # what nginx's map passes on, too
# What gunicorn's access line (app.serving.logs) takes from the app, in the request's environ.
ROUTE, TENANT = "dataset_api.route", "dataset_api.tenant"
STARTED = "dataset_api.started"  # when the app took the request (time.perf_counter)


def request_id(given):
    """The id a client or proxy gave, if it is a sane one; a new one otherwise."""
    return given if given and REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


def error_body(path, status, message):
    """The JSON body of an error for `path`, in the envelope of the API it belongs to."""
    body = {"code": ARGUMENT_ERROR if status < 500 else EXCEPTION_ERROR, "message": message}
    if path and in_current_api(path):
        body["data"] = None
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)


def error_response(path, status, message, rid):
    """A whole HTTP/1.1 error response with `error_body`, closing the connection."""
    body = error_body(path, status, message)
    head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Request-Id: {rid}\r\n\r\n")
    return head.encode("latin-1") + body


def start_request():
    environ = request.environ  # read directly: what request.headers would answer, sooner
    environ[STARTED] = time.perf_counter()
    g.request_id = request_id(environ.get("HTTP_X_REQUEST_ID"))
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        hold_chunked_body()


def hold_chunked_body():
    """Read a chunked body whole, so that one over the limit is refused (413) as a sized one is."""
    limit = current_app.config["CURRENT_MAX_CONTENT_LENGTH" if in_current_api()
                               else "MAX_CONTENT_LENGTH"]
    environ = request.environ
    try:
        body = environ["wsgi.input"].read(limit + 1)
    except ParseException:  # gunicorn decodes the chunks as they are read
        raise BadRequest("The request's chunked body is malformed.") from None
    if len(body) > limit:
        raise RequestEntityTooLarge()
    # From here on, a body of known length.
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    del environ["HTTP_TRANSFER_ENCODING"]


def finish_request(response):
    response.headers["X-Request-Id"] = g.get("request_id") or request_id(None)
    environ, rule = request.environ, request.url_rule
    # The URL rule, never the path: a bounded set of values, and no ids or names in metrics.
    environ[ROUTE] = rule.rule if rule else None
    environ[TENANT] = g.get("tenant_id")
    metrics.count_request(environ.get("PATH_INFO", ""), environ[ROUTE],
                          environ.get("REQUEST_METHOD", "GET").upper(), response.status_code,
                          time.perf_counter() - environ[STARTED])
    return response


def init_app(app):
    app.before_request(start_request)
    app.after_request(finish_request)
