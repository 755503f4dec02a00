"""RAGFlow v0.27.0's dataset cases (tests/ragflow_cases.py), through HTTP and ragflow-sdk.

Each table runs whole in one test per engine and client, and a failure lists every case that
answered otherwise.
"""

import json
from pprint import pformat

import pytest

from tests import ragflow_cases as cases

try:
    from ragflow_sdk import DataSet
except ImportError:  # the `rag` fixture skips the SDK's tests, or fails them in CI
    DataSet = None


def fill(value, names):
    """`value` with each placeholder of `names` ({id}, {other}, {tenant}) in its strings."""
    if isinstance(value, str):
        for placeholder, name in names.items():
            value = value.replace(placeholder, name)
        return value
    if isinstance(value, dict):
        return {key: fill(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, names) for item in value]
    return value


def check(table, run):
    """Run each case of `table`; every one that answers otherwise, listed in one failure."""
    wrong = []
    for case in table:
        want, got = run(case)
        if want != got:
            wrong.append({"request": case.request, "want": want, "got": got})
    assert not wrong, f"{len(wrong)} of {len(table)} cases:\n{pformat(wrong, width=100)}"


def want_of(case, names):
    """What a case expects, as (code, message) or (code, {field: value})."""
    return case.code, fill(case.expected, names)


def fields_of(data, expected):
    """The fields of `data` that `expected` names."""
    return {key: data.get(key, "<missing>") for key in expected}


# Through HTTP, with the Flask test client

@pytest.fixture
def tenant(current):
    made = current.made("probe")
    current.delete(ids=[made["id"]])
    return made["tenant_id"]


def answered(response, expected, shape=fields_of):
    body = response.json
    assert response.status_code == 200, body
    if body["code"] != 0:
        assert body["data"] is None, body
        return body["code"], body["message"]
    return 0, shape(body["data"], expected)


def send(current, method, path, body):
    """`body` as JSON in the order it is written (the test client's json= sorts keys)."""
    return current.client.open(f"{current.URL}{path}", method=method, data=json.dumps(body),
                               content_type="application/json", headers=current.headers)


def two(current):
    """Datasets `kb` and then `other`; their placeholders."""
    return {"{id}": current.made("kb")["id"], "{other}": current.made("other")["id"]}


def test_create(current, tenant):
    def run(case):
        names = {"{tenant}": tenant}
        response = send(current, "POST", "", fill(case.request, names))
        got = answered(response, case.expected)
        current.delete(delete_all=True)
        return want_of(case, names), got

    check(cases.CREATE, run)


def test_update(current, tenant):
    def run(case):
        names = {"{tenant}": tenant, **two(current)}
        path = fill(case.path_id, names)
        got = answered(send(current, "PUT", f"/{path}", fill(case.request, names)),
                       case.expected)
        current.delete(delete_all=True)
        return want_of(case, names), got

    check(cases.UPDATE, run)


def listed(data, expected):
    got = {"names": [record["name"] for record in data]}
    if "status" in expected:
        statuses = [record.get("parsing_status") for record in data]
        got["status"] = statuses[0] if len(set(map(str, statuses))) == 1 else statuses
    return got


def test_list(current, tenant):
    names = {"{tenant}": tenant, **two(current)}

    def run(case):
        response = current.list(**fill(case.request, names))
        code, got = answered(response, case.expected, listed)
        if code == 0:
            got["total"] = response.json["total_datasets"]
        return want_of(case, names), (code, got)

    check(cases.LIST, run)


def test_delete(current, tenant):
    def run(case):
        names = {"{tenant}": tenant, **two(current)}
        code, got = answered(send(current, "DELETE", "", fill(case.request, names)),
                             case.expected)
        if code == 0:
            got["left"] = current.list().json["total_datasets"]
        current.delete(delete_all=True)
        return want_of(case, names), (code, got)

    check(cases.DELETE, run)


# Through ragflow-sdk 0.27, on the app served over HTTP

SDK_CREATE = {"name", "avatar", "description", "embedding_model", "permission", "chunk_method",
              "parser_config", "auto_metadata_config"}
SDK_LIST = {"page", "page_size", "orderby", "desc", "id", "ids", "name"}
KEPT = set(DataSet(None, {}).__dict__) - {"rag"} if DataSet else set()  # what a DataSet keeps


def sdk_fields(dataset, expected):
    """The fields of an SDK DataSet that `expected` names and a DataSet keeps."""
    got = {}
    for key in expected.keys() & KEPT | expected.keys() & set(dataset.__dict__):
        value = getattr(dataset, key)
        got[key] = value.to_json() if hasattr(value, "to_json") else value
    return got


