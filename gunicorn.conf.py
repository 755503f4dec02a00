"""gunicorn settings: `gunicorn wsgi:app` from the repository root reads this file."""

import multiprocessing
import os
import sys

bind = "127.0.0.1:9380"  # the port RAGFlow clients default to
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
accesslog = "-"  # access lines to stdout
errorlog = "-"


def on_starting(server):
    """Refuse to start on a damaged store, naming the file and what is wrong."""
    from app import create_app
    from app.store import StoreError

    try:
        store = create_app().extensions["store"]
        try:
            store.check()
        finally:
            store.close()  # the workers open their own
    except (StoreError, ValueError) as err:
        sys.exit(f"Refusing to start: {err}")


def post_worker_init(worker):
    """Read the store before taking requests, so that no client waits for a worker's first
    read of a large store; a store that cannot be read answers its errors per request."""
    from app.store import StoreError

    store = getattr(worker.wsgi, "extensions", {}).get("store")  # none in the benchmark's peers
    try:
        if store is not None:
            store.health()
    except StoreError as err:
        worker.log.warning("Store not readable at worker start: %s", err)


def on_exit(server):
    """A clean stop folds the JSON engine's journal into the store file."""
    from app import create_app
    from app.store import StoreError

    store = create_app().extensions["store"]
    try:
        store.compact()
    except StoreError as err:  # the store is safe as it is: say why and stop
        server.log.warning("Could not compact the store at exit: %s", err)
    finally:
        store.close()
