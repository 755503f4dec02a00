"""The OpenAPI description of both APIs, made from the schemas that validate and serialise."""

from importlib.metadata import version

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app

from app.openapi_documents import document_paths
from app.schemas import current, system
from app.schemas import legacy as schemas

CONTROL = r"\x00-\x1f\x7f-\x9f"  # Unicode's control characters (category Cc)
# A name that matches is accepted. JSON Schema cannot say "once trimmed", so in the strict
# rule a name with whitespace around it does not match, though the server trims and takes it.
NAME_PATTERNS = {
    "strict": f"^{schemas.STRICT_NAME.pattern}$",
    "legacy": rf"^[^{CONTROL}]*[^\s{CONTROL}][^{CONTROL}]*$",
}
# Schemas the server dumps: every field is always there, and nothing else.
DUMPED = ("CreatedEnvelope", "DatasetCreated", "ListEnvelope", "Dataset", "DeletedEnvelope")
# The current API's record: every field always there but those some answers add.
CURRENT_DUMPED = {"CurrentDataset": set(current.OPTIONAL)}
ERRORS = {  # status: (response name, description, the codes it can carry)
    400: ("BadRequest", "Malformed body or query (code 101), or a broken data rule (code 102).",
          [101, 102]),
    401: ("Unauthorized", "The API key is missing, malformed, unknown or revoked.", [109]),
    405: ("MethodNotAllowed", "The path does not take this method; `Allow` lists those it does.",
          [101]),
    413: ("PayloadTooLarge", "The body is larger than the limit (64 KiB unless configured).",
          [101]),
    414: ("URITooLong", "The request line is too long (answered by gunicorn or nginx).", [101]),
    431: ("RequestHeaderFieldsTooLarge", "A header field, or all of them, too large (answered "
          "by gunicorn or nginx).", [101]),
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
DESCRIPTION = ("RAGFlow's dataset API, both of its generations over the same datasets. The "
               "current one, /api/v1/datasets (RAGFlow v0.27), answers HTTP 200 with `code`, "
               "`message` and `data`, errors included (code 101: a malformed request; 102: a "
               "rule of the data), but for a missing or wrong key (401, RAGFlow's body) and "
               "server faults (500). The legacy one, /api/v1/dataset (June 2024, deprecated), "
               "keeps its response shapes as they were: the list call answers code 102 on "
               "success; a method that the path does not take answers 405 (see "
               "`components.responses.MethodNotAllowed`); an unknown path answers 404 with "
               "code 101. Under /api/v1/datasets, an unknown path answers HTTP 404 "
               "(`components.responses.CurrentNotFound`) and a method that the path does not "
               "take HTTP 405 (`components.responses.CurrentMethodNotAllowed`). Every "
               "response under /api/v1/dataset and /api/v1/datasets is JSON with `code` and "
               "`message`; /api/v1/system has RAGFlow's system routes, in its shapes.")
TITLE = "RAGFlow dataset API: current (v0.27) and legacy"
TAGS = [  # one per API, and one for the server's own routes; each operation has one
    {"name": "current", "description": "/api/v1/datasets: RAGFlow v0.27's dataset API, what "
                                       "ragflow-sdk and today's scripts speak."},
    {"name": "legacy", "description": "/api/v1/dataset: the June 2024 document's API, "
                                      "deprecated, kept in its shapes."},
    {"name": "server", "description": "This server: its description and its health."},
]
IDEMPOTENCY_KEY = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "A retry with the same key and body answers the dataset that the first "
                   "made, as it is now (code 102 if it was deleted since), for at least 24 "
                   "hours; the same key with another body is refused (code 101)."}


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
    spec = APISpec(TITLE, version("ragflow-dataset-api"), "3.1.0",
                   plugins=[plugin], info={"description": DESCRIPTION},
                   # Relative: the server that serves the description, behind any proxy.
                   servers=[{"url": "/", "description": "This server"}],
                   security=[{"bearer": []}])
    plugin.converter.add_attribute_function(name_property(app.config["NAME_RULE"]))
    for tag in TAGS:
        spec.tag(tag)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": BEARER})
    for status, (name, description, codes) in ERRORS.items():
        response = json_body(description, schemas.Envelope, code=codes)
        if status in HEADERS:
            response["headers"] = HEADERS[status]
        spec.components.response(name, response)

    create_body = {"allOf": [type(schemas.create_schemas[app.config["NAME_RULE"]])],
                   "oneOf": [{"required": [field]} for field in schemas.NAME_FIELDS]}
    spec.path("/api/v1/dataset", operations={
        "post": {
            "summary": "Create a dataset (legacy)",
            "operationId": "create_dataset",
            "deprecated": True,
            "tags": ["legacy"],
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": create_body}}},
            "responses": responses(
                {**json_body("Created, under the name given or the first free `name(N)`.",
                             schemas.CreatedEnvelope, code=[0], message=["success"]),
                 "links": delete_link("/data/id")},
                400, 401, 413, 414, 415, 431, 500),
        },
        "get": {
            "summary": "List the caller's datasets (legacy)",
            "operationId": "list_datasets",
            "deprecated": True,
            "tags": ["legacy"],
            "parameters": [{"in": "query", "schema": schemas.DatasetListQuery}],
            "responses": responses(
                # Legacy quirk, kept on purpose: success answers code 102.
                {**json_body("A page of the caller's datasets.", schemas.ListEnvelope,
                             code=[102], message=["attempt to list datasets"]),
                 "links": delete_link("/data/0/id")},
                400, 401, 414, 431, 500),
        },
    })
    spec.path("/api/v1/dataset/{dataset_id}", parameters=[
        {"in": "path", "name": "dataset_id", "required": True,
         "description": "The `id` that creating the dataset answered.",
         # A `/` in it, even escaped, makes a path that no route has: 404 with code 101.
         "schema": {"type": "string", "pattern": "^[^/]+$"}},
    ], operations={
        "delete": {
            "summary": "Delete a dataset (legacy)",
            "operationId": "delete_dataset",
            "deprecated": True,
            "tags": ["legacy"],
            "responses": {**responses(
                json_body("Deleted for good; its name is free again.", schemas.DeletedEnvelope,
                          code=[0], message=["Dataset deleted successfully!"], success=[True]),
                401, 414, 431, 500),
                "404": json_body("The caller has no dataset with this id.",
                                 schemas.DeletedEnvelope, code=[102],
                                 message=["Dataset not found."], success=[False])},
        },
    })
    current_paths(spec)
    system_paths(spec)
    spec.path("/api/v1/openapi.json", operations={
        "get": {
            "summary": "This description",
            "operationId": "openapi",
            "tags": ["server"],
            "security": [],
            "responses": responses(json_body("OpenAPI 3.1.", {"type": "object"}), 500),
        },
    })
    spec.path("/healthz", operations={
        "get": {
            "summary": "Whether the store is readable",
            "operationId": "healthz",
            "tags": ["server"],
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
    for name, optional in CURRENT_DUMPED.items():
        schema = document["components"]["schemas"][name]
        schema["required"] = sorted(set(schema["properties"]) - optional)
    return document


def current_paths(spec):
    """The current API's operations: 200 (code 0, 101 or 102), 401 or 500."""
    spec.components.response("CurrentUnauthorized", json_body(
        "The API key is missing, malformed, unknown or revoked (RAGFlow's body).",
        current.Unauthorized))
    spec.components.response("CurrentServerError", json_body(
        "An unexpected error, or an unreadable store; the server log says why.", current.Fault))
    spec.components.response("CurrentNotFound", json_body(
        "A path under /api/v1/datasets that no route has (RAGFlow's body); the key is not "
        "looked at.", current.NotFound))
    spec.components.response("CurrentMethodNotAllowed", {
        **json_body("A method the path does not take; `Allow` lists those it does.",
                    current.MethodNotAllowed), "headers": HEADERS[405]})

    def operation(summary, operation_id, answer, description, **more):
        return {"summary": summary, "operationId": operation_id, "tags": ["current"], **more,
                "responses": {"200": json_body(description, answer),
                              "401": "CurrentUnauthorized", "500": "CurrentServerError"}}
    # 404 and 405 belong to no operation: paths and methods outside them (see DESCRIPTION).

    def body(schema):
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    spec.path("/api/v1/datasets", operations={
        "post": operation(
            "Create a dataset", "create", current.DatasetAnswer,
            "The dataset, under the name given or the first free `name(N)`; or code 101/102.",
            parameters=[IDEMPOTENCY_KEY], requestBody=body(current.CreateDatasetReq)),
        "get": operation(
            "List the caller's datasets", "list", current.ListAnswer,
            "A page of them, and how many match in all; or code 101/102 (102: an `id` or "
            "`name` that matches nothing).",
            parameters=[{"in": "query", "schema": current.ListDatasetReq}]),
        "delete": operation(
            "Delete datasets", "delete", current.DeleteAnswer,
            "How many were deleted; or code 101/102 (102: an id not the caller's, and then "
            "none is deleted).", requestBody=body(current.DeleteDatasetReq)),
    })
    spec.path("/api/v1/datasets/{dataset_id}", parameters=[
        {"in": "path", "name": "dataset_id", "required": True, "schema": {"type": "string"},
         "description": "The dataset's `id`."},
    ], operations={
        "get": operation("Get a dataset", "get", current.DatasetAnswer,
                         "The dataset; or code 102 if the caller has none with this id."),
        "put": operation(
            "Update a dataset", "update", current.DatasetAnswer,
            "The dataset as updated; or code 101/102 (102: unknown id, a name taken, an "
            "unknown model, nothing to change).",
            requestBody=body(current.UpdateDatasetReq(exclude=("dataset_id",)))),
    })
    document_paths(spec, operation, body)


def system_paths(spec):
    """RAGFlow's system routes: ping and health need no key, the version does."""
    spec.path("/api/v1/system/ping", operations={"get": {
        "summary": "Whether the server answers", "operationId": "ping", "security": [],
        "tags": ["server"],
        "responses": {"200": {"description": "`pong`, as RAGFlow answers it.", "content": {
            "text/html": {"schema": {"type": "string", "enum": ["pong"]}}}}}}})
    spec.path("/api/v1/system/version", operations={"get": {
        "summary": "This server's version", "operationId": "version", "tags": ["server"],
        "responses": {"200": json_body("The version in `data`.", system.Version),
                      "401": "CurrentUnauthorized", "500": "CurrentServerError"}}})
    spec.path("/api/v1/system/healthz", operations={"get": {
        "summary": "Whether the store is usable, in RAGFlow's shape", "operationId":
        "system_healthz", "security": [], "tags": ["server"], "responses": {
            "200": json_body("The store can be read and written.", system.SystemHealth,
                             status=["ok"]),
            "500": json_body("The store cannot be used now (`db` and `status` are nok).",
                             system.SystemHealth, status=["nok"])}}})


def description():
    """The current app's description, built on first use."""
    extensions = current_app.extensions
    if "openapi" not in extensions:
        extensions["openapi"] = build(current_app)
    return extensions["openapi"]
