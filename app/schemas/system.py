"""The answers of RAGFlow's system routes (/api/v1/system): their views build them, these
describe them."""

from marshmallow import Schema, fields, validate

STATES = validate.OneOf(("ok", "nok"))


class Version(Schema):
    code = fields.Integer(required=True, validate=validate.OneOf((0,)))
    message = fields.String(required=True, validate=validate.OneOf(("success",)))
    data = fields.String(required=True, metadata={"description": "This server's version."})


class Problem(Schema):
    elapsed = fields.String(required=True, metadata={"description": "Milliseconds, as text."})
    error = fields.String(required=True, metadata={"description": "A generic reason; the "
                                                                  "log says more."})


class Problems(Schema):
    db = fields.Nested(Problem, required=True)


class SystemHealth(Schema):
    """RAGFlow's health answer; the store is its `db`, and the rest is always "ok" here."""

    db = fields.String(required=True, validate=STATES)
    redis = fields.String(required=True, validate=STATES)
    doc_engine = fields.String(required=True, validate=STATES)
    storage = fields.String(required=True, validate=STATES)
    status = fields.String(required=True, validate=STATES)
    meta = fields.Nested(Problems, data_key="_meta")
