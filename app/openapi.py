"""The OpenAPI description of the API, made from the schemas that validate and serialise."""

from importlib.metadata import version

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app

from app import schemas

CONTROL = r"\x00-\x1f\x7f-\x9f"  # Unicode's control characters (category Cc)
# A name that matches is accepted. JSON Schema cannot say "once trimmed", so in the strict
# rule a name with whitespace around it does not match, though the server trims and takes it.
NAME_PATTERNS = {
    "strict": f"^{schemas.STRICT_NAME.pattern}$",
    "legacy": rf"^[^{CONTROL}]*[^\s{CONTROL}][^{CONTROL}]*$",
}
# Schemas the server dumps: every field is always there, and nothing else.
DUMPED = ("CreatedEnvelope", "DatasetCreated", "ListEnvelope", "Dataset", "DeletedEnvelope")
ERRORS = {  # status: (response name, description, the codes it can carry)
    400: ("BadRequest", "Malformed body or query (code 101), or a broken data rule (code 102).",
          [101, 102]),
    401: ("Unauthorized", "The API key is missing, malformed, unknown or revoked.", [109]),
    405: ("MethodNotAllowed", "The path does not take this method; `Allow` lists those it does.",
          [101]),
    413: ("PayloadTooLarge", "The body is larger than the limit (64 KiB unless configured).",
          [101]),
    415: ("UnsupportedMediaType", "The body is not sent as `Content-Type: application/json`.",
          [101]),
    500: ("InternalServerError", "An unexpected error, or an unreadable store; the server log "
          "says why.", [100]),
}
HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string", "enum": ["Bearer"]}}},
    405: {"Allow": {"schema": {"type": "string"}, "description": "The methods the path takes."}},
}
BEARER = ("`Authorization: Bearer <API_KEY>`; the scheme word is case-insensitive. A bare "
          "`Authorization: <API_KEY>` without the scheme word is accepted too (the legacy Python "
          "SDK sends that). Keys are issued with `ragflow-dataset-api keys create`.")
DESCRIPTION = ("RAGFlow's legacy dataset API (June 2024), with its response shapes kept as they "
               "were: the list call answers code 102 on success. Every response under /api/v1 "
               "is JSON with `code` and `message`. A method a path does not take answers 405 "
               "(see `components.responses.MethodNotAllowed`); an unknown path answers 404 with "
               "code 101.")


def json_body(description, schema, **pinned):
    """A JSON response of `schema`, each field in `pinned` held to the values listed."""
    if pinned:
        schema = {"allOf": [schema, {"properties": {k: {"enum": v} for k, v in pinned.items()}}]}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def delete_link(pointer):
    """A link to deleting the dataset whose id is at `pointer` in a response body."""
    return {"DeleteDataset": {"operationId": "delete_dataset",
                              "parameters": {"dataset_id": f"$response.body#{pointer}"}}}


def responses(ok, *errors):
    """The 200 response `ok`, and the shared error responses of the statuses `errors`."""
    return {"200": ok, **{str(status): ERRORS[status][0] for status in errors}}


def name_property(rule):
    """An apispec attribute function describing DatasetName under the name rule `rule`."""

    def dataset_name2properties(self, field, **kwargs):
        if not isinstance(field, schemas.DatasetName):
            return {}
        return {"minLength": 1, "maxLength": schemas.MAX_NAME_LENGTH,
                "pattern": NAME_PATTERNS[rule]}

    return dataset_name2properties


def build(app):
    """The description of `app`'s API, as a dict ready to serve."""
    plugin = MarshmallowPlugin()
    spec = APISpec("RAGFlow legacy dataset API", version("ragflow-dataset-api"), "3.1.0",
                   plugins=[plugin], info={"description": DESCRIPTION},
                   # Relative: the server that serves the description, behind any proxy.
                   servers=[{"url": "/", "description": "This server"}],
                   security=[{"bearer": []}])
    plugin.converter.add_attribute_function(name_property(app.config["NAME_RULE"]))
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": BEARER})
    for status, (name, description, codes) in ERRORS.items():
        response = json_body(description, schemas.Envelope, code=codes)
        if status in HEADERS:
            response["headers"] = HEADERS[status]
        spec.components.response(name, response)

    create_body = {"allOf": [schemas.DatasetCreate],
                   "oneOf": [{"required": [field]} for field in schemas.NAME_FIELDS]}
    spec.path("/api/v1/dataset", operations={
        "post": {
            "summary": "Create a dataset",
            "operationId": "create_dataset",
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": create_body}}},
            "responses": responses(
                {**json_body("Created, under the name given or the first free `name(N)`.",
                             schemas.CreatedEnvelope, code=[0], message=["success"]),
                 "links": delete_link("/data/id")},
                400, 401, 413, 415, 500),
        },
        "get": {
            "summary": "List the caller's datasets",
            "operationId": "list_datasets",
            "parameters": [{"in": "query", "schema": schemas.DatasetListQuery}],
            "responses": responses(
                # Legacy quirk, kept on purpose: success answers code 102.
                {**json_body("A page of the caller's datasets.", schemas.ListEnvelope,
                             code=[102], message=["attempt to list datasets"]),
                 "links": delete_link("/data/0/id")},
                400, 401, 500),
        },
    })
    spec.path("/api/v1/dataset/{dataset_id}", parameters=[
        {"in": "path", "name": "dataset_id", "required": True,
         "description": "The `id` that creating the dataset answered.",
         # A `/` in it, even escaped, makes a path that no route has: 404 with code 101.
         "schema": {"type": "string", "pattern": "^[^/]+$"}},
    ], operations={
        "delete": {
            "summary": "Delete a dataset",
            "operationId": "delete_dataset",
            "responses": {**responses(
                json_body("Deleted for good; its name is free again.", schemas.DeletedEnvelope,
                          code=[0], message=["Dataset deleted successfully!"], success=[True]),
                401, 500),
                "404": json_body("The caller has no dataset with this id.",
                                 schemas.DeletedEnvelope, code=[102],
                                 message=["Dataset not found."], success=[False])},
        },
    })
    spec.path("/api/v1/openapi.json", operations={
        "get": {
            "summary": "This description",
            "operationId": "openapi",
            "security": [],
            "responses": responses(json_body("OpenAPI 3.1.", {"type": "object"}), 500),
        },
    })
    spec.path("/healthz", operations={
        "get": {
            "summary": "Whether the store is readable",
            "operationId": "healthz",
            "security": [],
            "responses": {**responses(
                json_body("The store is readable.", schemas.Health, status=["ok"]), 500),
                "503": json_body("The store cannot be read.", schemas.Health,
                                 status=["unavailable"])},
        },
    })

    document = spec.to_dict()
    for name in DUMPED:
        schema = document["components"]["schemas"][name]
        schema["required"] = sorted(schema["properties"])
    return document


def description():
    """The current app's description, built on first use."""
    extensions = current_app.extensions
    if "openapi" not in extensions:
        extensions["openapi"] = build(current_app)
    return extensions["openapi"]
