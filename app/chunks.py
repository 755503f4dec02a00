"""The current API's parsing of documents and their chunks: start, stop, list, get, delete."""

from flask import Blueprint, current_app, g, request

from app import auth, datasets
from app.datasets import json_object, success
from app.documents import number, own_dataset, own_document
from app.errors import ARGUMENT_ERROR, CURRENT_API, DATA_ERROR, current_error
from app.schemas import documents as schemas
from app.store import NotFound, get_store
from app.store import documents as docs

bp = Blueprint("chunks", __name__, url_prefix=CURRENT_API + "/<dataset_id>")
bp.before_request(datasets.authenticate)


def document_ids(body):
    """(the ids once each, in order, and the duplicates' errors) of `document_ids`."""
    ids = body.get("document_ids")
    if not ids or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise current_error(DATA_ERROR, "`document_ids` is required")
    once = list(dict.fromkeys(ids))
    return once, [f"Duplicate document ids: {i}" for i in once if ids.count(i) > 1]


def asked(dataset_id):
    """(ids once each, the duplicates' errors, {id: record} of those that are the dataset's)."""
    body = json_object()
    own_dataset(dataset_id, f"You don't own the dataset {dataset_id}.")
    ids, errors = document_ids(body)
    records, _ = get_store().list_documents(g.tenant_id, dataset_id, {"ids": ids})
    return ids, errors, {record["id"]: record for record in records}


def refuse_missing(ids, found):
    missing = [i for i in ids if i not in found]
    if missing:
        raise current_error(DATA_ERROR, f"Documents not found: {missing!r}")


def answered(count, errors):
    return success({"success_count": count, "errors": errors} if errors else None)


def start(dataset_id, ids):
    get_store().queue_parse(g.tenant_id, dataset_id, ids, auth.now_ms())
    current_app.extensions["parser"].start()


@bp.post("/chunks")
def parse(dataset_id):
    """Start parsing (the SDK's route): any document already being parsed refuses them all."""
    ids, errors, found = asked(dataset_id)
    if any(record["run"] == docs.RUNNING for record in found.values()):
        raise current_error(DATA_ERROR, "Can't parse document that is currently being processed")
    if found:
        start(dataset_id, list(found))
    refuse_missing(ids, found)
    return answered(len(found), errors)


@bp.post("/documents/parse")
def parse_documents(dataset_id):
    """Start parsing (the newer route): unknown ids refuse them all, a running one starts over."""
    ids, errors, found = asked(dataset_id)
    refuse_missing(ids, found)
    start(dataset_id, ids)
    return success({"success_count": len(ids), **({"errors": errors} if errors else {})})


@bp.delete("/chunks")
def stop(dataset_id):
    """Stop parsing (the SDK's route): all the documents named must be being parsed."""
    ids, errors, found = asked(dataset_id)
    for document_id in ids:
        if document_id not in found:
            raise current_error(DATA_ERROR, f"you don't own the document {document_id}")
        if found[document_id]["run"] != docs.RUNNING:
            raise current_error(DATA_ERROR, "Can't stop parsing document that has not started "
                                            "or already completed",
                                {"error_code": "DOC_STOP_PARSING_INVALID_STATE"})
    get_store().cancel_parse(g.tenant_id, dataset_id, ids, auth.now_ms())
    return answered(len(ids), errors)


@bp.post("/documents/stop")
def stop_documents(dataset_id):
    """Stop parsing (the newer route): those not being parsed are errors of a success."""
    ids, errors, found = asked(dataset_id)
    refuse_missing(ids, found)
    running = [i for i in ids if found[i]["run"] == docs.RUNNING]
    errors += ["Can't stop parsing document that has not started or already completed"
               for i in ids if i not in running]
    if running:
        get_store().cancel_parse(g.tenant_id, dataset_id, running, auth.now_ms())
    return success({"success_count": len(running), **({"errors": errors} if errors else {})})


# Chunks

def own(dataset_id, document_id):
    """The tenant's document of the dataset, else RAGFlow's refusals for a chunk route."""
    own_dataset(dataset_id, f"You don't own the dataset {dataset_id}.")
    return own_document(dataset_id, document_id, f"you don't own the document {document_id}")


