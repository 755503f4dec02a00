"""The current dataset API (/api/v1/datasets, RAGFlow v0.27): every answer HTTP 200 with `data`."""

import json

from flask import Blueprint, current_app, g, request
from marshmallow import ValidationError

from app import auth, creating, models
from app.errors import ARGUMENT_ERROR, CURRENT_API, DATA_ERROR, SUCCESS, current_error
from app.schemas import current, parser_config as parser_configs
from app.cached import Pages, per_query_string
from app.schemas.fields import check_storable, pydantic_text
from app.store import NameTaken, NotFound, documents as docs, get_store, rules

bp = Blueprint("datasets", __name__, url_prefix=CURRENT_API)


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
    """The answer of a success: current.DatasetAnswer's, ListAnswer's or DeleteAnswer's shape."""
    return {"code": SUCCESS, "message": "success", "data": data, **fields}


def no_access(what):
    return current_error(DATA_ERROR, f"User '{g.tenant_id}' lacks permission for dataset "
                                     f"'{what}'")


@bp.post("")
def create_dataset():
    sent = load(current.create_schema, json_object())
    record = creating.create("current", creating.current_fields(sent, current_app.config), sent)
    return success(current.render(record))


def list_args():
    """The query as RAGFlow reads it: lists from repeated or comma-separated values, ext JSON."""
    args = request.args.to_dict()
    if "ids" in args:
        args["ids"] = [value for item in request.args.getlist("ids")
                       for value in item.split(",") if value]
    if "ext" in args:
        try:
            args["ext"] = json.loads(args["ext"])
        except ValueError:
            pass  # left a string: refused as not a dictionary
    return args


list_query = per_query_string(lambda: load(current.list_schema, list_args()))


pages = Pages()


@bp.get("")
def list_datasets():
    query = list_query()
    data, total = pages(get_store(), g.tenant_id, request.query_string, lambda: page(query))
    return success(list(data), total_datasets=total)


def text(ext, key):
    value = ext.get(key)
    return value if isinstance(value, str) and value else None


def page(query):
    """(the rendered records, total) of a list's `query`, checked as RAGFlow's service does."""
    store, tenant = get_store(), g.tenant_id
    dataset_id, ids, ext = query.get("id"), query.get("ids"), query["ext"]
    name = query.get("name") or None  # an empty name filters nothing
    if dataset_id and ids:
        raise current_error(DATA_ERROR, f"Should not provide both 'id':{dataset_id} and "
                                        f"'ids'{ids}")
    if dataset_id and store.get_dataset(tenant, dataset_id) is None:
        raise no_access(dataset_id)
    if name and store.list_datasets(tenant, name=name, limit=0)[1] == 0:
        raise no_access(name)
    owners = ext.get("owner_ids")
    owners = [owner.strip() for owner in owners if isinstance(owner, str) and owner.strip()] \
        if isinstance(owners, list) else []
    if owners and tenant not in owners:  # only other tenants', and none shares with this one
        return (), 0
    size = query["page_size"]
    records, total = store.list_datasets(
        tenant, name=name, dataset_id=dataset_id, ids=ids or None, keywords=text(ext, "keywords"),
        chunk_method=text(ext, "parser_id"), orderby=query["orderby"], desc=query["desc"],
        offset=(query["page"] - 1) * size, limit=size)
    if query["include_parsing_status"]:
        records = [{**record, "parsing_status": parsing_status(store, tenant, record["id"])}
                   for record in records]
    return tuple(current.rendered.each(records)), total


def documents_of(store, tenant, dataset_id):
    return (store.list_documents(tenant, dataset_id, {}) or ([], 0))[0]


def parsing_status(store, tenant, dataset_id):
    """The counts of the dataset's documents in each parsing state."""
    counts = dict.fromkeys(current.PARSING_COUNTS, 0)
    for document in documents_of(store, tenant, dataset_id):
        counts[f"{docs.RUN_NAMES[document['run']].lower()}_count"] += 1
    return counts


@bp.get("/<dataset_id>")
def get_dataset(dataset_id):
    store = get_store()
    record = store.get_dataset(g.tenant_id, dataset_id)
    if record is None:
        raise no_access(dataset_id)
    size = sum(d["size"] for d in documents_of(store, g.tenant_id, dataset_id))
    return success(current.rendered({**record, "size": size, "connectors": []}))


IGNORED = ("parse_type", "pipeline_id", "ext")  # checked, but nothing here has a use for them


@bp.put("/<dataset_id>")
def update_dataset(dataset_id):
    sent = load(current.update_schema, {**json_object(), "dataset_id": dataset_id})
    dataset_id = sent.pop("dataset_id")
    if not sent:
        raise current_error(DATA_ERROR, "no properties were modified")
    store = get_store()
    connectors = sent.pop("connectors", [])
    for field in IGNORED:
        sent.pop(field, None)
    for field in ("embedding_model", "language", "chunk_method"):  # null: keep what there is
        if field in sent and sent[field] is None:
            del sent[field]
    parser_config = sent.pop("parser_config", None)
    if sent.pop("auto_metadata_config", None) is not None:
        parser_config = parser_configs.with_auto_metadata(parser_config)
    if "embedding_model" in sent:
        refuse_before_model(store, dataset_id, sent.get("name"))
        models.check_model(sent["embedding_model"], current_app.config)
    method = sent.get("chunk_method")
    patch = rules.Patch(sent, parser_config and parser_configs.as_change(parser_config),
                        method and parser_configs.for_method(method))
    try:
        record = store.update_dataset(g.tenant_id, dataset_id, patch, auth.now_ms())
    except NameTaken as err:
        raise name_taken(err.name) from None
    if record is None:  # no such dataset of the tenant
        raise no_access(dataset_id)
    return success(current.render({**record, "connectors": connectors}))


def name_taken(name):
    return current_error(DATA_ERROR, f"Dataset name '{name}' already exists")


def refuse_before_model(store, dataset_id, name):
    """What RAGFlow refuses before it looks at the model: an unknown dataset, a name taken."""
    if store.get_dataset(g.tenant_id, dataset_id) is None:
        raise no_access(dataset_id)
    if name is not None:
        found, _ = store.list_datasets(g.tenant_id, name=name, limit=1)
        if found and found[0]["id"] != dataset_id:
            raise name_taken(name)


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
