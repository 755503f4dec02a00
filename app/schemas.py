"""Marshmallow schemas: request validation and the legacy response shapes."""

import re
import unicodedata

from email.utils import formatdate
from flask import current_app
from marshmallow import EXCLUDE, missing, Schema, ValidationError, fields, post_load, pre_load, validate

from app.errors import ARGUMENT_ERROR, ApiError, first_message

EMPTY_NAME = "Empty dataset name"
MAX_NAME_LENGTH = 1023  # the document: "less than 2 ** 10 characters"
STRICT_NAME = re.compile(r"[A-Za-z0-9_\-.]+")
NAME_FIELDS = ("name", "dataset_name")


class DatasetName(fields.String):
    """A dataset name: trimmed, non-empty, short enough, and of the allowed characters."""

    default_error_messages = {
        "null": EMPTY_NAME,
        "invalid": "Dataset name must be a string.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if value == "":
            raise ValidationError(EMPTY_NAME)
        # Legacy: the name is trimmed of surrounding whitespace before any other rule.
        name = super()._deserialize(value, attr, data, **kwargs).strip()
        if not name:
            raise ValidationError(EMPTY_NAME)
        if len(name) > MAX_NAME_LENGTH:
            raise ValidationError(
                f"Dataset name: {name} with length {len(name)} exceeds {MAX_NAME_LENGTH}!")
        if current_app.config["NAME_RULE"] == "strict":
            if not STRICT_NAME.fullmatch(name):
                raise ValidationError(
                    "Dataset name may only contain A-Z, a-z, 0-9, '_', '-' and '.'.")
        elif any(unicodedata.category(char) == "Cc" for char in name):
            raise ValidationError("Dataset name must not contain control characters.")
        return name


class DatasetCreate(Schema):
    """The body of POST /dataset: exactly one of `name` (the SDK's) or `dataset_name`."""

    name = DatasetName()
    dataset_name = DatasetName()

    @pre_load
    def one_name_field(self, data, **kwargs):
        if not isinstance(data, dict):
            raise ApiError(400, ARGUMENT_ERROR, "Request body must be a JSON object.")
        unknown = [key for key in data if key not in NAME_FIELDS]
        if unknown:
            raise ValidationError(f"fields: {unknown}, are not allowed in request body.")
        if all(key in data for key in NAME_FIELDS):
            raise ApiError(400, ARGUMENT_ERROR, "Give either 'name' or 'dataset_name', not both.")
        if not any(key in data for key in NAME_FIELDS):
            raise ValidationError("Expected 'name' field in request body")
        return data

    @post_load
    def the_name(self, data, **kwargs):
        return next(iter(data.values()))


class QuerySchema(Schema):
    """Query parameters: unknown ones are ignored, bad ones answer code 101."""

    class Meta:
        unknown = EXCLUDE

    def handle_error(self, error, data, **kwargs):
        raise ApiError(400, ARGUMENT_ERROR, first_message(error.messages))


class CaseInsensitive(fields.String):
    """A string field whose value is lower-cased before validation."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).lower()


class DatasetListQuery(QuerySchema):
    offset = fields.Integer(
        load_default=0, validate=validate.Range(min=0, error="Offset is out of the valid range."),
        error_messages={"invalid": "Offset must be an integer."})
    count = fields.Integer(
        load_default=-1, validate=validate.Range(min=-1, error="Count must be -1 (all) or more."),
        error_messages={"invalid": "Count must be an integer."})
    orderby = CaseInsensitive(
        load_default="create_time",
        validate=validate.OneOf(("create_time", "update_time", "name"),
                                error="Orderby must be one of create_time, update_time, name."))
    # Legacy bug not copied: the old server read the string "False" as true.
    desc = fields.Boolean(
        load_default=True, truthy={"true", "1"}, falsy={"false", "0"},
        error_messages={"invalid": "Desc must be true, false, 1 or 0."})

    @pre_load
    def lower_desc(self, data, **kwargs):
        if isinstance(data.get("desc"), str):
            data = {**data, "desc": data["desc"].lower()}
        return data


class Alias(fields.String):
    """A string repeating another attribute under a second name (legacy shapes do)."""

    def __init__(self, of, **kwargs):
        super().__init__(dump_only=True, **kwargs)
        self.of = of

    def get_value(self, obj, attr, accessor=None, default=missing):
        return super().get_value(obj, self.of, accessor, default)


def http_date(ms):
    return formatdate(ms / 1000, usegmt=True)


class Dataset(Schema):
    """A dataset as the document lists it: what the store keeps, plus constant fields."""

    avatar = fields.Constant(None)
    chunk_num = fields.Constant(0)
    create_date = fields.Function(lambda ds: http_date(ds["create_time"]))
    create_time = fields.Integer()
    created_by = Alias("tenant_id")
    description = fields.Constant(None)
    doc_num = fields.Constant(0)
    embd_id = fields.Function(lambda ds: current_app.config["EMBD_ID"])
    id = fields.String()
    language = fields.Function(lambda ds: current_app.config["LANGUAGE"])
    name = fields.String()
    parser_config = fields.Constant({"pages": [[1, 1000000]]})
    parser_id = fields.Constant("naive")
    permission = fields.Constant("me")
    similarity_threshold = fields.Constant(0.2)
    status = fields.Constant("1")
    tenant_id = fields.String()
    token_num = fields.Constant(0)
    update_date = fields.Function(lambda ds: http_date(ds["update_time"]))
    update_time = fields.Integer()
    vector_similarity_weight = fields.Constant(0.3)


class DatasetCreated(Schema):
    # `dataset_name` is the document's; `id` is what its note says to save; `dataset_id` is
    # the next revision's name for it. All three stay so clients of either revision work.
    dataset_id = Alias("id")
    dataset_name = Alias("name")
    id = fields.String()


class Envelope(Schema):
    code = fields.Integer(required=True)
    message = fields.String(required=True)


class CreatedEnvelope(Envelope):
    data = fields.Nested(DatasetCreated)


class ListEnvelope(Envelope):
    data = fields.List(fields.Nested(Dataset))


class DeletedEnvelope(Envelope):
    success = fields.Boolean()


create_schema = DatasetCreate()
list_query_schema = DatasetListQuery()
created_schema = CreatedEnvelope()
dataset_schema = Dataset()
deleted_schema = DeletedEnvelope()
