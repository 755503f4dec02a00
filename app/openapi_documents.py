"""The OpenAPI description of the current API's documents and chunks (app.openapi's part)."""

from app.schemas import document_answers as answers, documents as schemas

PATH = "/api/v1/datasets/{dataset_id}"


def ids(name, *more):
    return {name: {"type": "string"} for name in (name, *more)}


def id_parameters(*names):
    return [{"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
            for name in names]


def query(**params):
    return [{"in": "query", "name": name, "required": False, "schema": schema}
            for name, schema in params.items()]


def object_body(properties):
    return {"type": "object", "properties": properties}


PARSE = object_body({"document_ids": {"type": "array", "items": {"type": "string"}}})
CHUNK_IDS = object_body({"chunk_ids": {"type": "array", "items": {"type": "string"}},
                         "delete_all": {"type": "boolean"}})
STRING, INTEGER = {"type": "string"}, {"type": "integer"}


def document_paths(spec, operation, body):
    """Add the paths; `operation` and `body` as app.openapi.current_paths makes them."""
    upload = {"required": True, "content": {
        "multipart/form-data": {"schema": object_body({"file": {
            "type": "string", "format": "binary",
            "description": "A file; send the part again for more files."}})},
        "application/json": {"schema": object_body({"name": STRING})}}}
    spec.path(PATH + "/documents", parameters=id_parameters("dataset_id"), operations={
        "post": operation(
            "Upload documents", "upload_documents", answers.UploadAnswer,
            "The new documents, UNSTART; code 500 names each file refused (a type RAGFlow "
            "does not take, over the size limit) beside those taken.",
            parameters=query(type={"type": "string", "enum": ["local", "empty"]}),
            requestBody=upload),
        "get": operation(
            "List documents", "list_documents", answers.DocumentPageAnswer,
            "A page of the dataset's documents and how many match.",
            parameters=query(page=INTEGER, page_size=INTEGER, orderby=STRING, desc=STRING,
                             keywords=STRING, id=STRING, name=STRING, ids=STRING,
                             suffix=STRING, run=STRING, create_time_from=INTEGER,
                             create_time_to=INTEGER)),
        "delete": operation(
            "Delete documents", "delete_documents", answers.DeletedAnswer,
            "How many were deleted, with their chunks and bytes; all or none.",
            requestBody=body(schemas.DeleteDocumentsReq)),
    })
    spec.path(PATH + "/documents/{document_id}",
              parameters=id_parameters("dataset_id", "document_id"), operations={
        "get": {**operation(
            "Download a document", "download_document", answers.Answer,
            "Code 102 when there is no such document or it is empty."),
            "responses": {**operation("", "", answers.Answer, "")["responses"], "200": {
                "description": "The bytes, as an attachment; or the JSON envelope with code "
                               "102 (no such document, or an empty one).",
                "content": {"application/octet-stream": {"schema": {
                    "type": "string", "format": "binary"}},
                    "application/json": {"schema": answers.Answer}}}}},
        **{method: operation(
            "Update a document", f"{method}_document", answers.DocumentAnswer,
            "The document as it is now; a new chunk method clears its chunks.",
            requestBody=body(schemas.UpdateDocumentReq)) for method in ("patch", "put")},
    })
    for path, start, stop in (("/chunks", "parse", "stop_parsing"),
                              ("/documents/parse", "parse_documents", None),
                              ("/documents/stop", None, "stop_documents")):
        operations = {}
        if start:
            operations["post"] = operation("Parse documents", start, answers.DoneAnswer,
                                           "Their parse is asked for: RUNNING.",
                                           requestBody=body(PARSE))
        if stop:
            operations["delete" if path == "/chunks" else "post"] = operation(
                "Stop parsing documents", stop, answers.DoneAnswer,
                "CANCEL, their chunks dropped.", requestBody=body(PARSE))
        spec.path(PATH + path, parameters=id_parameters("dataset_id"), operations=operations)
    chunks = PATH + "/documents/{document_id}/chunks"
    spec.path(chunks, parameters=id_parameters("dataset_id", "document_id"), operations={
        "get": operation("List a document's chunks", "list_chunks", answers.ChunkPageAnswer,
                         "A page of chunks, how many match, and the document.",
                         parameters=query(page=INTEGER, page_size=INTEGER, keywords=STRING,
                                          id=STRING, available=STRING)),
        "post": operation("Add a chunk", "add_chunk", answers.Answer,
                          "Always code 102: a chunk's content needs an embedding model."),
        "delete": operation("Delete chunks", "delete_chunks", answers.DoneAnswer,
                            "Deleted (code 102 counts those not found).",
                            requestBody=body(CHUNK_IDS)),
        "patch": operation("Switch chunks on or off", "switch_chunks", answers.DoneAnswer,
                           "`true` once done.", requestBody=body(object_body({
                               "chunk_ids": {"type": "array", "items": STRING},
                               "available_int": INTEGER}))),
    })
    spec.path(chunks + "/{chunk_id}",
              parameters=id_parameters("dataset_id", "document_id", "chunk_id"), operations={
        "get": operation("Get a chunk", "get_chunk", answers.DoneAnswer,
                         "The chunk under RAGFlow's index names; code 102 if none."),
        **{method: operation("Update a chunk", f"{method}_chunk", answers.Answer,
                             "Only `available` can change; anything else is code 102, as "
                             "it needs an embedding model.") for method in ("patch", "put")},
    })
