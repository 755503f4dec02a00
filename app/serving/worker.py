"""A sync worker that answers its own errors in JSON and trusts X-Forwarded-For from proxies."""

import ipaddress

from gunicorn import util
from gunicorn.http.message import Message
from gunicorn.workers.sync import SyncWorker

from app import edge

MESSAGES = {  # gunicorn's own statuses; its HTML text may quote the request back
    400: "The request is malformed.",
    403: "The request is forbidden.",
    414: "The request line is too long.",
    417: "The expectation cannot be met.",
    431: "The request's header fields are too large.",
    500: "Internal server error.",
    501: "The request's transfer coding is not supported.",
}


class Page:
    """A socket stand-in that keeps the error page gunicorn would send."""

    def __init__(self):
        self.data = b""

    def gettimeout(self):
        return 0.0

    def sendall(self, data):
        self.data += data


def request_path(req, exc):
    """The path of the failed request, from the half-built one in the traceback if need be."""
    if getattr(req, "path", None):
        return req.path
    frame = exc.__traceback__
    while frame:
        half_built = frame.tb_frame.f_locals.get("self")
        if isinstance(half_built, Message) and getattr(half_built, "path", None):
            return half_built.path
        frame = frame.tb_next
    return None


def is_address(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def trusted(peer, allowed):
    """Whether `peer` is one of forwarded_allow_ips (addresses or networks, or '*')."""
    if not is_address(peer):  # a UNIX socket: only local processes can reach it
        return True
    return any(entry == "*" or ipaddress.ip_address(peer) in ipaddress.ip_network(entry)
               for entry in allowed)


class ForwardedFor:
    """`app`, seeing as REMOTE_ADDR the address that a trusted proxy says it served."""

    def __init__(self, app, allowed):
        self.app, self.allowed = app, allowed

    def __call__(self, environ, start_response):
        # The last hop is the one the proxy added; those before it, the client could forge.
        hop = environ.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if hop and is_address(hop) and trusted(environ.get("REMOTE_ADDR", ""), self.allowed):
            environ["REMOTE_ADDR"] = hop
        return self.app(environ, start_response)

    def __getattr__(self, name):  # the app's own attributes, for gunicorn's hooks
        return getattr(self.app, name)


class JsonWorker(SyncWorker):
    """gunicorn's sync worker, answering its own errors in the API's JSON envelope."""

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = ForwardedFor(self.wsgi, self.cfg.forwarded_allow_ips)

    def handle_error(self, req, client, addr, exc):
        """gunicorn's own error answer (its status; a timeout is a 500), as JSON."""
        page = Page()
        super().handle_error(req, page, addr, exc)
        status = int(page.data.split(b" ", 2)[1])
        headers = dict((k.lower(), v) for k, v in getattr(req, "headers", []))
        if isinstance(exc, SystemExit):  # the arbiter aborts a worker past its timeout
            message = "The request took longer than the server allows."
        else:
            message = MESSAGES.get(status, "The request failed.")
        answer = edge.error_response(request_path(req, exc), status, message,
                                     edge.request_id(headers.get("x-request-id")))
        try:
            util.write_nonblock(client, answer)
        except OSError:
            self.log.debug("Failed to send error message.")
