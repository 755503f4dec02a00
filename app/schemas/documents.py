"""Documents and chunks of the current API: request models, file types, and answers."""

import os
import time

from marshmallow import EXCLUDE, ValidationError

from app.schemas.fields import (Bool, Float, Int, ListOf, Model, Object, Str, StrictSchema,
                                at_least, at_most, http_date, max_length)
from app.schemas.parser_config import ParserConfig
from app.store import documents as docs

NAME_BYTES = 255  # RAGFlow's FILE_NAME_LEN_LIMIT, in UTF-8 bytes
# A document's chunk methods (RAGFlow's update model: not resume or audio).
METHODS = ("naive", "manual", "qa", "table", "paper", "book", "laws", "presentation", "picture",
           "one", "knowledge_graph", "email", "tag")

# RAGFlow's file types, by the name's suffix; any other suffix is refused at upload.
TYPES = {
    "pdf": ["pdf"],
    "doc": "msg eml doc docx ppt pptx yml xml htm json jsonl ldjson csv txt ini xls xlsx wps rtf "
           "hlp pages numbers key md mdx py js java c cpp h php go ts sh cs kt html sql".split(),
    "aural": "wav flac ape alac wavpack wv mp3 aac ogg vorbis opus".split(),
    "visual": "jpg jpeg png tif gif pcx tga exif fpx svg psd cdr pcd dxf ufo eps ai raw webp avif "
              "apng icon ico mpg mpeg avi rm rmvb mov wmv asf dat asx wvx mpe mpa mp4 mkv".split(),
}
TYPE_OF = {suffix: kind for kind, suffixes in TYPES.items() for suffix in suffixes}
CONTENT_TYPES = {
    "pdf": "application/pdf", "csv": "text/csv", "json": "application/json",
    "doc": "application/msword", "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    **dict.fromkeys("txt py js java c cpp h php go ts sh cs kt sql".split(), "text/plain"),
    **dict.fromkeys(("md", "markdown", "mdx"), "text/markdown"),
    **dict.fromkeys(("htm", "html"), "text/html"),
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
    "tif": "image/tiff", "webp": "image/webp", "svg": "image/svg+xml", "ico": "image/x-icon",
}


def suffix(name):
    """The suffix a name's type is told by: after its last dot, in lower case ('' if none)."""
    return os.path.splitext(name)[1][1:].lower()


def file_type(name):
    """RAGFlow's type of a file by its name, or None for a type it does not take."""
    return TYPE_OF.get(suffix(name)) if len(os.path.basename(name)) <= NAME_BYTES else None


def chunk_method(name, kind, dataset_method):
    """The chunk method of a new document, as RAGFlow picks it."""
    if kind == "visual":
        return "picture"
    if kind == "aural":
        return "audio"
    for pattern, method in (((".ppt", ".pptx", ".pages"), "presentation"),
                            ((".msg", ".eml"), "email")):
        if name.endswith(pattern):
            return method
    return dataset_method


def content_type(name):
    kind = suffix(name)
    if not kind:
        return "application/octet-stream"
    return CONTENT_TYPES.get(kind, f"{'image' if file_type(name) == 'visual' else 'application'}"
                                   f"/{kind}")


def scalar(value):
    return type(value) in (str, int, float, bool)


def meta_types(value):
    """RAGFlow's check of meta_fields: strings, numbers, or lists of them."""
    for item in (value or {}).values():
        if isinstance(item, list):
            if not all(map(scalar, item)):
                raise ValidationError(f"The type is not supported in list: {item!r}")
        elif not scalar(item):
            raise ValidationError(f"The type is not supported: {item!r}")


class MethodName(Str):
    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if value and value not in METHODS:
            raise ValidationError(f"`chunk_method` {value} doesn't exist")
        return value


class UpdateDocumentReq(StrictSchema):
    class Meta:
        unknown = EXCLUDE  # RAGFlow's model ignores other keys

    name = Str(validate=[max_length(65535)])
    chunk_method = MethodName(validate=[max_length(65535)])
    pipeline_id = Str(allow_none=True)
    enabled = Int(validate=[at_least(0), at_most(1)])
    chunk_count = Int(validate=[at_least(0)])
    token_count = Int(validate=[at_least(0)])
    progress = Float(validate=[at_least(0), at_most(1)])
    parser_config = Model(ParserConfig)
    meta_fields = Object(allow_none=True, validate=[meta_types])


def unique(ids):
    twice = list(dict.fromkeys(i for i in ids if ids.count(i) > 1))
    if twice:
        raise ValidationError(f"Duplicate ids: '{', '.join(twice)}'")


class DeleteDocumentsReq(StrictSchema):
    ids = ListOf(Str(), allow_none=True, validate=[unique])
    delete_all = Bool()


update_schema, delete_schema = UpdateDocumentReq(), DeleteDocumentsReq()


def rendered(record):
    """A document as RAGFlow answers it: its fields under their API names, `run` by name."""
    begun = record["process_begin_at"]
    return {
        "id": record["id"], "thumbnail": record["thumbnail"], "dataset_id": record["dataset_id"],
        "chunk_method": record["chunk_method"], "pipeline_id": record["pipeline_id"],
        "parser_config": record["parser_config"], "source_type": record["source_type"],
        "type": record["type"], "created_by": record["created_by"], "name": record["name"],
        "location": record["location"], "size": record["size"],
        "token_count": record["token_count"], "chunk_count": record["chunk_count"],
        "progress": record["progress"], "progress_msg": record["progress_msg"],
        "process_begin_at": begun and http_date(begun),
        "process_duration": record["process_duration"], "suffix": record["suffix"],
        "run": docs.RUN_NAMES[record["run"]], "status": record["status"],
        "create_time": record["create_time"], "create_date": http_date(record["create_time"]),
        "update_time": record["update_time"], "update_date": http_date(record["update_time"])}


def listed(record):
    """A document in a list: with its metadata."""
    return {**rendered(record), "pipeline_name": None, "nickname": None,
            "meta_fields": record["meta_fields"]}


UPLOADED = ("id", "dataset_id", "chunk_method", "pipeline_id", "parser_config", "created_by",
            "type", "name", "source_type", "suffix", "location", "size", "thumbnail", "run")


def uploaded(record):
    """A document as an upload answers it: the fields RAGFlow inserts, UNSTART."""
    full = rendered(record)
    return {field: full[field] for field in UPLOADED}


def chunk(record, document):
    """A chunk in a list of a document's chunks."""
    return {"id": record["id"], "content": record["content"],
            "document_id": record["document_id"], "docnm_kwd": document["name"],
            "important_keywords": record["important_keywords"], "tag_kwd": [],
            "questions": record["questions"], "dataset_id": record["dataset_id"],
            "image_id": record["image_id"], "doc_type_kwd": "text",
            "available": record["available"], "positions": record["positions"]}


def stored_chunk(record, document):
    """A chunk as RAGFlow's get of one answers it: under its index's own names."""
    made = record["create_time"] / 1000
    return {"id": record["id"], "doc_id": record["document_id"], "kb_id": record["dataset_id"],
            "docnm_kwd": document["name"], "content_with_weight": record["content"],
            "important_kwd": record["important_keywords"], "question_kwd": record["questions"],
            "tag_kwd": [], "img_id": record["image_id"],
            "available_int": int(record["available"]),
            "create_time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(made)),
            "create_timestamp_flt": made, "doc_type_kwd": "text",
            "position_int": record["positions"], "page_num_int": [record["position"] + 1],
            "top_int": [record["position"]]}
