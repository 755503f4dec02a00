"""A self-hosted server for RAGFlow's dataset API: the legacy one and the current one."""

from flask import Flask

from app import (chunks, cli, datasets, docs, documents, edge, encoding, errors, legacy,
                 models, parse_queue, settings, store, system)
from app.serving import metrics

# The DATASET_API_* settings and their defaults; a variable is read as its default's type.
SETTINGS = dict(
    DB_PATH="data/db.json",
    DATABASE_URL=None,
    LOCK_TIMEOUT=10.0,  # seconds a request waits for the store, below gunicorn's timeout
    TENANT_DATASET_LIMIT=100_000,  # datasets a tenant may have
    LIST_LIMIT=10_000,  # datasets one list answers at most
    JOURNAL_LIMIT=1 << 20,  # bytes: the JSON engine's journal is folded in past this
    NAME_RULE="strict",
    EMBD_ID="BAAI/bge-large-zh-v1.5",
    LANGUAGE="English",
    MAX_CONTENT_LENGTH=64 * 1024,
    # The current API's bodies: room for RAGFlow's 65,535-character avatar, description
    # and parser_config in one body.
    CURRENT_MAX_CONTENT_LENGTH=256 * 1024,
    EMBEDDING_MODELS=models.DEFAULT_MODELS,  # checked by models.check_config
    EMBEDDING_MODEL=None,  # the first of EMBEDDING_MODELS
    LLM_ID=None,
    CACHE="on",  # "off": nothing kept for speed (app.cached), the same answers
    PARSE_LEASE=60.0,  # s a parser holds a document: one killed is taken up again after it
    DOCUMENT_SIZE_LIMIT=128 * 1024 * 1024,  # bytes of one file (RAGFlow's DOC_MAXIMUM_SIZE)
    UPLOAD_FILE_LIMIT=32,  # files in one upload
    TENANT_DOCUMENT_LIMIT=1_000_000,  # documents a tenant may have
    TENANT_BYTES_LIMIT=1 << 40,  # bytes of files a tenant may keep (1 TiB)
    LOG_FORMAT="plain",  # or "json"; read by gunicorn's logger (app.serving.logs)
    METRICS_BIND="127.0.0.1:9390",  # or "off"; read by gunicorn's settings (app.serving.config)
)


class App(Flask):
    """Flask, running its views and hooks as they are."""

    def ensure_sync(self, func):
        """`func` as it is: every view and hook here is a plain function, none async."""
        # Flask's own (which it documents as the method to override) asks `inspect` of each
        # hook and view in every request.
        return func


def create_app(test_config=None):
    """Build the app: defaults, then DATASET_API_* variables, then `test_config`."""
    app = App(__name__)
    app.config.from_mapping(
        SETTINGS,
        PROVIDE_AUTOMATIC_OPTIONS=False,  # OPTIONS answers a JSON 405, not an empty HTML 200
    )
    app.config.update(settings.from_environment(SETTINGS))
    if test_config:
        app.config.update(test_config)
    settings.check(app.config)
    models.check_config(app.config)
    for module in (encoding, edge, store, metrics, errors, legacy, datasets, documents, chunks,
                   parse_queue, system, docs, cli):
        module.init_app(app)
    return app
