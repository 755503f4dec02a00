"""One line format for every line: time, pid, level, client, request id, message."""

import logging
import re

from flask import g, has_request_context, request
from gunicorn import glogging

FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(client)s %(request_id)s %(message)s"
UNKNOWN = {"client": "-", "request_id": "-"}  # lines that belong to no request
BREAKS = re.compile(r"\s*\n\s*")


class OneLine(logging.Formatter):
    """FORMAT, with a message of several lines (libpq's and its hints, say) on one line."""

    def formatMessage(self, record):
        return BREAKS.sub(" ", super().formatMessage(record))


def request_fields(record):
    """Give a line logged while the app handles a request its client and request id."""
    if not hasattr(record, "request_id") and has_request_context():
        record.client = request.remote_addr or "-"
        record.request_id = g.get("request_id", "-")
    return True


class Logger(glogging.Logger):
    """gunicorn's logger, with one format for every line, and no line for a healthy probe."""

    def setup(self, cfg):
        super().setup(cfg)
        formatter = OneLine(FORMAT, self.datefmt, defaults=UNKNOWN)
        for handler in self.error_log.handlers + self.access_log.handlers:
            handler.setFormatter(formatter)
            handler.addFilter(request_fields)
        # The app's logger (Flask's, named after the package) and its modules' loggers; and,
        # from warnings up, every other library's (psycopg_pool's...) through the same lines.
        root = logging.getLogger()
        root.handlers = list(self.error_log.handlers)
        root.setLevel(max(self.loglevel, logging.WARNING))
        logging.getLogger("app").setLevel(self.loglevel)

    def access(self, resp, req, environ, request_time):
        # A healthy /healthz answer is a probe's: nginx does not log it either.
        if environ.get("PATH_INFO") == "/healthz" and str(resp.status).startswith("200"):
            return
        if not self.access_log_enabled:
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        self.access_log.info(self.cfg.access_log_format, atoms,
                             extra={"client": atoms["h"], "request_id": atoms["{x-request-id}o"]})