@bp.get("/documents/<document_id>/chunks")
def list_chunks(dataset_id, document_id):
    document = own(dataset_id, document_id)
    page, size = number("page", 1), number("page_size", 30, 100)
    chunk_id, every = request.args.get("id") or None, "available" in request.args
    found = get_store().list_chunks(  # a page of them, unless they are to be filtered here
        g.tenant_id, dataset_id, document_id, request.args.get("keywords") or None, chunk_id,
        *((0, None) if every else ((page - 1) * size, size)))
    if found is None:
        raise current_error(DATA_ERROR, f"you don't own the document {document_id}")
    chunks, total = found
    if chunk_id and not total:
        raise current_error(DATA_ERROR, f"Chunk not found: {dataset_id}/{chunk_id}")
    if every:
        wanted = request.args["available"].lower() == "true"
        chunks = [c for c in chunks if c["available"] == wanted]
        chunks, total = chunks[(page - 1) * size:page * size], len(chunks)
    return success({"total": total, "chunks": [schemas.chunk(c, document) for c in chunks],
                    "doc": schemas.rendered(document)})


@bp.get("/documents/<document_id>/chunks/<chunk_id>")
def get_chunk(dataset_id, document_id, chunk_id):
    document = own(dataset_id, document_id)
    chunks, _ = get_store().list_chunks(g.tenant_id, dataset_id, document_id, chunk_id=chunk_id)
    if not chunks:
        raise current_error(DATA_ERROR, "Chunk not found!")
    return success(schemas.stored_chunk(chunks[0], document))


def chunk_ids(body):
    ids = body.get("chunk_ids")
    if ids and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise current_error(ARGUMENT_ERROR, "`chunk_ids` should be a list of strings")
    return ids


@bp.delete("/documents/<document_id>/chunks")
def delete_chunks(dataset_id, document_id):
    body = json_object()
    own(dataset_id, document_id)
    ids, store = chunk_ids(body), get_store()
    if not ids:
        if body.get("delete_all") is True:
            store.delete_chunks(g.tenant_id, dataset_id, document_id)
        return success(None)
    once = list(dict.fromkeys(ids))
    try:
        store.delete_chunks(g.tenant_id, dataset_id, document_id, once)
    except NotFound as err:  # RAGFlow deletes those it finds, then says how many
        found = [i for i in once if i not in err.ids]
        if found:
            store.delete_chunks(g.tenant_id, dataset_id, document_id, found)
        raise current_error(DATA_ERROR, f"rm_chunk deleted chunks {len(found)}, expect "
                                        f"{len(once)}") from None
    twice = [f"Duplicate chunk ids: {i}" for i in once if ids.count(i) > 1]
    return answered(len(once), twice)


@bp.patch("/documents/<document_id>/chunks")
def switch_chunks(dataset_id, document_id):
    body = json_object()
    own_dataset(dataset_id, f"You don't own the dataset {dataset_id}.")
    ids = chunk_ids(body)
    if not ids:
        raise current_error(DATA_ERROR, "`chunk_ids` is required.")
    if "available_int" not in body and "available" not in body:
        raise current_error(DATA_ERROR, "`available_int` or `available` is required.")
    try:
        available = bool(int(body["available_int"])) if "available_int" in body \
            else bool(body["available"])
    except (TypeError, ValueError):
        raise current_error(ARGUMENT_ERROR, "`available_int` should be 0 or 1") from None
    own_document(dataset_id, document_id, "document not found")
    try:
        get_store().set_chunks_available(g.tenant_id, dataset_id, document_id,
                                         list(dict.fromkeys(ids)), available)
    except NotFound as err:
        raise current_error(DATA_ERROR, f"Chunk not found: {', '.join(err.ids)}") from None
    return success(True)


@bp.post("/documents/<document_id>/chunks")
def add_chunk(dataset_id, document_id):
    json_object()
    own(dataset_id, document_id)
    raise no_model(dataset_id)


@bp.route("/documents/<document_id>/chunks/<chunk_id>", methods=["PATCH", "PUT"])
def update_chunk(dataset_id, document_id, chunk_id):
    """Only `available` can change here: anything else needs the embedding model."""
    body = json_object()
    own(dataset_id, document_id)
    chunks, _ = get_store().list_chunks(g.tenant_id, dataset_id, document_id, chunk_id=chunk_id)
    if not chunks:
        raise current_error(DATA_ERROR, f"Can't find this chunk {chunk_id}")
    if set(body) - {"available"}:
        raise no_model(dataset_id)
    if "available" in body:
        get_store().set_chunks_available(g.tenant_id, dataset_id, document_id, [chunk_id],
                                         bool(body["available"]))
    return success(None)


def no_model(dataset_id):
    """RAGFlow's refusal where a chunk needs embedding and the model cannot be had."""
    model = get_store().get_dataset(g.tenant_id, dataset_id)["embedding_model"] or ""
    return current_error(DATA_ERROR, f"Provider {model.rsplit('@', 1)[-1]} not found for "
                                     f"model {model}.")


def init_app(app):
    app.register_blueprint(bp)
