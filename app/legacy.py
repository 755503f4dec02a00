"""The legacy dataset API (/api/v1/dataset) and the OpenAPI description."""

from flask import Blueprint, current_app, g, request

from marshmallow import ValidationError

from app import auth, creating, openapi
from app.errors import ARGUMENT_ERROR, DATA_ERROR, SUCCESS, ApiError, first_message
from app.cached import Pages, per_query_string
from app.schemas.legacy import (created_schema, create_schemas, deleted_schema,
                                list_query_schema, rendered)
from app.store import NotFound, get_store

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.before_request(auth.authenticate)


def json_body():
    """The request body, parsed: 415 if it is not sent as JSON, 400 if it does not parse."""
    if not request.is_json:
        raise ApiError(415, ARGUMENT_ERROR,
                       "Request body must be JSON, sent as Content-Type: application/json.")
    try:
        return current_app.json.loads(request.get_data())
    except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
        raise ApiError(400, ARGUMENT_ERROR, "Request body is not valid JSON.") from None


def argument_error(message):
    return ApiError(400, ARGUMENT_ERROR, message)


def name_of(body):
    """The name a create's body gives, or 101 for a body of the wrong shape."""
    if not isinstance(body, dict):
        raise argument_error("Request body must be a JSON object.")
    if body.keys() == {"name", "dataset_name"}:  # unknown fields are reported first
        raise argument_error("Give either 'name' or 'dataset_name', not both.")
    try:
        return create_schemas[current_app.config["NAME_RULE"]].load(body)
    except ValidationError as err:
        raise ApiError(400, DATA_ERROR, first_message(err.messages)) from None


@bp.post("/dataset")
def create_dataset():
    name = name_of(json_body())
    record = creating.create("legacy", creating.legacy_fields(name, current_app.config), name)
    return created_schema.dump({"code": SUCCESS, "data": record, "message": "success"})


def load_query():
    try:
        return list_query_schema.load(request.args)
    except ValidationError as err:
        raise argument_error(first_message(err.messages)) from None


list_query = per_query_string(load_query)


pages = Pages()


@bp.get("/dataset")
def list_datasets():
    query = list_query()
    data, _ = pages(get_store(), g.tenant_id, request.query_string, lambda: page(query))
    # Legacy quirk, kept on purpose: the document answers a successful list with
    # code 102 (DATA_ERROR), and existing clients check for it.
    return {"code": DATA_ERROR, "data": list(data), "message": "attempt to list datasets"}


def page(query):
    """(the rendered records, None) of a list's `query`."""
    most, count = current_app.config["LIST_LIMIT"], query["count"]
    records, _ = get_store().list_datasets(
        g.tenant_id, orderby=query["orderby"], desc=query["desc"], offset=query["offset"],
        limit=most + 1 if count == -1 or count > most else count)
    if len(records) > most:  # never a silently shortened list
        raise ApiError(400, ARGUMENT_ERROR, f"A list answers at most {most} datasets and this "
                                            f"one would answer more; page with offset and "
                                            f"count (count={most} or less).")
    return tuple(rendered.each(records)), None


@bp.delete("/dataset/<dataset_id>")
def delete_dataset(dataset_id):
    try:
        get_store().delete_datasets(g.tenant_id, [dataset_id])
    except NotFound:
        raise ApiError(404, DATA_ERROR, "Dataset not found.", success=False) from None
    return deleted_schema.dump({"code": SUCCESS, "message": "Dataset deleted successfully!",
                                "success": True})


@bp.get("/openapi.json")
def openapi_json():
    """The OpenAPI description of this API; needs no key."""
    return openapi.description()


def init_app(app):
    app.register_blueprint(bp)
