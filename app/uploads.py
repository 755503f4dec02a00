"""Uploads of documents: each file part written straight into the store as it comes in."""

import os

from flask import current_app, g, request
from marshmallow import ValidationError
from werkzeug.formparser import parse_form_data

from app import auth
from app.datasets import json_object, success
from app.errors import ARGUMENT_ERROR, DATA_ERROR, current_error
from app.schemas import documents as schemas
from app.schemas.fields import check_storable, pydantic_text
from app.store import LimitReached, NotFound, get_store

SERVER_ERROR = 500  # the code of an upload's refusal, in RAGFlow's answer


def form_files(made):
    """The request's files, each written into a new file of the store as it comes in."""
    store, config = get_store(), current_app.config

    def new_file(total_content_length, content_type, filename, content_length=None):
        if len(made) == config["UPLOAD_FILE_LIMIT"]:
            raise current_error(ARGUMENT_ERROR, f"At most {config['UPLOAD_FILE_LIMIT']} files "
                                                f"in one upload.")
        made.append(Capped(store.new_file(g.tenant_id), config["DOCUMENT_SIZE_LIMIT"]))
        return made[-1]

    _, _, sent = parse_form_data(request.environ, stream_factory=new_file,
                                 max_content_length=request.max_content_length)
    return sent


def upload_files(dataset, sent):
    if not sent:
        raise current_error(ARGUMENT_ERROR, "No file part!")
    for file in sent:
        if not file.filename:
            raise current_error(ARGUMENT_ERROR, "No file selected!")
        check_name(file.filename)
    errors, fields = [], []
    for file in sent:
        kind = schemas.file_type(file.filename)
        if kind is None:
            errors.append(f"{file.filename}: This type of file has not been supported yet!")
        elif file.stream.over:
            errors.append(f"{file.filename}: File size exceeds( <= "
                          f"{file.stream.limit // (1 << 20)}Mb )")
        else:
            location, size = file.stream.finish()
            fields.append(new_fields(dataset, file.filename, kind, location, size))
    records = add(dataset, fields) if fields else []
    answer = [schemas.uploaded(record) for record in records]
    if errors:
        raise current_error(SERVER_ERROR, "\n".join(errors), answer or None)
    return success(answer)


class Capped:
    """A new file of the store that keeps no more than `limit` bytes (past it: `over`)."""

    def __init__(self, file, limit):
        self.file, self.limit, self.size = file, limit, 0
        self.over = self.done = False

    def write(self, data):
        self.size += len(data)
        if not self.over and self.size > self.limit:
            self.over = True
            self.file.abort()
        if not self.over:
            self.file.write(data)
        return len(data)

    def seek(self, offset, whence=0):
        return 0

    def finish(self):
        self.done = True
        return self.file.finish()

    def abort(self):
        if not (self.done or self.over):
            self.file.abort()


def check_name(name):
    if len(name.encode("utf-8", "surrogatepass")) > schemas.NAME_BYTES:
        raise current_error(ARGUMENT_ERROR, "File name must be 255 bytes or less.")
    try:
        check_storable({"name": name})
    except ValidationError as err:
        raise current_error(ARGUMENT_ERROR, pydantic_text(err, {"name": name})) from None


def new_fields(dataset, name, kind, location, size):
    return {"name": name, "location": location, "size": size, "type": kind,
            "suffix": os.path.splitext(name)[1][1:],
            "chunk_method": schemas.chunk_method(name, kind, dataset["chunk_method"]),
            "parser_config": dataset["parser_config"]}


def add(dataset, fields):
    config = current_app.config
    limits = {"documents": config["TENANT_DOCUMENT_LIMIT"], "bytes": config["TENANT_BYTES_LIMIT"]}
    try:
        return get_store().add_documents(g.tenant_id, dataset["id"], fields, auth.now_ms(), limits)
    except NotFound:  # deleted since it was looked up
        raise current_error(DATA_ERROR, f"Can't find the dataset with ID {dataset['id']}!") \
            from None
    except LimitReached as err:
        message = ("Exceed the maximum file number of a free user!" if err.what == "documents"
                   else f"Exceed the maximum storage of a tenant ({err.limit} bytes)!")
        raise current_error(SERVER_ERROR, message) from None


def upload_empty(dataset):
    body = json_object()
    name = body.get("name")
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise current_error(ARGUMENT_ERROR, "File name can't be empty.")
    check_name(name)
    if get_store().list_documents(g.tenant_id, dataset["id"], {"name": name}, limit=0)[1]:
        raise current_error(DATA_ERROR, "Duplicated document name in the same dataset.")
    location, _ = get_store().save_bytes(g.tenant_id, [])
    [record] = add(dataset, [new_fields(dataset, name, "virtual", location, 0)])
    return success(schemas.rendered(record))
