"""The current dataset API (/api/v1/datasets, RAGFlow v0.27): create, list, get, update and
delete a tenant's datasets. Every answer is HTTP 200 with `code`, `message` and `data`."""

import copy

from flask import Blueprint, current_app, g, request
from marshmallow import ValidationError

from app import auth
from app.errors import ARGUMENT_ERROR, DATA_ERROR, SUCCESS, current_error
from app.idempotency import idempotency, mismatch_message
from app.schemas import current
from app.schemas.fields import check_storable, per_query_string, pydantic_text
from app.schemas.parser_config import METHOD_DEFAULTS
from app.store import IdempotencyMismatch, LimitReached, NameTaken, NotFound, get_store, rules

bp = Blueprint("datasets", __name__, url_prefix="/api/v1/datasets")


@bp.before_request
def authenticate():
    """The key check, and the current API's own limit on bodies."""
    request.max_content_length = current_app.config["CURRENT_MAX_CONTENT_LENGTH"]
    auth.authenticate()


def json_object():
    """The body as RAGFlow reads it: JSON, then an object (a falsy body counts as `{}`)."""
    if request.mimetype != "application/json":
        raise current_error(ARGUMENT_ERROR, f"Unsupported content type: Expected "
                                            f"application/json, got {request.content_type}")
    try:
        body = current_app.json.loads(request.get_data()) or {}
    except (ValueError, RecursionError):
        raise current_error(ARGUMENT_ERROR, "Malformed JSON syntax: Missing commas/brackets or "
                                            "invalid encoding") from None
    if not isinstance(body, dict):
        raise current_error(ARGUMENT_ERROR, f"Invalid request payload: expected object, got "
                                            f"{type(body).__name__}")
    return body


def load(schema, data):
    """`data` loaded by `schema`, or code 101 with RAGFlow's lines."""
    try:
        loaded = schema.load(data)
        check_storable(data)
    except ValidationError as err:
        raise current_error(ARGUMENT_ERROR, pydantic_text(err, data)) from None
    return loaded


def success(data, **fields):
    """The answer of a success: its shape is current.DatasetAnswer's, ListAnswer's or
    DeleteAnswer's (their data rendered by current.rendered)."""
    return {"code": SUCCESS, "message": "success", "data": data, **fields}


def no_access(what):
    return current_error(DATA_ERROR, f"User '{g.tenant_id}' lacks permission for dataset "
                                     f"'{what}'")


@bp.post("")
def create_dataset():
    sent = load(current.create_schema, json_object())
    fields = current.new_dataset(sent, current_app.config)
    retry = idempotency("current", sent, lambda text: current_error(ARGUMENT_ERROR, text))
    try:
        record = get_store().create_dataset(g.tenant_id, fields, auth.now_ms(), retry)
    except IdempotencyMismatch:
        raise current_error(ARGUMENT_ERROR, mismatch_message(retry[0])) from None
    except LimitReached as err:
        raise current_error(DATA_ERROR, f"This tenant has reached its limit of {err.limit} "
                                        f"datasets; delete some to make more.") from None
    return success(current.rendered(record))


list_query = per_query_string(lambda: load(current.list_schema, request.args.to_dict()))


@bp.get("")
def list_datasets():
    query = list_query()
    size = query["page_size"]
    records, total = get_store().list_datasets(
        g.tenant_id, name=query.get("name"), dataset_id=query.get("id"),
        orderby=query["orderby"], desc=query["desc"], offset=(query["page"] - 1) * size,
        limit=size)
    for kind in ("id", "name"):  # RAGFlow: a filter that matches nothing is an error
        if query.get(kind) is not None and total == 0:
            raise no_access(query[kind])
    if query["include_parsing_status"]:
        records = [{**record, **dict.fromkeys(current.PARSING_COUNTS, 0)} for record in records]
    return success(list(map(current.rendered, records)), total_datasets=total)


@bp.get("/<dataset_id>")
def get_dataset(dataset_id):
    record = get_store().get_dataset(g.tenant_id, dataset_id)
    if record is None:
        raise no_access(dataset_id)
    return success(current.rendered(record))


@bp.put("/<dataset_id>")
def update_dataset(dataset_id):
    sent = load(current.update_schema, {**json_object(), "dataset_id": dataset_id})
    dataset_id = sent.pop("dataset_id")
    if not sent:
        raise current_error(DATA_ERROR, "no properties were modified")
    store = get_store()
    record = store.get_dataset(g.tenant_id, dataset_id)
    if record is None:
        raise no_access(dataset_id)
    changes = current.dataset_changes(sent, record, current_app.config)
    changes.pop("parser_config", None)  # merged by the store into the record as it is then
    method = sent.get("chunk_method")
    patch = rules.Patch(changes, sent.get("parser_config") or None,
                        copy.deepcopy(METHOD_DEFAULTS[method]) if method else None)
    try:
        record = store.update_dataset(g.tenant_id, dataset_id, patch, auth.now_ms())
    except NameTaken as err:
        raise current_error(DATA_ERROR, f"Dataset name '{err.name}' already exists") from None
    if record is None:  # deleted meanwhile
        raise no_access(dataset_id)
    return success(current.rendered(record))


@bp.delete("")
def delete_datasets():
    sent = load(current.delete_schema, json_object())
    ids = sent.get("ids")
    if not ids and not sent.get("delete_all"):
        return success({"success_count": 0})
    try:
        deleted = get_store().delete_datasets(g.tenant_id, ids or None)
    except NotFound as err:
        raise current_error(DATA_ERROR, f"User '{g.tenant_id}' lacks permission for datasets: "
                                         f"'{', '.join(err.ids)}'") from None
    return success({"success_count": len(deleted)})


def init_app(app):
    app.register_blueprint(bp)
