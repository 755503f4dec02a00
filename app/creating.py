"""Making a dataset, for both APIs: what a new one holds, and the one create flow."""

import hashlib
import json

from flask import g, request

from app import auth, models
from app.errors import ARGUMENT_ERROR, DATA_ERROR, ApiError
from app.schemas import parser_config as parser_configs
from app.store import IdempotencyMismatch, LimitReached, ReplayGone, get_store, rules

MAX_KEY = 255  # characters of an Idempotency-Key


def legacy_fields(name, config):
    """A dataset made by the legacy API: its name, the configured model and language."""
    return {"name": name, **rules.legacy_defaults(config)}


def current_fields(sent, config):
    """A dataset made by the current API from the loaded body `sent`, with RAGFlow's defaults."""
    method = sent.get("chunk_method") or rules.DATASET_FIELDS["chunk_method"]  # or a pipeline
    sent_config = sent.get("parser_config")
    full = None if sent_config is None else parser_configs.completed(sent_config)
    if sent.get("auto_metadata_config") is not None:
        full = parser_configs.with_auto_metadata(full)
    parser_config = parser_configs.for_method(method, full)
    if sent_config is None and config["LLM_ID"]:
        parser_config["llm_id"] = config["LLM_ID"]
    model = sent.get("embedding_model")
    if model is None:
        model = config["EMBEDDING_MODEL"]
    else:
        models.check_model(model, config)
    return {"name": sent["name"], "avatar": sent.get("avatar"),
            "description": sent.get("description"), "embedding_model": model,
            "permission": sent.get("permission", rules.DATASET_FIELDS["permission"]),
            "chunk_method": method,
            "parser_config": parser_config, "language": config["LANGUAGE"]}


def idempotency(api, body):
    """(key, fingerprint) of the request's Idempotency-Key, or None without one."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY:
        raise ApiError(400, ARGUMENT_ERROR, f"Idempotency-Key must have 1 to {MAX_KEY} "
                                            f"characters.")
    # The API is part of the fingerprint: one key sent to both APIs is two different requests.
    text = json.dumps([api, body], sort_keys=True, separators=(",", ":"))
    return key, hashlib.sha256(text.encode()).hexdigest()


def create(api, fields, body):
    """The record of a new dataset of the request's tenant; refusals raise ApiError."""
    retry = idempotency(api, body)
    try:
        return get_store().create_dataset(g.tenant_id, fields, auth.now_ms(), retry)
    except IdempotencyMismatch:
        raise ApiError(400, ARGUMENT_ERROR, f"Idempotency-Key '{retry[0]}' was used before "
                                            f"with another request body.") from None
    except ReplayGone as err:
        raise ApiError(400, DATA_ERROR, f"Idempotency-Key '{retry[0]}' made dataset "
                                        f"'{err.dataset_id}', which has been deleted "
                                        f"since.") from None
    except LimitReached as err:
        raise ApiError(400, DATA_ERROR, f"This tenant has reached its limit of {err.limit} "
                                        f"datasets; delete some to make more.") from None
