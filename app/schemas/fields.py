"""Fields that judge input as RAGFlow's pydantic models do, in pydantic v2's words."""

import uuid
from email.utils import formatdate

from marshmallow import Schema, ValidationError, fields, validate

from app.store import rules


def http_date(ms):
    return formatdate(ms / 1000, usegmt=True)


# Metadata for the OpenAPI description of the fields below.
HEX_ID = {"pattern": f"^{rules.HEX32.pattern}$", "example": "3b4d6a2e9f0c4f1e8a7b5c3d2e1f0a9b"}
EPOCH_MS = {"description": "Milliseconds since the epoch.", "example": 1718640005000}
HTTP_DATE = {"type": "string", "description": "RFC 1123, in GMT.",
             "example": "Mon, 17 Jun 2024 16:00:05 GMT"}


class DatasetFields(Schema):
    """The fields a dataset shows under the same name in both APIs."""

    avatar = fields.String(allow_none=True, metadata={"example": None})
    create_date = fields.Function(lambda ds: http_date(ds["create_time"]), metadata=HTTP_DATE)
    create_time = fields.Integer(metadata=EPOCH_MS)
    created_by = fields.String(metadata=HEX_ID)
    description = fields.String(allow_none=True, metadata={"example": None})
    id = fields.String(metadata=HEX_ID)
    language = fields.String(metadata={
        "example": "English",
        "description": "Of a dataset made here: configuration, DATASET_API_LANGUAGE."})
    name = fields.String()
    parser_config = fields.Dict(metadata={"example": {"pages": [[1, 1000000]]}})
    permission = fields.String(metadata={"example": "me"})
    similarity_threshold = fields.Float(metadata={"example": 0.2})
    status = fields.String(metadata={"example": "1"})
    tenant_id = fields.String(metadata=HEX_ID)
    token_num = fields.Integer(metadata={"example": 0})
    update_date = fields.Function(lambda ds: http_date(ds["update_time"]), metadata=HTTP_DATE)
    update_time = fields.Integer(metadata=EPOCH_MS)
    vector_similarity_weight = fields.Float(metadata={"example": 0.3})

    def get_attribute(self, obj, attr, default):
        """A record is a dict: a plain lookup."""
        return obj.get(attr, default)


def literal_message(choices):
    """pydantic's wording for a value outside a Literal."""
    quoted = [f"'{choice}'" for choice in choices]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def at_least(n):
    return validate.Range(min=n, error=f"Input should be greater than or equal to {n}")


def at_most(n):
    return validate.Range(max=n, error=f"Input should be less than or equal to {n}")


def min_length(n):
    return validate.Length(min=n, error=f"String should have at least {n} "
                                        f"character{'s' if n != 1 else ''}")


def max_length(n):
    return validate.Length(max=n, error=f"String should have at most {n} "
                                        f"character{'s' if n != 1 else ''}")


class Strict:
    """A field that stops at its first failing validator and names failures as pydantic does."""

    type_message = "Input should be a valid value"

    def __init__(self, *args, **kwargs):
        messages = {"invalid": self.type_message, "null": self.type_message,
                    "required": "Field required", **kwargs.pop("error_messages", {})}
        super().__init__(*args, error_messages=messages, **kwargs)

    def _validate(self, value):
        for validator in self.validators:
            if validator(value) is False:
                raise self.make_error("validator_failed")


class Str(Strict, fields.String):
    type_message = "Input should be a valid string"

    def __init__(self, *args, strip=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.strip = strip

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not str:
            raise self.make_error("invalid")
        return value.strip() if self.strip else value


class Choice(Str):
    """A Literal: any other value, of any type, gets the same message."""

    def __init__(self, choices, **kwargs):
        message = f"Input should be {literal_message(choices)}"
        super().__init__(validate=validate.OneOf(choices, error=message),
                         error_messages={"invalid": message, "null": message}, **kwargs)


class Int(Strict, fields.Integer):
    type_message = "Input should be a valid integer"

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not int:  # bool is not an int here, nor is 1.0
            raise self.make_error("invalid")
        return value


class Float(Strict, fields.Float):
    type_message = "Input should be a valid number"

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) not in (int, float):
            raise self.make_error("invalid")
        try:
            return float(value)
        except OverflowError:  # an integer past a float's range
            raise ValidationError("Input should be a finite number") from None


class Bool(Strict, fields.Boolean):
    type_message = "Input should be a valid boolean"

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise self.make_error("invalid")
        return value


class ListOf(Strict, fields.List):
    type_message = "Input should be a valid list"

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not list:
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Object(Strict, fields.Dict):
    type_message = "Input should be a valid dictionary"


