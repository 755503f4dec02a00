"""The current API's request models, with RAGFlow's bounds and wording, and its record."""

import re

from marshmallow import (ValidationError, fields, missing, post_load, validate,
                         validates_schema)

from app.cached import Memo
from app.schemas.parser_config import CHUNK_METHODS, AutoMetadataConfig, ParserConfig
from app.schemas.fields import (
    Bool, Choice, DatasetFields, Int, ListOf, Model, Object, Str, StrictSchema, UUIDHex,
    at_least, at_most, max_length, min_length, uuid_hex)

NAME_LIMIT = 128
AVATAR_TYPES = ["image/jpeg", "image/png"]
HEX_ID = re.compile(r"[0-9a-fA-F]{32}")


def avatar_format(value):
    if not value:
        return
    if "," not in value:
        raise ValidationError("missing MIME prefix. Expected format: data:<mime>;base64,<data>")
    prefix = value.split(",", 1)[0]
    if not prefix.startswith("data:"):
        raise ValidationError("invalid MIME prefix format. Must start with 'data:'")
    if prefix[5:].split(";")[0] not in AVATAR_TYPES:
        raise ValidationError(f"Unsupported MIME type. Allowed: {AVATAR_TYPES}")


def model_format(value):
    """RAGFlow's check of `model@provider`: the rest is for the configured models to judge."""
    if value is None or HEX_ID.fullmatch(value):  # a tenant model's id
        return
    if "@" not in value:
        raise ValidationError(
            "embedding model identifier must follow <model_name>@<provider> format")
    model, provider = value.split("@", 1)
    if not model or not provider:
        raise ValidationError("both model_name and provider must be non-empty strings")
    if not model.strip() or not provider.strip():
        raise ValidationError("Model name and provider cannot be whitespace-only strings")


def hexadecimal(value):
    if value is not None and not HEX_ID.fullmatch(value):
        raise ValidationError("pipeline_id must be hexadecimal")


def pipeline_dropped(data):
    """Whether `parse_type` 1 (a direct parser) makes RAGFlow drop the pipeline_id sent."""
    return type(data.get("parse_type")) is int and data["parse_type"] == 1


def pipeline_given(data):
    """Whether the raw body names a pipeline that RAGFlow's model keeps."""
    pipeline = data.get("pipeline_id")
    return (isinstance(pipeline, str) and HEX_ID.fullmatch(pipeline) is not None
            and not pipeline_dropped(data))


class PipelineId(Str):
    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value not in (None, missing) and data is not None and pipeline_dropped(data):
            return None
        return super().deserialize(value, attr, data, **kwargs)


class ChunkMethod(Choice):
    """A chunk method; null only beside a pipeline."""

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is None and data is not None and pipeline_given(data):
            return None
        return super().deserialize(value, attr, data, **kwargs)


class CreateDatasetReq(StrictSchema):
    name = Str(required=True, strip=True, validate=[min_length(1), max_length(NAME_LIMIT)],
               metadata={"description": "Trimmed; unique per tenant, case-insensitively: a "
                                        "taken name becomes `name(1)`, `name(2)`..."})
    avatar = Str(allow_none=True, validate=[max_length(65535), avatar_format],
                 metadata={"description": "`data:image/png;base64,...` or image/jpeg."})
    description = Str(allow_none=True, validate=[max_length(65535)])
    embedding_model = Str(allow_none=True, strip=True, validate=[max_length(255), model_format],
                          metadata={"description": "`model@provider`; one of "
                                    "DATASET_API_EMBEDDING_MODELS. Default: "
                                    "DATASET_API_EMBEDDING_MODEL."})
    permission = Choice(("me", "team"))
    parse_type = Int(allow_none=True, validate=[at_least(0), at_most(64)], metadata={
        "description": "With `pipeline_id`, instead of `chunk_method`: accepted and checked, "
                       "but there are no pipelines here, and the dataset is `naive`."})
    pipeline_id = PipelineId(allow_none=True, validate=[min_length(32), max_length(32),
                                                        hexadecimal])
    chunk_method = ChunkMethod(CHUNK_METHODS)
    parser_config = Model(ParserConfig, empty_is_none=True, allow_none=True, metadata={
        "description": "Fields left out take RAGFlow's defaults, then the chunk method's."})
    auto_metadata_config = Model(AutoMetadataConfig, allow_none=True, metadata={
        "description": "As in RAGFlow v0.27.0: turns `parser_config.enable_metadata` on, with "
                       "`parser_config.metadata` empty."})
    ext = Object(metadata={"description": "Accepted and checked; nothing here reads it."})

    @validates_schema(skip_on_field_errors=True)
    def parser_or_pipeline(self, data, **kwargs):
        """A chunk method, or a pipeline (parse_type and pipeline_id), never both."""
        sent = {"parse_type": data.get("parse_type"), "pipeline_id": data.get("pipeline_id")}
        if "chunk_method" not in data:
            missing = [field for field, value in sent.items() if value is None]
            if len(missing) == 1:
                raise ValidationError(f"parser_id omitted → required fields missing: "
                                      f"{missing[0]}")
        elif data["chunk_method"] is not None:
            present = [field for field, value in sent.items()
                       if value is not None and (field, value) != ("parse_type", 1)]
            if present:
                raise ValidationError(f"parser_id provided → disallowed fields present: "
                                      f"{', '.join(present)}")


