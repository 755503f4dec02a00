"""Health and version: this server's /healthz, and RAGFlow's system routes that need no model."""

import time
from importlib.metadata import version as package_version

from flask import Blueprint, current_app

from app import auth
from app.errors import SUCCESS
from app.store import StoreError, get_store

bp = Blueprint("system", __name__, url_prefix="/api/v1/system")
UNUSABLE = "the data store cannot be used now"  # the answers name no path; the log says why


def store_usable():
    """Whether the store can be read and written now; why not is logged."""
    try:
        get_store().health()
    except StoreError as err:
        current_app.logger.error("Health check failed: %s", err)
        return False
    return True


def healthz():
    """200 while the store can be read and written, else 503 naming no path; needs no key."""
    if not store_usable():
        return {"status": "unavailable", "reason": UNUSABLE}, 503
    return {"status": "ok"}


@bp.get("/ping")
def ping():
    """RAGFlow's liveness answer, `pong` as text; needs no key."""
    return "pong"


@bp.get("/version")
def version():
    """This server's version in RAGFlow's envelope; needs a key, as RAGFlow's does."""
    auth.authenticate()
    return {"code": SUCCESS, "message": "success", "data": package_version("ragflow-dataset-api")}


@bp.get("/healthz")
def ragflow_healthz():
    """RAGFlow's health answer, 200 or 500; needs no key."""
    started = time.perf_counter()
    usable = store_usable()
    # The store is RAGFlow's `db`. There is no Redis, document engine or object storage
    # here to fail, so those are always "ok".
    state = "ok" if usable else "nok"
    body = {"db": state, "redis": "ok", "doc_engine": "ok", "storage": "ok", "status": state}
    if usable:
        return body
    elapsed = f"{(time.perf_counter() - started) * 1000:.1f}"  # ms, as RAGFlow writes it
    return {**body, "_meta": {"db": {"elapsed": elapsed, "error": UNUSABLE}}}, 500


def init_app(app):
    app.register_blueprint(bp)
    app.add_url_rule("/healthz", view_func=healthz)
