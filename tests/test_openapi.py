"""GET /api/v1/openapi.json: a valid OpenAPI 3 description of every route and answer."""

import json
import re
from urllib.parse import urljoin

import psycopg
import pytest
import schemathesis
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from app import create_app
from app.schemas.legacy import list_query_schema
from harness import pgserver

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
DATASET, ONE_DATASET = "/api/v1/dataset", "/api/v1/dataset/{dataset_id}"
DATASETS, A_DATASET = "/api/v1/datasets", "/api/v1/datasets/{dataset_id}"
CURRENT = {"200", "401", "500"}  # errors are 200 with code 101/102 in the current API
PING, VERSION, HEALTHZ = (f"/api/v1/system/{name}" for name in ("ping", "version", "healthz"))


def description(client):
    response = client.get("/api/v1/openapi.json")  # no key
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.json


def documented(client):
    """{path: {METHOD: {status, ...}}} as the description has them."""
    return {path: {m.upper(): set(item[m]["responses"]) for m in item.keys() & METHODS}
            for path, item in description(client)["paths"].items()}


@pytest.mark.parametrize("rule", ["strict", "legacy"])
def test_valid_openapi_3(config, rule):
    validate(description(create_app({**config, "NAME_RULE": rule}).test_client()))


def test_invalid_description_is_caught(client):
    broken = description(client)
    broken["paths"][DATASET]["get"]["responses"]["200"].pop("description")
    with pytest.raises(OpenAPIValidationError, match='"description" is a required property'):
        validate(broken)