class UpdateDatasetReq(CreateDatasetReq):
    """The body with the id from the path, in RAGFlow's order of fields."""

    name = Str(strip=True, validate=[min_length(1), max_length(NAME_LIMIT)], metadata={
        "description": "Trimmed; a name another of the caller's datasets has (any case) is "
                       "refused with code 102."})
    dataset_id = UUIDHex()
    pagerank = Int(validate=[at_least(0), at_most(100)])
    language = Str(allow_none=True, validate=[max_length(32)])
    connectors = ListOf(Object(), metadata={
        "description": "Answered back as sent; there are no connectors here."})


def some_ids(ids):
    """RAGFlow's check of a list of ids: UUIDs, each once."""
    ids = [uuid_hex(value) for value in ids]
    twice = list(dict.fromkeys(i for i in ids if ids.count(i) > 1))
    if twice:
        raise ValidationError(f"Duplicate ids: '{', '.join(twice)}'")


class IdsSchema(StrictSchema):
    """A request whose `ids` are answered in their 32 hex digits."""

    @post_load
    def hex_ids(self, data, **kwargs):
        if data.get("ids"):
            data["ids"] = [uuid_hex(value) for value in data["ids"]]
        return data


class DeleteDatasetReq(IdsSchema):
    # RAGFlow checks the list as a whole: its errors name `ids`, not an item.
    ids = ListOf(Str(), allow_none=True, validate=[some_ids], metadata={
        "description": "Datasets to delete, all or none; `null` or `[]` delete nothing."})
    delete_all = Bool(metadata={"description": "With no `ids`: delete every dataset."})


INTEGER = re.compile(r"\s*([+-]?[0-9](?:_?[0-9])*)(?:\.0+)?\s*")
MOST_IDS = 100  # ids a list may ask for


class QueryInt(Int):
    """An integer query parameter, parsed as pydantic's lax mode does."""

    def _deserialize(self, value, attr, data, **kwargs):
        match = INTEGER.fullmatch(value)
        if match is None:
            raise ValidationError("Input should be a valid integer, unable to parse string as "
                                  "an integer")
        return int(match[1])


class QueryBool(Bool):
    TRUE = {"1", "on", "t", "true", "y", "yes"}
    FALSE = {"0", "off", "f", "false", "n", "no"}

    def _deserialize(self, value, attr, data, **kwargs):
        if value.lower() in self.TRUE | self.FALSE:
            return value.lower() in self.TRUE
        raise ValidationError("Input should be a valid boolean, unable to interpret input")


def at_most_ids(ids):
    if len(ids) > MOST_IDS:
        raise ValidationError(f"List should have at most {MOST_IDS} items after validation, "
                              f"not {len(ids)}")