class MapOf(Object):
    """A dict of strings to `values`, whose errors name the key alone, as pydantic's do."""

    def __init__(self, values, **kwargs):
        super().__init__(**kwargs)
        self.values_field = values

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not dict:
            raise self.make_error("invalid")
        loaded, errors = {}, {}
        for key, item in value.items():
            try:
                loaded[key] = self.values_field.deserialize(item)
            except ValidationError as err:
                errors[key] = err.messages
        if errors:
            raise ValidationError(errors)
        return loaded


class Model(Strict, fields.Nested):
    """A nested model: `{}` may stand for None, as RAGFlow's parser_config does."""

    def __init__(self, nested, empty_is_none=False, **kwargs):
        self.type_message = (f"Input should be a valid dictionary or instance of "
                             f"{nested.__name__}")
        super().__init__(nested, **kwargs)
        self.empty_is_none = empty_is_none

    def _deserialize(self, value, attr, data, **kwargs):
        if self.empty_is_none and value == {}:
            return None
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictSchema(Schema):
    """Unknown keys and non-objects refused in pydantic's words, errors in pydantic's order."""

    error_messages = {"unknown": "Extra inputs are not permitted",
                      "type": "Input should be a valid dictionary"}

    def handle_error(self, error, data, *, many, **kwargs):
        """The fields' errors in the order the fields are declared, then the unknown keys'."""
        if not isinstance(error.messages, dict):
            return
        order = {name: i for i, name in enumerate(self.load_fields)}
        ordered = sorted(error.messages.items(), key=lambda item: order.get(item[0], len(order)))
        error.messages.clear()
        error.messages.update(ordered)


def uuid_hex(value):
    """The 32 hex digits of a UUID given in any of its spellings."""
    if type(value) is str and rules.HEX32.fullmatch(value):
        return value  # already as uuid.UUID(value).hex spells it
    try:
        return uuid.UUID(value).hex
    except (AttributeError, TypeError, ValueError):
        raise ValidationError("Invalid UUID format") from None


class UUIDHex(Str):
    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not str:
            raise ValidationError("Invalid UUID format")
        return uuid_hex(value)


def cut(text, most=128):
    return text if len(text) <= most else text[:most - 3] + "..."


def problems(messages, value, path=()):
    """(path, message, input) for every message of a marshmallow error structure."""
    if isinstance(messages, str):
        yield path, messages, value
    elif isinstance(messages, list):
        for message in messages:
            yield from problems(message, value, path)
    else:
        for key, sub in messages.items():
            if key == "_schema":
                yield from problems(sub, value, path)
                continue
            try:
                inner = value[key]
            except (KeyError, IndexError, TypeError):
                inner = value  # a missing field: pydantic shows the object it is missing from
            yield from problems(sub, inner, (*path, key))


MOST_PROBLEMS = 20  # lines of a validation message; the rest are counted
MOST_TEXT = 3000  # characters of those lines


def pydantic_text(error, data):
    """RAGFlow's rendering of validation errors: one line per problem, the first 20 of them."""
    lines, size, more = [], 0, 0
    for path, message, value in problems(error.messages, data):
        line = (f"Field: <{cut('.'.join(map(str, path)))}> - Message: <{message}> - "
                f"Value: <{cut(str(value))}>")
        if more or len(lines) == MOST_PROBLEMS or size + len(line) > MOST_TEXT:
            more += 1
        else:
            lines.append(line)
            size += len(line)
    if more:
        lines.append(f"... and {more} more problem{'s' if more > 1 else ''}")
    return "\n".join(lines)


def surrogates(text):
    """Whether `text` holds a lone surrogate (which UTF-8 cannot encode)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def unstorable(value, path=()):
    """Paths of the strings in `value` that no engine can store (NUL, lone surrogates)."""
    if isinstance(value, str):
        if "\x00" in value or not value.isascii() and surrogates(value):
            yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from unstorable(key, (*path, key))
            yield from unstorable(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from unstorable(inner, (*path, index))


UNSTORABLE = "String should not contain NUL characters or unpaired surrogates"


def out_of_range(data):
    """(path, message) of each number in `data` that no engine stores, in pydantic's words."""
    for path, value in rules.out_of_range(data):
        if type(value) is float:
            yield path, "Input should be a finite number"
        elif value < 0:
            yield path, f"Input should be greater than or equal to {rules.INT64[0]}"
        else:
            yield path, f"Input should be less than or equal to {rules.INT64[1]}"


def check_storable(data):
    """Raise a ValidationError naming each string or number in `data` no store keeps."""
    errors = {}
    problems = [(path, UNSTORABLE) for path, _ in unstorable(data)] + list(out_of_range(data))
    for path, message in problems:
        node = errors
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1] if path else "_schema"] = [message]
    if errors:
        raise ValidationError(errors)

