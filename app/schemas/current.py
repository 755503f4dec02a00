"""The current API's request models, with RAGFlow's bounds and wording, and its record."""

import re

from marshmallow import ValidationError, fields, post_load, validate, validates

from app.cached import Memo
from app.schemas.parser_config import CHUNK_METHODS, ParserConfig
from app.schemas.fields import (
    Bool, Choice, DatasetFields, Int, ListOf, Model, Str, StrictSchema, UUIDHex,
    at_least, at_most, max_length, min_length, uuid_hex)

NAME_LIMIT = 128
AVATAR_TYPES = ["image/jpeg", "image/png"]


def avatar_format(value):
    if value is None:
        return
    if "," not in value:
        raise ValidationError("Missing MIME prefix. Expected format: data:<mime>;base64,<data>")
    prefix = value.split(",", 1)[0]
    if not prefix.startswith("data:"):
        raise ValidationError("Invalid MIME prefix format. Must start with 'data:'")
    if prefix[5:].split(";")[0] not in AVATAR_TYPES:
        raise ValidationError(f"Unsupported MIME type. Allowed: {AVATAR_TYPES}")


def model_format(value):
    """RAGFlow's checks of `model@provider` (and of `model@instance@provider`)."""
    if value is None:
        return
    if "@" not in value:
        raise ValidationError(
            "Embedding model identifier must follow <model_name>@<provider> format")
    parts = value.split("@")
    if len(parts) > 3 or not all(parts):
        raise ValidationError("Both model_name and provider must be non-empty strings")
    if not all(part.strip() for part in parts):
        raise ValidationError("Model name and provider cannot be whitespace-only strings")


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
    chunk_method = Choice(CHUNK_METHODS)
    parser_config = Model(ParserConfig, empty_is_none=True, allow_none=True, metadata={
        "description": "Fields left out take RAGFlow's defaults, then the chunk method's."})


class UpdateDatasetBody(CreateDatasetReq):
    name = Str(strip=True, validate=[min_length(1), max_length(NAME_LIMIT)], metadata={
        "description": "Trimmed; a name another of the caller's datasets has (any case) is "
                       "refused with code 102."})
    pagerank = Int(validate=[at_least(0), at_most(100)])
    language = Str(allow_none=True, validate=[max_length(32)])


class UpdateDatasetReq(UpdateDatasetBody):
    """The body with the id from the path, checked last, as RAGFlow does."""

    dataset_id = UUIDHex()


class DeleteDatasetReq(StrictSchema):
    ids = ListOf(Str(), allow_none=True, metadata={
        "description": "Datasets to delete, all or none; `null` or `[]` delete nothing."})
    delete_all = Bool(metadata={"description": "With no `ids`: delete every dataset."})

    @validates("ids")
    def uuids(self, ids, **kwargs):
        """RAGFlow checks the list as a whole: its errors name `ids`, not an item."""
        if ids is None:
            return
        ids = [uuid_hex(value) for value in ids]
        twice = list(dict.fromkeys(i for i in ids if ids.count(i) > 1))
        if twice:
            raise ValidationError(f"Duplicate ids: '{', '.join(twice)}'")

    @post_load
    def hex_ids(self, data, **kwargs):
        if data.get("ids"):
            data["ids"] = [uuid_hex(value) for value in data["ids"]]
        return data


INTEGER = re.compile(r"\s*[+-]?\d+\s*")


class QueryInt(Int):
    """An integer query parameter, parsed as pydantic's lax mode does."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not INTEGER.fullmatch(value):
            raise ValidationError("Input should be a valid integer, unable to parse string as "
                                  "an integer")
        return int(value)


class QueryBool(Bool):
    TRUE = {"1", "on", "t", "true", "y", "yes"}
    FALSE = {"0", "off", "f", "false", "n", "no"}

    def _deserialize(self, value, attr, data, **kwargs):
        if value.lower() in self.TRUE | self.FALSE:
            return value.lower() in self.TRUE
        raise ValidationError("Input should be a valid boolean, unable to interpret input")


class ListDatasetReq(StrictSchema):
    id = UUIDHex(metadata={"description": "Only this dataset."})
    name = Str(metadata={"description": "Only the dataset of this name (any case)."})
    page = QueryInt(load_default=1, validate=[at_least(1), at_most(1_000_000_000)])
    page_size = QueryInt(load_default=30, validate=[at_least(1), at_most(100)])
    orderby = Choice(("create_time", "update_time"), load_default="create_time")
    desc = QueryBool(load_default=True)
    include_parsing_status = QueryBool(load_default=False, metadata={
        "description": "Adds the documents' parsing counts, all 0 here."})


PARSING_COUNTS = ("unstart_count", "running_count", "cancel_count", "done_count", "fail_count")


class CurrentDataset(DatasetFields):
    """A dataset as RAGFlow v0.27 answers it."""

    chunk_count = fields.Integer(metadata={"example": 0})
    chunk_method = fields.String(metadata={"example": "naive"})
    document_count = fields.Integer(metadata={"example": 0})
    embedding_model = fields.String(allow_none=True, metadata={
        "example": "BAAI/bge-small-en-v1.5@Local@Builtin"})
    pagerank = fields.Integer(metadata={"example": 0})
    # Only with include_parsing_status=true; always 0, as there are no documents.
    unstart_count, running_count, cancel_count, done_count, fail_count = (
        fields.Integer(metadata={"description": "With include_parsing_status=true."})
        for _ in PARSING_COUNTS)


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


class Unauthorized(StrictSchema):
    """RAGFlow's 401 body, exactly."""

    code = fields.Integer(required=True, validate=validate.OneOf((401,)))
    message = fields.String(required=True,
                            validate=validate.OneOf(("<Unauthorized '401: Unauthorized'>",)))


create_schema = CreateDatasetReq()
update_schema = UpdateDatasetReq()
delete_schema = DeleteDatasetReq()
list_schema = ListDatasetReq()
rendered = Memo(CurrentDataset().dump)