class ListDatasetReq(IdsSchema):
    id = UUIDHex(metadata={"description": "Only this dataset."})
    name = Str(metadata={"description": "Only the dataset of this name (any case); empty: "
                                        "no filter."})
    page = QueryInt(load_default=1, validate=[at_least(1)])
    page_size = QueryInt(load_default=30, validate=[at_least(1), at_most(100)])
    orderby = Choice(("create_time", "update_time"), load_default="create_time")
    desc = QueryBool(load_default=True)
    ids = ListOf(Str(), validate=[at_most_ids, some_ids],
        metadata={"description": "Only these datasets (repeated, or comma-separated); not "
                                 "with `id`."})
    include_parsing_status = QueryBool(load_default=False, metadata={
        "description": "Adds `parsing_status`, the documents' counts by parsing state."})
    ext = Object(load_default=dict, metadata={
        "description": "JSON: `keywords` (a part of the name, any case), `parser_id` (a chunk "
                       "method), `owner_ids`."})


OPTIONAL = ("parsing_status", "size", "connectors")  # in some answers only
PARSING_COUNTS = ("unstart_count", "running_count", "cancel_count", "done_count", "fail_count")


class CurrentDataset(DatasetFields):
    """A dataset as RAGFlow v0.27 answers it."""

    chunk_count = fields.Integer(metadata={"example": 0})
    chunk_method = fields.String(metadata={"example": "naive"})
    document_count = fields.Integer(metadata={"example": 0})
    embedding_model = fields.String(allow_none=True, metadata={
        "example": "BAAI/bge-small-en-v1.5@Local@Builtin"})
    pagerank = fields.Integer(metadata={"example": 0})
    # Only in some answers, as in RAGFlow's.
    parsing_status = fields.Dict(metadata={
        "description": "In a list with include_parsing_status=true: how many documents are in "
                       "each parsing state.", "example": dict.fromkeys(PARSING_COUNTS, 0)})
    size = fields.Integer(metadata={"description": "In a get: the bytes of its documents."})
    connectors = fields.List(fields.Dict(), metadata={
        "description": "In a get, and an update (as sent): the linked connectors."})


class Answer(StrictSchema):
    """Every answer of the current API, errors included (then `data` is null)."""

    code = fields.Integer(required=True, validate=validate.OneOf((0, 101, 102)), metadata={
        "description": "0: success; 101: a malformed request; 102: a rule of the data "
                       "(not found, not yours, name taken)."})
    message = fields.String(required=True, metadata={
        "description": "`success`, or what was wrong: one line per problem."})


class DatasetAnswer(Answer):
    data = fields.Nested(CurrentDataset, required=True, allow_none=True)


class ListAnswer(Answer):
    data = fields.List(fields.Nested(CurrentDataset), required=True, allow_none=True)
    total_datasets = fields.Integer(metadata={"description": "Every match, on every page "
                                                             "(on success only)."})


class DeleteCount(StrictSchema):
    success_count = fields.Integer(required=True)


class DeleteAnswer(Answer):
    data = fields.Nested(DeleteCount, required=True, allow_none=True)


class Fault(StrictSchema):
    """A server fault (HTTP 500, or 503 when the store is busy)."""

    code = fields.Integer(required=True, validate=validate.OneOf((100,)))
    message = fields.String(required=True)
    data = fields.Raw(required=True, metadata={"type": "null"})


class NotFound(StrictSchema):
    """RAGFlow's 404 body, for a path no route has."""

    code = fields.Integer(required=True, validate=validate.OneOf((404,)))
    message = fields.String(required=True, metadata={
        "example": "Not Found: /api/v1/datasets/x/y"})
    data = fields.Raw(required=True, metadata={"type": "null"})
    error = fields.String(required=True, validate=validate.OneOf(("Not Found",)))


class MethodNotAllowed(StrictSchema):
    code = fields.Integer(required=True, validate=validate.OneOf((101,)))
    message = fields.String(required=True, validate=validate.OneOf(("Method Not Allowed",)))
    data = fields.Raw(required=True, metadata={"type": "null"})


class Unauthorized(StrictSchema):
    """RAGFlow's 401 body, exactly."""

    code = fields.Integer(required=True, validate=validate.OneOf((401,)))
    message = fields.String(required=True,
                            validate=validate.OneOf(("<Unauthorized '401: Unauthorized'>",)))


create_schema = CreateDatasetReq()
update_schema = UpdateDatasetReq()
delete_schema = DeleteDatasetReq()
list_schema = ListDatasetReq()
render = CurrentDataset().dump  # a write's answer: a new update_time each time, never kept
rendered = Memo(render)
