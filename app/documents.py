"""The current API's documents of a dataset: upload, list, download, update, delete, parse."""

from urllib.parse import quote

from flask import Blueprint, Response, current_app, g, request
from marshmallow import ValidationError
from werkzeug.wsgi import wrap_file

from app import auth, datasets, uploads
from app.datasets import json_object, load, success
from app.errors import ARGUMENT_ERROR, CURRENT_API, DATA_ERROR, current_error
from app.schemas import documents as schemas, parser_config as parser_configs
from app.schemas.fields import check_storable, pydantic_text
from app.store import NameTaken, NotFound, get_store, rules
from app.store import documents as docs

bp = Blueprint("documents", __name__, url_prefix=CURRENT_API + "/<dataset_id>")


@bp.before_request
def authenticate():
    datasets.authenticate()
    if request.endpoint == "documents.upload":  # files: the limit is theirs
        config = current_app.config
        request.max_content_length = (config["DOCUMENT_SIZE_LIMIT"] + (1 << 20)) \
            * config["UPLOAD_FILE_LIMIT"]


def own_dataset(dataset_id, message):
    """The tenant's dataset, else `message` (code 102): unknown and another's look the same."""
    record = get_store().get_dataset(g.tenant_id, dataset_id)
    if record is None:
        raise current_error(DATA_ERROR, message)
    return record


# Upload

@bp.post("/documents")
def upload(dataset_id):
    kind = request.args.get("type", "local").lower()
    dataset = own_dataset(dataset_id, f"Can't find the dataset with ID {dataset_id}!")
    if kind not in ("local", "web", "empty"):
        raise current_error(ARGUMENT_ERROR, '`type` must be one of "local", "web", or "empty".')
    if kind == "web":
        raise current_error(ARGUMENT_ERROR, "Documents from the web need a crawler, which this "
                                            "server does not have; upload the file instead.")
    if kind == "empty":
        return uploads.upload_empty(dataset)
    made = []  # every file the form's parts are written to, straight into the store
    try:
        sent = uploads.form_files(made).getlist("file")
        return uploads.upload_files(dataset, sent)
    finally:
        for file in made:
            file.abort()  # those not taken (finished ones stay)


# List and download

RUNS = {name: state for state, name in docs.RUN_NAMES.items()}


def runs(values):
    """The run states a list asks for, by name or number; None for all."""
    values = [value.strip() for value in values if value.strip()]
    if not values:
        return None
    states = [RUNS.get(value.upper(), value if value in docs.RUN_NAMES else None)
              for value in values]
    bad = [value for value, state in zip(values, states) if state is None]
    if bad:
        raise current_error(DATA_ERROR, f"Invalid filter run status conditions: "
                                        f"{', '.join(bad)}")
    return states


def number(name, default, most=None):
    """A page number as RAGFlow reads it: what does not parse, or is below 1, is the default."""
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        value = default
    value = default if value < 1 else value
    if most is not None and value > most:
        raise current_error(ARGUMENT_ERROR, f"{name} must be less than or equal to {most}")
    return value


def bound(name):
    try:
        return int(request.args.get(name, 0)) or None
    except ValueError:
        raise current_error(ARGUMENT_ERROR, f"{name} must be an integer") from None


@bp.get("/documents")
def list_documents(dataset_id):
    args = request.args
    own_dataset(dataset_id, f"You don't own the dataset {dataset_id}. ")
    page, size = number("page", 1), number("page_size", 30, 100)
    orderby = args.get("orderby", "create_time")
    if orderby not in ("create_time", "update_time", "name"):
        raise current_error(ARGUMENT_ERROR, f"invalid orderby field: {orderby}")
    query = {"keywords": args.get("keywords") or None,
             "suffixes": args.getlist("suffix") or None,
             "runs": runs(args.getlist("run") + args.getlist("run_status")),
             "created_from": bound("create_time_from"), "created_to": bound("create_time_to")}
    ids = [i for value in args.getlist("ids") for i in value.split(",") if i.strip()]
    if len(ids) > 100:
        raise current_error(ARGUMENT_ERROR, "ids must contain at most 100 IDs")
    store, document_id, name = get_store(), args.get("id"), args.get("name")
    if document_id and ids:
        raise current_error(DATA_ERROR, f"Should not provide both 'id':{document_id} and "
                                        f"'ids'{ids}")
    for field, value in (("ids", document_id), ("name", name)):
        if value and not store.list_documents(g.tenant_id, dataset_id,
                                              {field: [value] if field == "ids" else value},
                                              limit=0)[1]:
            raise current_error(DATA_ERROR, f"you don't own the document {value}")
    query.update(ids=[document_id] if document_id else ids or None, name=name or None)
    found = store.list_documents(g.tenant_id, dataset_id, query, orderby,
                                 args.get("desc", "true").strip().lower() != "false",
                                 (page - 1) * size, size)
    if found is None:
        raise current_error(DATA_ERROR, f"You don't own the dataset {dataset_id}. ")
    records, total = found
    return success({"total": total, "docs": list(map(schemas.listed, records))})


