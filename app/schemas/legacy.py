"""The legacy API's schemas (June 2024, /api/v1/dataset): requests and response shapes."""

import re
import unicodedata

from marshmallow import (EXCLUDE, Schema, ValidationError, fields, missing, post_load, pre_load,
                         validate)

from app.cached import Memo
from app.schemas.fields import HEX_ID, DatasetFields

EMPTY_NAME = "Empty dataset name"
MAX_NAME_LENGTH = 1023  # the document: "less than 2 ** 10 characters"
STRICT_NAME = re.compile(r"[A-Za-z0-9_\-.]+")
NAME_FIELDS = ("name", "dataset_name")
NAME_DESCRIPTION = ("Trimmed of surrounding whitespace, then checked; the characters allowed "
                    "are set by DATASET_API_NAME_RULE. Unique per tenant, case-insensitively: "
                    "a taken name becomes `name(1)`, `name(2)`...")


# Characters that show as nothing, or as a plain space, yet make a name another: legacy-rule
# names must not hold them, so two names that look alike are alike.
INVISIBLE_CATEGORIES = {"Cf", "Co", "Cn", "Zl", "Zp", "Zs"}  # format, private, unassigned, spaces
BLANKS = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0}  # fillers, CGJ, braille


def invisible(char):
    code = ord(char)
    return (char != " " and unicodedata.category(char) in INVISIBLE_CATEGORIES
            or code in BLANKS or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF)


class DatasetName(fields.String):
    """A dataset name: trimmed, non-empty, short enough, of the characters `rule` allows."""

    default_error_messages = {
        "null": EMPTY_NAME,
        "invalid": "Dataset name must be a string.",
    }

    def __init__(self, rule, **kwargs):
        super().__init__(**kwargs)
        self.rule = rule

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
        if self.rule == "strict":
            if not STRICT_NAME.fullmatch(name):
                raise ValidationError(
                    "Dataset name may only contain A-Z, a-z, 0-9, '_', '-' and '.'.")
        elif any(unicodedata.category(char) == "Cc" for char in name):
            raise ValidationError("Dataset name must not contain control characters.")
        # A lone "\ud800" escape in the JSON: no UTF-8 file can store it.
        elif any(unicodedata.category(char) == "Cs" for char in name):
            raise ValidationError("Dataset name must not contain unpaired surrogates.")
        elif any(map(invisible, name)):
            raise ValidationError("Dataset name must not contain invisible or format characters "
                                  "(zero-width, direction marks, byte-order marks, spaces "
                                  "other than U+0020, blank fillers).")
        return name


def create_schema(rule):
    """The body of POST /dataset, `name` or `dataset_name` by `rule`; it loads as the name."""

    class DatasetCreate(Schema):
        name = DatasetName(rule, metadata={"description": NAME_DESCRIPTION})
        dataset_name = DatasetName(rule, metadata={
            "description": "The same as `name`: give one of them."})

        @pre_load
        def one_name_field(self, data, **kwargs):
            unknown = [key for key in data if key not in NAME_FIELDS]
            if unknown:
                raise ValidationError(f"fields: {unknown}, are not allowed in request body.")
            if not any(key in data for key in NAME_FIELDS):
                raise ValidationError("Expected 'name' field in request body")
            return data

        @post_load
        def the_name(self, data, **kwargs):
            return next(iter(data.values()))

    return DatasetCreate()


class QuerySchema(Schema):
    """Query parameters: unknown ones are ignored."""

    class Meta:
        unknown = EXCLUDE


class CaseInsensitive(fields.String):
    """A string field whose value is lower-cased before validation."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).lower()


class DatasetListQuery(QuerySchema):
    offset = fields.Integer(
        metadata={"description": "How many datasets to skip; past the end gives an empty list."},
        load_default=0, validate=validate.Range(min=0, error="Offset is out of the valid range."),
        error_messages={"invalid": "Offset must be an integer."})
    count = fields.Integer(
        metadata={"description": "How many datasets to list at most; -1 lists all."},
        load_default=-1, validate=validate.Range(min=-1, error="Count must be -1 (all) or more."),
        error_messages={"invalid": "Count must be an integer."})
    orderby = CaseInsensitive(
        metadata={"description": "Sort key, case-insensitive; ties keep creation order."},
        load_default="create_time",
        validate=validate.OneOf(("create_time", "update_time", "name"),
                                error="Orderby must be one of create_time, update_time, name."))
    # Legacy bug not copied: the old server read the string "False" as true.
    desc = fields.Boolean(
        metadata={"description": "Newest (or last) first: true, false, 1 or 0, case-insensitive."},
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


class Dataset(DatasetFields):
    """A dataset as the legacy document lists it, some fields under their legacy names."""

    chunk_num = fields.Integer(attribute="chunk_count", metadata={"example": 0})
    doc_num = fields.Integer(attribute="document_count", metadata={"example": 0})
    embd_id = fields.String(attribute="embedding_model", allow_none=True, metadata={
        "example": "BAAI/bge-large-zh-v1.5",
        "description": "Of a dataset made here: configuration, DATASET_API_EMBD_ID."})
    parser_id = fields.String(attribute="chunk_method", metadata={"example": "naive"})


class DatasetCreated(Schema):
    # `dataset_name` is the document's; `id` is what its note says to save; `dataset_id` is
    # the next revision's name for it. All three stay so clients of either revision work.
    dataset_id = Alias("id", metadata=HEX_ID)
    dataset_name = Alias("name", metadata={"description": "The name given, or `name(N)`."})
    id = fields.String(metadata=HEX_ID)


class Envelope(Schema):
    code = fields.Integer(required=True)
    message = fields.String(required=True)


class CreatedEnvelope(Envelope):
    data = fields.Nested(DatasetCreated)


class ListEnvelope(Envelope):
    data = fields.List(fields.Nested(Dataset))


class DeletedEnvelope(Envelope):
    success = fields.Boolean()


class Health(Schema):
    """The answer of GET /healthz; its view builds it, this describes it."""

    status = fields.String(required=True, validate=validate.OneOf(("ok", "unavailable")))
    reason = fields.String(metadata={"description": "A generic reason; the log says more."})


create_schemas = {rule: create_schema(rule) for rule in ("strict", "legacy")}
list_query_schema = DatasetListQuery()
created_schema = CreatedEnvelope()
dataset_schema = Dataset()
rendered = Memo(dataset_schema.dump)
deleted_schema = DeletedEnvelope()
