"""Prometheus metrics of every worker (prometheus_client's multiprocess mode), served apart."""

import functools
import re
import threading
import time

from app.settings import address
from app.store import Store, StoreError

# Seconds, from a page kept in memory (well under a millisecond) to a lock given up on (10 s).
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
APIS = (("current", re.compile(r"/api/v1/(?:datasets|system)(?:/|$)")),
        ("legacy", re.compile(r"/api/v1/dataset(?:/|$)")))
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}  # others: "other"
OPERATIONS = Store.__abstractmethods__  # what the app asks of a store


class Metrics:
    """The server's metrics, each labelled only by values of a small, fixed set."""

    def __init__(self):
        # Imported here, at the first metric: prometheus_client picks its multiprocess mode
        # as it is imported, and gunicorn's settings name the folder first (config.py).
        from prometheus_client import Counter, Histogram

        request = ["api", "route", "method"]
        self.requests = Counter("dataset_api_requests", "Requests the app answered.",
                                request + ["status"])
        self.request_seconds = Histogram("dataset_api_request_duration_seconds",
                                         "Time the app took to answer.", request,
                                         buckets=BUCKETS)
        self.store_seconds = Histogram("dataset_api_store_operation_duration_seconds",
                                       "Time of each store operation the app asked for.",
                                       ["operation"], buckets=BUCKETS)
        self.store_errors = Counter("dataset_api_store_errors",
                                    "Store operations that failed (StoreError: 500; "
                                    "StoreBusy: 503).", ["operation", "error"])
        self.waits = Histogram("dataset_api_store_wait_seconds",
                               "Waits for the JSON store's lock (file_lock) or a PostgreSQL "
                               "connection from the pool (pool).", ["wait"], buckets=BUCKETS)


MADE = threading.Lock()  # two threads' first use (a request and the parser) make one Metrics


@functools.cache
def metrics():
    """This process's Metrics, made on first use."""
    with MADE:  # a second registration of the same names would raise DuplicateTimeseries
        return made()


@functools.cache
def made():
    return Metrics()


def api_of(path):
    """Which API `path` belongs to: current (with RAGFlow's system routes), legacy, other."""
    return next((api for api, pattern in APIS if pattern.match(path)), "other")


def count_request(path, route, method, status, seconds):
    """Count an answered request; `route` is its URL rule (None: no route took it)."""
    count, duration = request_series(api_of(path), route or "unmatched",
                                     method if method in METHODS else "other", status)
    count.inc()
    duration.observe(seconds)


@functools.cache  # the labels' values are of small, fixed sets: a few hundred at most
def request_series(api, route, method, status):
    """The request counter's and duration histogram's series of these labels."""
    return (metrics().requests.labels(api, route, method, str(status)),
            metrics().request_seconds.labels(api, route, method))


@functools.cache
def wait_series(what):
    """The wait histogram's series of `what`."""
    return metrics().waits.labels(what)


def waiting(what):
    """A context manager timing a wait for `what` ("file_lock", "pool"), however it ends."""
    return wait_series(what).time()


class Measured:
    """A store whose operations (the Store's abstract methods) are timed, failures counted."""

    def __init__(self, store):
        self.store = store

    def __getattr__(self, name):
        found = getattr(self.store, name)
        if name not in OPERATIONS:
            return found
        seconds, errors = metrics().store_seconds.labels(name), metrics().store_errors

        @functools.wraps(found)
        def measured(*args, **kwargs):
            started = time.perf_counter()
            try:
                return found(*args, **kwargs)
            except StoreError as err:
                errors.labels(name, type(err).__name__).inc()
                raise
            finally:
                seconds.observe(time.perf_counter() - started)

        setattr(self, name, measured)  # made once: the next lookups find it here
        return measured


def serve(bind, log):
    """Serve every worker's metrics on `bind` (HOST:PORT, or "off") from this process."""
    if bind == "off":
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    host, port = address(bind)
    try:
        start_http_server(port, host, registry)
    except OSError as err:  # the API is served all the same; the log says why not these
        log.error("Metrics not served on %s: %s", bind, err.strerror or err)


def init_app(app):
    app.extensions["store"] = Measured(app.extensions["store"])