def own_document(dataset_id, document_id, message):
    record = get_store().get_document(g.tenant_id, dataset_id, document_id)
    if record is None:
        raise current_error(DATA_ERROR, message)
    return record


@bp.get("/documents/<document_id>")
def download(dataset_id, document_id):
    record = own_document(dataset_id, document_id, "document not found")
    if record["size"] == 0:
        raise current_error(DATA_ERROR, "This file is empty.")
    stream = get_store().read_bytes(g.tenant_id, record["location"])
    if stream is None:
        raise current_error(DATA_ERROR, "This file is empty.")
    name = record["name"]
    fallback = name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    headers = {"Content-Disposition": f"attachment; filename=\"{fallback}\"; "
                                      f"filename*=UTF-8''{quote(name, safe='')}",
               "Content-Length": str(record["size"]), "X-Content-Type-Options": "nosniff",
               "Cache-Control": "private, no-store"}
    # As the WSGI server's file wrapper: gunicorn sends a real file with sendfile().
    return Response(wrap_file(request.environ, stream, docs.PIECE), headers=headers,
                    content_type=schemas.content_type(name), direct_passthrough=True)


# Update and delete

@bp.route("/documents/<document_id>", methods=["PATCH", "PUT"])
def update(dataset_id, document_id):
    body = json_object()
    if "name" in body and body["name"] is None:
        raise current_error(DATA_ERROR, "Field: <name> - Message: <Input should be a valid "
                                        "string> - Value: <None>")
    own_dataset(dataset_id, "you don't own the dataset")
    old = own_document(dataset_id, document_id, "the dataset doesn't own the document")
    try:
        sent = schemas.update_schema.load(body)
        check_storable(body)
    except ValidationError as err:
        raise current_error(DATA_ERROR, pydantic_text(err, body)) from None
    for field, now in (("chunk_count", old["chunk_count"]), ("token_count", old["token_count"])):
        if field in sent and sent[field] != now:
            raise current_error(DATA_ERROR, f"can't change `{field}`")
    if "progress" in sent and abs(sent["progress"] - old["progress"]) > 1e-9:
        raise current_error(DATA_ERROR, "can't change `progress`")
    patch = changes(old, sent)
    store = get_store()
    try:
        record = store.update_document(g.tenant_id, dataset_id, document_id, patch,
                                       auth.now_ms()) if patch else old
    except NameTaken:
        raise current_error(DATA_ERROR, "Duplicated document name in the same dataset.") \
            from None
    if record is None:
        raise current_error(DATA_ERROR, "Document not found!")
    return success(schemas.rendered(record))


def changes(old, sent):
    """The rules.Patch of an update of document `old`, checked as RAGFlow checks it."""
    fields, config = {}, None
    name = sent.get("name")
    if name is not None and name != old["name"]:
        if len(name.encode("utf-8", "surrogatepass")) > schemas.NAME_BYTES:
            raise current_error(ARGUMENT_ERROR, "File name must be 255 bytes or less.")
        if schemas.suffix(name) != schemas.suffix(old["name"]):
            raise current_error(ARGUMENT_ERROR, "The extension of file can't be changed")
        fields["name"] = name
    if "chunk_method" in sent:
        if sent["chunk_method"] == "":
            raise current_error(DATA_ERROR, "`chunk_method` (empty string) is not valid")
        if old["type"] == "visual" or old["name"].endswith((".ppt", ".pptx", ".pages")):
            raise current_error(DATA_ERROR, "Not supported yet!")
    if "meta_fields" in sent:
        fields["meta_fields"] = sent["meta_fields"] or {}
    if sent.get("parser_config"):
        config = parser_configs.as_change(sent["parser_config"])
    if "pipeline_id" in sent:
        fields["pipeline_id"] = sent["pipeline_id"] or None
    method = sent.get("chunk_method")
    if method and method.lower() != old["chunk_method"].lower():
        fields.update(chunk_method=method, pipeline_id=None)
    if method and config is None:  # the method's defaults, merged into what there is
        config = parser_configs.for_method(method) if method in parser_configs.METHOD_DEFAULTS \
            else None
    if "enabled" in sent:
        fields["status"] = str(sent["enabled"])
    return rules.Patch(fields, config) if fields or config else None


@bp.delete("/documents")
def delete_documents(dataset_id):
    sent = load(schemas.delete_schema, json_object())
    own_dataset(dataset_id, f"You don't own the dataset {dataset_id}. ")
    ids, every = sent.get("ids"), sent.get("delete_all", False)
    if not every and not ids:
        raise current_error(DATA_ERROR, f"should either provide doc ids or set delete_all(true), "
                                        f"dataset: {dataset_id}. ")
    if every and ids:
        raise current_error(DATA_ERROR, f"should not provide both doc ids and delete_all(true), "
                                        f"dataset: {dataset_id}. ")
    try:
        deleted = get_store().delete_documents(g.tenant_id, dataset_id, None if every else ids)
    except NotFound as err:
        raise current_error(DATA_ERROR, f"These documents do not belong to dataset {dataset_id} "
                                        f"or Document not found: {', '.join(err.ids)}") from None
    return success({"deleted": len(deleted)})


def init_app(app):
    app.register_blueprint(bp)