def sdk_call(call, expected, shape):
    try:
        return 0, shape(call(), expected)
    except Exception as err:  # the SDK raises the answer's message, whatever its code
        return "error", str(err)


def sdk_want(case, names, kept):
    code, expected = want_of(case, names)
    if code != 0:
        return "error", expected
    return 0, {key: value for key, value in expected.items() if key in kept}


def sdk_typed(body):
    """Whether ragflow-sdk's create_dataset takes these arguments (it checks their types)."""
    text = (str, type(None))
    types = {"name": (str,), "avatar": text, "description": text, "embedding_model": text,
             "permission": (str,), "chunk_method": (str,), "parser_config": (dict, type(None)),
             "auto_metadata_config": (dict, type(None))}
    return "name" in body and all(isinstance(body[key], types.get(key, ())) for key in body)


def test_sdk_create(rag, current, tenant):
    eligible = [case for case in cases.CREATE if sdk_typed(case.request)]
    assert len(eligible) > 100

    def run(case):
        body = dict(case.request)
        if isinstance(body.get("parser_config"), dict):
            body["parser_config"] = DataSet.ParserConfig(rag, body["parser_config"])
        got = sdk_call(lambda: rag.create_dataset(**body), case.expected, sdk_fields)
        current.delete(delete_all=True)
        return sdk_want(case, {}, KEPT), got

    check(eligible, run)


def test_sdk_update(rag, current, tenant):
    def run(case):
        names = {"{tenant}": tenant, **two(current)}
        dataset = DataSet(rag, {"id": fill(case.path_id, names)})
        got = sdk_call(lambda: dataset.update(fill(case.request, names)), case.expected,
                       sdk_fields)
        current.delete(delete_all=True)
        return sdk_want(case, names, set(case.expected)), got

    check(cases.UPDATE, run)


def sdk_query(query):
    """The arguments of ragflow-sdk's list_datasets for `query`, or None if it has none."""
    query = dict(query)
    if not set(query) <= SDK_LIST or {"id", "ids"} <= set(query):
        return None
    for key in {"page", "page_size"} & set(query):
        if not query[key].isdigit():
            return None
        query[key] = int(query[key])
    if "desc" in query:
        if query["desc"] not in ("true", "false"):
            return None
        query["desc"] = query["desc"] == "true"
    if "ids" in query:
        query["ids"] = query["ids"].split(",")
    return query


def test_sdk_list(rag, current, tenant):
    names = {"{tenant}": tenant, **two(current)}
    eligible = [case for case in cases.LIST if sdk_query(case.request) is not None]
    assert len(eligible) > 20

    def run(case):
        query = sdk_query(fill(case.request, names))
        got = sdk_call(lambda: rag.list_datasets(**query), case.expected,
                       lambda found, _: {"names": [dataset.name for dataset in found]})
        return sdk_want(case, names, {"names"}), got

    check(eligible, run)


def test_sdk_delete(rag, current, tenant):
    eligible = [case for case in cases.DELETE if set(case.request) <= {"ids", "delete_all"}
                and isinstance(case.request.get("delete_all", False), bool)
                and (case.request.get("ids") is None
                     or isinstance(case.request["ids"], list)
                     and all(isinstance(i, str) for i in case.request["ids"]))]

    def run(case):
        names = {"{tenant}": tenant, **two(current)}
        got = sdk_call(lambda: rag.delete_datasets(**fill(case.request, names)), case.expected,
                       lambda _, __: {"left": len(rag.list_datasets())})
        current.delete(delete_all=True)
        return sdk_want(case, names, {"left"}), got

    check(eligible, run)


def test_the_tables_cover_every_field_of_the_models():
    """Every field of RAGFlow's dataset request models is in some case of the tables."""
    create = {"name", "avatar", "description", "embedding_model", "permission", "parse_type",
              "pipeline_id", "chunk_method", "parser_config", "auto_metadata_config", "ext"}
    update = create | {"pagerank", "language", "connectors"}
    listing = {"id", "name", "page", "page_size", "orderby", "desc", "ids",
               "include_parsing_status", "ext"}
    parser = set(cases.FILLED) - set(cases.BASE)
    sent = set().union(*(case.request for case in cases.CREATE))
    configs = set().union(*(case.request.get("parser_config") or {} for case in cases.CREATE
                            if isinstance(case.request.get("parser_config"), dict)))
    assert create <= sent and parser <= configs, (create - sent, parser - configs)
    assert update - {"dataset_id"} <= set().union(*(c.request for c in cases.UPDATE))
    assert listing <= set().union(*(case.request for case in cases.LIST))
    assert {"ids", "delete_all"} <= set().union(*(case.request for case in cases.DELETE))