def test_every_route_with_all_its_methods(app, client):
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static" and not rule.endpoint.startswith("docs."):  # not the API
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            # Flask answers HEAD on every GET route by itself (automatic OPTIONS is off).
            routes.setdefault(path, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    assert {path: set(methods) for path, methods in documented(client).items()} == routes


DOCUMENTS, CHUNKS = A_DATASET + "/documents", A_DATASET + "/documents/{document_id}/chunks"
DOCUMENT_ROUTES = {path: dict.fromkeys(methods, CURRENT) for path, methods in {
    DOCUMENTS: ("POST", "GET", "DELETE"),
    DOCUMENTS + "/{document_id}": ("GET", "PATCH", "PUT"),
    A_DATASET + "/chunks": ("POST", "DELETE"),
    DOCUMENTS + "/parse": ("POST",), DOCUMENTS + "/stop": ("POST",),
    CHUNKS: ("GET", "POST", "DELETE", "PATCH"),
    CHUNKS + "/{chunk_id}": ("GET", "PATCH", "PUT"),
}.items()}


def test_every_status_the_contract_gives(client):
    assert documented(client) == {
        # 414 and 431: gunicorn's and nginx's answers, in the legacy envelope
        DATASET: {"POST": {"200", "400", "401", "413", "414", "415", "431", "500"},
                  "GET": {"200", "400", "401", "414", "431", "500"}},
        ONE_DATASET: {"DELETE": {"200", "401", "404", "414", "431", "500"}},
        DATASETS: {"POST": CURRENT, "GET": CURRENT, "DELETE": CURRENT},
        A_DATASET: {"GET": CURRENT, "PUT": CURRENT},
        "/api/v1/openapi.json": {"GET": {"200", "500"}},
        "/healthz": {"GET": {"200", "500", "503"}},
        PING: {"GET": {"200"}}, VERSION: {"GET": CURRENT}, HEALTHZ: {"GET": {"200", "500"}},
        **DOCUMENT_ROUTES,
    }
    assert {"MethodNotAllowed", "CurrentNotFound", "CurrentMethodNotAllowed"} <= \
        description(client)["components"]["responses"].keys()


def test_key_needed_exactly_where_described(client):
    """Operations described without security answer without a key; the others answer 401."""
    doc = description(client)
    assert doc["security"] == [{"bearer": []}]
    scheme = doc["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "without the scheme word is accepted" in scheme["description"]
    for path, item in doc["paths"].items():
        for method in item.keys() & METHODS:
            response = client.open(path.replace("{dataset_id}", "0" * 32), method=method)
            assert (response.status_code == 401) == (item[method].get("security") != []), path


def test_list_parameters_come_from_the_query_schema(client):
    parameters = description(client)["paths"][DATASET]["get"]["parameters"]
    assert [p["name"] for p in parameters] == list(list_query_schema.fields)
    assert all(p["in"] == "query" and not p["required"] for p in parameters)


@pytest.mark.parametrize("rule, accepted, rejected", [
    ("strict", ["kb-1.2_x"], ["My Dataset", "kb!", ""]),
    ("legacy", ["My Dataset", "名前 (1)"], ["a\tb", " ", ""]),
])
def test_name_pattern_follows_the_name_rule(config, rule, accepted, rejected):
    doc = description(create_app({**config, "NAME_RULE": rule}).test_client())
    name = doc["components"]["schemas"]["DatasetCreate"]["properties"]["name"]
    assert name["maxLength"] == 1023
    assert [bool(re.search(name["pattern"], n)) for n in accepted + rejected] == \
        [True] * len(accepted) + [False] * len(rejected)


def test_records_have_exactly_the_described_fields(api, client):
    api.create("kb")
    record = api.list().json["data"][0]
    schema = description(client)["components"]["schemas"]["Dataset"]
    assert len(record) == 21
    assert set(schema["properties"]) == set(schema["required"]) == set(record)
    assert schema["additionalProperties"] is False


def damage(api):
    """Make the store unreadable: a torn file, or the database's tables gone."""
    config = api.client.application.config
    if config["DATABASE_URL"]:
        with psycopg.connect(config["DATABASE_URL"], autocommit=True) as conn:
            pgserver.drop_store(conn)
    else:
        with open(config["DB_PATH"], "w") as file:
            file.write("{")


ANSWERS = {  # what the contract shows, as (method, path, status, how to get it)
    "created": ("POST", DATASET, 200, lambda api: api.create("kb")),
    "renamed": ("POST", DATASET, 200, lambda api: [api.create("kb"), api.create("KB")][1]),
    "bad name": ("POST", DATASET, 400, lambda api: api.create("a b")),
    "not an object": ("POST", DATASET, 400, lambda api: api.client.post(
        DATASET, json=[], headers=api.headers)),
    "not json": ("POST", DATASET, 415, lambda api: api.client.post(
        DATASET, data="kb", headers=api.headers)),
    "too large": ("POST", DATASET, 413, lambda api: api.create("a" * 70_000)),
    "listed": ("GET", DATASET, 200, lambda api: [api.create("kb"), api.list()][1]),
    "bad query": ("GET", DATASET, 400, lambda api: api.list(offset=-1)),
    "no key": ("GET", DATASET, 401, lambda api: api.client.get(DATASET)),
    "bad key": ("GET", DATASET, 401, lambda api: api.client.get(
        DATASET, headers={"Authorization": "Bearer ragflow-nope"})),
    "store unreadable": ("GET", DATASET, 500, lambda api: [damage(api), api.list()][1]),
    "deleted": ("DELETE", ONE_DATASET, 200, lambda api: api.delete(
        api.create("kb").json["data"]["id"])),
    "not found": ("DELETE", ONE_DATASET, 404, lambda api: api.delete("0" * 32)),
    "healthy": ("GET", "/healthz", 200, lambda api: api.client.get("/healthz")),
    # A request that fails first: a store that has just been written to is taken as sound.
    "unhealthy": ("GET", "/healthz", 503, lambda api: [damage(api), api.list(),
                                                       api.client.get("/healthz")][2]),
}




@pytest.mark.parametrize("change", [
    {"code": 0},  # the list's legacy success code is 102
    {"data": [{"name": "kb"}]},  # a record has all 21 fields
    {"extra": 1},
])
def test_wrong_answers_do_not_conform(api, client, change):
    operation = schemathesis.openapi.from_dict(description(client))[DATASET]["GET"]
    api.create("kb")
    response = api.list()
    response.set_data(json.dumps({**response.json, **change}))
    assert not operation.is_valid_response(response)


CURRENT_ANSWERS = {  # the current API's answers, as (method, path, status, how to get it)
    "created": ("POST", DATASETS, 200, lambda c: c.create("kb", chunk_method="qa")),
    "refused": ("POST", DATASETS, 200, lambda c: c.create("")),
    "not json": ("POST", DATASETS, 200, lambda c: c.client.post(
        DATASETS, data="kb", headers=c.headers)),
    "listed": ("GET", DATASETS, 200, lambda c: [c.made("kb"), c.list()][1]),
    "with counts": ("GET", DATASETS, 200, lambda c: [c.made("kb"), c.list(
        include_parsing_status="true")][1]),
    "filter unmatched": ("GET", DATASETS, 200, lambda c: c.list(name="nope")),
    "no key": ("GET", DATASETS, 401, lambda c: c.client.get(DATASETS)),
    "store unreadable": ("GET", DATASETS, 500, lambda c: [damage(c), c.list()][1]),
    "deleted": ("DELETE", DATASETS, 200, lambda c: c.delete(ids=[c.made("kb")["id"]])),
    "delete refused": ("DELETE", DATASETS, 200, lambda c: c.delete(ids=["0" * 32])),
    "got": ("GET", A_DATASET, 200, lambda c: c.get(c.made("kb")["id"])),
    "not found": ("GET", A_DATASET, 200, lambda c: c.get("0" * 32)),
    "updated": ("PUT", A_DATASET, 200, lambda c: c.update(c.made("kb")["id"], pagerank=3)),
    "name taken": ("PUT", A_DATASET, 200, lambda c: c.update(
        [c.made("a"), c.made("b")][1]["id"], name="A")),
    "pong": ("GET", PING, 200, lambda c: c.client.get(PING)),
    "version": ("GET", VERSION, 200, lambda c: c.client.get(VERSION, headers=c.headers)),
    "version without key": ("GET", VERSION, 401, lambda c: c.client.get(VERSION)),
    "system healthy": ("GET", HEALTHZ, 200, lambda c: c.client.get(HEALTHZ)),
    "system unhealthy": ("GET", HEALTHZ, 500, lambda c: [damage(c), c.list(),
                                                         c.client.get(HEALTHZ)][2]),
}


@pytest.mark.parametrize("table, answer", [("legacy", a) for a in ANSWERS]
                         + [("current", a) for a in CURRENT_ANSWERS])
def test_contract_answers_conform(api, current, client, table, answer):
    """What each API answers conforms to its description, errors included."""
    method, path, status, request = (ANSWERS if table == "legacy" else CURRENT_ANSWERS)[answer]
    operation = schemathesis.openapi.from_dict(description(client))[path][method]
    response = request(api if table == "legacy" else current)
    assert response.status_code == status
    operation.validate_response(response)


def test_current_records_have_exactly_the_described_fields(current, client):
    record = current.made("kb")
    schema = description(client)["components"]["schemas"]["CurrentDataset"]
    assert set(schema["required"]) == set(record) and len(record) == 22
    assert set(schema["properties"]) - set(record) == {"parsing_status", "size", "connectors"}
    assert schema["additionalProperties"] is False


def test_legacy_operations_are_deprecated(client):
    for path, item in description(client)["paths"].items():
        for method in item.keys() & METHODS:
            deprecated = item[method].get("deprecated", False)
            assert deprecated == (path in (DATASET, ONE_DATASET)), (path, method)


def test_built_once_per_app_on_first_use(app, client):
    assert "openapi" not in app.extensions
    first = description(client)
    assert app.extensions["openapi"] == first == description(client)


def test_titled_for_both_apis(client):
    title = description(client)["info"]["title"]
    assert "current" in title and "legacy" in title
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert f"<title>{title}</title>" in page


def test_one_tag_per_api(client):
    """Swagger UI groups operations by tag: the current API, the legacy one, the server's."""
    doc = description(client)
    declared = [tag["name"] for tag in doc["tags"]]
    assert declared[:3] == ["current", "legacy", "server"]
    for path, item in doc["paths"].items():
        for method in item.keys() & METHODS:
            (tag,) = item[method].get("tags", [None])  # exactly one
            if path.startswith(DATASETS):
                assert tag == "current", (path, method)
            elif path.startswith(DATASET):
                assert tag == "legacy", (path, method)
            elif path in ("/api/v1/openapi.json", "/healthz"):
                assert tag == "server", (path, method)
            assert tag in declared, (path, method)


def test_the_docs_page_with_a_slash_is_the_docs_page(client):
    answer = client.get("/api/v1/docs/")
    assert answer.status_code == 308
    # Relative, so it holds under a proxy's prefix; a browser resolves it against the URL.
    assert urljoin("http://h/api/v1/docs/", answer.headers["Location"]) == "http://h/api/v1/docs"
    assert client.get("/api/v1/docs").status_code == 200
