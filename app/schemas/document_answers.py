"""The current API's answers about documents and chunks, for the OpenAPI description."""

from marshmallow import fields, validate

from app.schemas.fields import HEX_ID, StrictSchema
from app.schemas.documents import METHODS, UPLOADED
from app.store import documents as docs


class Document(StrictSchema):
    """A document as a list answers it (an upload answers UPLOADED of these fields; an update
    all but `pipeline_name`, `nickname` and `meta_fields`)."""

    id = fields.String(metadata=HEX_ID)
    name = fields.String()
    dataset_id = fields.String(metadata=HEX_ID)
    created_by = fields.String(metadata=HEX_ID)
    chunk_method = fields.String(metadata={"enum": [*METHODS, "resume", "audio"]})
    pipeline_id = fields.String(allow_none=True)
    parser_config = fields.Dict()
    source_type = fields.String(metadata={"example": "local"})
    type = fields.String(metadata={"enum": ["pdf", "doc", "visual", "aural", "virtual"]})
    suffix = fields.String(metadata={"example": "txt"})
    location = fields.String(metadata={"description": "The name of its bytes in the store."})
    size = fields.Integer(metadata={"description": "Bytes."})
    thumbnail = fields.String()
    run = fields.String(metadata={"enum": list(docs.RUN_NAMES.values())})
    status = fields.String(metadata={"enum": ["0", "1"], "description": "1: enabled."})
    progress = fields.Float(metadata={"description": "0 to 1; -1 when it failed."})
    progress_msg = fields.String(metadata={"description": "The parse's lines, one per step."})
    process_begin_at = fields.String(allow_none=True, metadata={"description": "RFC 1123."})
    process_duration = fields.Float(metadata={"description": "Seconds."})
    chunk_count = fields.Integer()
    token_count = fields.Integer(metadata={"description": "cl100k_base tokens of its chunks."})
    create_time = fields.Integer()
    create_date = fields.String()
    update_time = fields.Integer()
    update_date = fields.String()
    pipeline_name = fields.String(allow_none=True)
    nickname = fields.String(allow_none=True)
    meta_fields = fields.Dict()


class Chunk(StrictSchema):
    id = fields.String()
    content = fields.String()
    document_id = fields.String(metadata=HEX_ID)
    docnm_kwd = fields.String(metadata={"description": "The document's name."})
    dataset_id = fields.String(metadata=HEX_ID)
    important_keywords = fields.List(fields.String())
    tag_kwd = fields.List(fields.String())
    questions = fields.List(fields.String())
    image_id = fields.String()
    doc_type_kwd = fields.String()
    available = fields.Boolean()
    positions = fields.List(fields.List(fields.Integer()))


class Answer(StrictSchema):
    code = fields.Integer(required=True, validate=validate.OneOf((0, 101, 102, 500)), metadata={
        "description": "0: success; 101: a malformed request; 102: a rule of the data (not "
                       "found or not yours, a name taken, a state); 500: an upload's files "
                       "refused (each named in `message`)."})
    message = fields.String(required=True)
    data = fields.Raw(required=True, allow_none=True, metadata={"description": "null."})


class Page(StrictSchema):
    total = fields.Integer(required=True, metadata={"description": "Every match."})
    docs = fields.List(fields.Nested(Document), required=True)


class ChunkPage(StrictSchema):
    total = fields.Integer(required=True)
    chunks = fields.List(fields.Nested(Chunk), required=True)
    doc = fields.Nested(Document, required=True)


class Deleted(StrictSchema):
    deleted = fields.Integer(required=True)


def answer(data, name):
    """An Answer whose `data` is `data` (null on errors)."""
    return type(name, (Answer,), {"data": data})


UploadAnswer = answer(fields.Raw(required=True, allow_none=True, metadata={
    "description": f"A list of documents ({', '.join(UPLOADED)}); with `type=empty`, one "
                   f"document."}), "UploadAnswer")
DocumentPageAnswer = answer(fields.Nested(Page, required=True, allow_none=True),
                            "DocumentPageAnswer")
DocumentAnswer = answer(fields.Nested(Document, required=True, allow_none=True),
                        "DocumentAnswer")
DeletedAnswer = answer(fields.Nested(Deleted, required=True, allow_none=True), "DeletedAnswer")
ChunkPageAnswer = answer(fields.Nested(ChunkPage, required=True, allow_none=True),
                         "ChunkPageAnswer")
DoneAnswer = answer(fields.Raw(required=True, allow_none=True, metadata={
    "description": "null; `{success_count, errors}` when ids were named twice; "
                   "`{error_code}` beside a refused stop; a chunk under its index's names; "
                   "`true` for a switch."}), "DoneAnswer")
