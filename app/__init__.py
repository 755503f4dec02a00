"""A self-hosted server for RAGFlow's dataset API: the legacy one and the current one."""

from flask import Flask

from app import cli, datasets, encoding, errors, legacy, models, store

NAME_RULES = ("strict", "legacy")


def create_app(test_config=None):
    """Build the app: defaults, then DATASET_API_* variables, then `test_config`."""
    app = Flask(__name__)
    app.config.from_mapping(
        DB_PATH="data/db.json",
        DATABASE_URL=None,
        LOCK_TIMEOUT=10,  # seconds a request waits for the store, below gunicorn's timeout
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
        PROVIDE_AUTOMATIC_OPTIONS=False,  # OPTIONS answers a JSON 405, not an empty HTML 200
    )
    app.config.from_prefixed_env("DATASET_API")
    if test_config:
        app.config.update(test_config)
    if app.config["NAME_RULE"] not in NAME_RULES:
        raise ValueError(f"DATASET_API_NAME_RULE must be one of {', '.join(NAME_RULES)}, "
                         f"not {app.config['NAME_RULE']!r}")
    for name in ("MAX_CONTENT_LENGTH", "CURRENT_MAX_CONTENT_LENGTH"):
        limit = app.config[name]
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"DATASET_API_{name} must be a positive number of bytes, "
                             f"not {limit!r}")
    models.check_config(app.config)
    for module in (encoding, store, errors, legacy, datasets, cli):
        module.init_app(app)
    return app
