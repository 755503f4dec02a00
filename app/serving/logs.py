"""One line format for every line: time, pid, level, client, request id, tenant, message; or
one JSON object a line of the same (DATASET_API_LOG_FORMAT=json)."""

import json
import logging
import os
import re
from datetime import datetime

from flask import g, has_request_context, request
from gunicorn import glogging

from app.edge import ROUTE, TENANT

FORMAT = ("%(asctime)s [%(process)d] [%(levelname)s] %(client)s %(request_id)s %(tenant)s "
          "%(message)s")
UNKNOWN = {"client": "-", "request_id": "-", "tenant": "-"}  # lines that belong to no request
# The JSON lines' names for them; nginx's JSON access log (deploy/nginx.conf) uses the same.
NAMES = {"client": "client", "request_id": "request_id", "tenant": "tenant_id"}
BREAKS = re.compile(r"\s*\n\s*")


class OneLine(logging.Formatter):
    """FORMAT, with a message of several lines (libpq's and its hints, say) on one line."""

    def formatMessage(self, record):
        return BREAKS.sub(" ", super().formatMessage(record))


def request_fields(record):
    """Give a line logged while the app handles a request its client, request id and tenant."""
    if not hasattr(record, "request_id") and has_request_context():
        record.client = request.remote_addr or "-"
        record.request_id = g.get("request_id", "-")
        record.tenant = g.get("tenant_id") or "-"
    return True


class JsonFormatter(logging.Formatter):
    """A line as one JSON object: time, level, pid, client, request id, tenant id, message,
    and an access line's request fields."""

    def format(self, record):
        line = {"time": datetime.fromtimestamp(record.created).astimezone()
                .isoformat(timespec="milliseconds"),
                "level": record.levelname, "pid": record.process}
        for field, name in NAMES.items():
            value = getattr(record, field, "-")
            line[name] = None if value == "-" else value
        line["message"] = record.getMessage()
        line.update(getattr(record, "request", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


class Logger(glogging.Logger):
    """gunicorn's logger, with one format for every line, and no line for a healthy probe."""

    def setup(self, cfg):
        super().setup(cfg)
        if os.environ.get("DATASET_API_LOG_FORMAT") == "json":  # checked by app.settings
            formatter = JsonFormatter()
        else:
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
        # As sent (path and query), as nginx's $request_uri; `route` is the app's URL rule.
        fields = {"method": atoms["m"], "route": environ.get(ROUTE),
                  "uri": environ.get("RAW_URI"), "status": int(atoms["s"]),
                  "duration": request_time.total_seconds(), "bytes": atoms["B"] or 0,
                  "user_agent": environ.get("HTTP_USER_AGENT")}
        self.access_log.info(self.cfg.access_log_format, atoms,
                             extra={"client": atoms["h"], "request_id": atoms["{x-request-id}o"],
                                    "tenant": environ.get(TENANT) or "-", "request": fields})
