"""gunicorn's settings: `gunicorn -c python:app.serving.config 'app:create_app()'`."""

import ctypes
import multiprocessing
import os
import shutil
import sys
import tempfile

from app.settings import BIND, ConfigError, workers as worker_count

# prometheus_client's multiprocess mode: each worker writes its metrics to files in this
# folder, and the master's metrics listener adds them up. A new private folder (mode 0700)
# each start, so no count from an earlier run is added in; removed at exit. The app imports
# prometheus_client only at its first metric, after this (app.serving.metrics).
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ragflow-dataset-api-metrics.")

bind = BIND
try:
    workers = worker_count(os.environ, multiprocessing.cpu_count() * 2 + 1)
except ConfigError as err:
    sys.exit(f"Refusing to start: {err}")
worker_class = "app.serving.worker.JsonWorker"  # its own errors in the envelope, too
logger_class = "app.serving.logs.Logger"  # one line format for access and app lines
accesslog = "-"  # access lines to stdout
errorlog = "-"
access_log_format = '"%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# X-Forwarded-* are believed only from the proxy in front (nginx on this machine); set
# FORWARDED_ALLOW_IPS to the proxy's address if it runs elsewhere.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Each server its own: a shared ~/.gunicorn/gunicorn.ctl lets one server's commands reach
# another's.
control_socket_disable = True

# glibc raises its mmap threshold to the size of the largest block freed. The JSON engine's
# first read of the store (this process's check at start) frees buffers as large as the
# file, so each worker's read would then take its buffers from the heap, where they stay:
# at 50,000 datasets, twice the worker's memory. A fixed threshold keeps large blocks in
# mmap, given back to the system when freed, in this process and the workers it forks.
M_MMAP_THRESHOLD = -3
try:
    ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, 1 << 20)
except (AttributeError, OSError):  # not glibc: it has no such rule
    pass


def on_starting(server):
    """Refuse to start on a bad setting or a damaged store, with a one-line reason; then
    serve the metrics."""
    from app import create_app
    from app.serving import metrics
    from app.store import StoreError

    try:
        app = create_app()
        store = app.extensions["store"]
        try:
            store.check()
        finally:
            store.close()  # the workers open their own
    except (StoreError, ValueError) as err:
        sys.exit(f"Refusing to start: {err}")
    metrics.serve(app.config["METRICS_BIND"], server.log)


def post_worker_init(worker):
    """Read the store before taking requests; a store that cannot be read is logged."""
    from app.store import StoreError

    store = getattr(worker.wsgi, "extensions", {}).get("store")  # none in the benchmark's peers
    try:
        if store is not None:
            store.health()
    except StoreError as err:
        worker.log.warning("Store not readable at worker start: %s", err)
    if store is not None:
        worker.wsgi.extensions["parser"].start(forever=True)  # the queue of every host's


def child_exit(server, worker):
    """A worker has ended: prometheus_client drops its gauges of live processes (none yet)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """A clean stop folds the JSON engine's journal into the store file; the metrics go."""
    from app import create_app
    from app.store import StoreError

    store = create_app().extensions["store"]
    try:
        store.compact()
    except StoreError as err:  # the store is safe as it is: say why and stop
        server.log.warning("Could not compact the store at exit: %s", err)
    finally:
        store.close()
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
