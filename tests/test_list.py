"""GET /api/v1/dataset: paging, ordering, the legacy record and envelope."""

from email.utils import parsedate_to_datetime

import pytest

from app import auth, create_app
from tests.conftest import Api, issue_key

FIELDS = {
    "avatar", "chunk_num", "create_date", "create_time", "created_by", "description", "doc_num",
    "embd_id", "id", "language", "name", "parser_config", "parser_id", "permission",
    "similarity_threshold", "status", "tenant_id", "token_num", "update_date", "update_time",
    "vector_similarity_weight",
}


@pytest.fixture
def made(api):
    """Five datasets, in creation order."""
    names = ["b", "D", "a", "e", "C"]
    for name in names:
        assert api.create(name).status_code == 200
    return names


def test_envelope_keeps_the_legacy_success_code(api, made):
    response = api.list()
    assert response.status_code == 200
    assert response.json["code"] == 102
    assert response.json["message"] == "attempt to list datasets"
    assert set(response.json) == {"code", "data", "message"}


def test_record_has_the_documents_fields(api, key):
    dataset_id = api.create("kb").json["data"]["id"]
    tenant = api.client.application.extensions["store"].find_key(auth.digest(key))["tenant"]
    [record] = api.list().json["data"]
    assert set(record) == FIELDS
    assert record["id"] == dataset_id and record["name"] == "kb"
    assert record["tenant_id"] == record["created_by"] == tenant
    assert {k: record[k] for k in FIELDS - {"id", "name", "tenant_id", "created_by",
                                            "create_date", "create_time", "update_date",
                                            "update_time"}} == {
        "avatar": None, "chunk_num": 0, "description": None, "doc_num": 0,
        "embd_id": "BAAI/bge-large-zh-v1.5", "language": "English",
        "parser_config": {"pages": [[1, 1000000]]}, "parser_id": "naive", "permission": "me",
        "similarity_threshold": 0.2, "status": "1", "token_num": 0,
        "vector_similarity_weight": 0.3,
    }
    assert isinstance(record["create_time"], int)
    assert record["update_time"] == record["create_time"]
    for field in ("create", "update"):
        date = record[f"{field}_date"]
        assert date.endswith(" GMT")
        assert int(parsedate_to_datetime(date).timestamp()) == record[f"{field}_time"] // 1000


def test_record_dates_are_rfc1123(api, monkeypatch):
    monkeypatch.setattr(auth, "now_ms", lambda: 1718611205876)
    api.create("kb")
    [record] = api.list().json["data"]
    assert record["create_date"] == record["update_date"] == "Mon, 17 Jun 2024 08:00:05 GMT"


def test_embd_id_and_language_are_configuration(config):
    app = create_app({**config, "EMBD_ID": "BAAI/bge-m3", "LANGUAGE": "Chinese"})
    api = Api(app.test_client(), issue_key(app.test_cli_runner()))
    api.create("kb")
    [record] = api.list().json["data"]
    assert (record["embd_id"], record["language"]) == ("BAAI/bge-m3", "Chinese")


def test_defaults_list_all_newest_first(api, made):
    assert api.names() == made[::-1]


def test_count_minus_one_keeps_the_last_record(api, made):
    # The legacy server dropped the last record for count=-1.
    assert len(api.names(count=-1)) == len(made)
    assert api.names(count=-1, desc="false") == made


def test_pages_cover_everything_once(api, made):
    pages = [api.names(offset=offset, count=2) for offset in range(0, 6, 2)]
    assert pages == [made[::-1][0:2], made[::-1][2:4], made[::-1][4:]]


@pytest.mark.parametrize("offset, count, expected", [
    (0, 0, []), (4, -1, ["b"]), (5, -1, []), (50, 3, []), (1, 100, ["e", "a", "D", "b"]),
])
def test_offset_and_count(api, made, offset, count, expected):
    assert api.names(offset=offset, count=count) == expected


@pytest.mark.parametrize("orderby", ["name", "NAME", "Name"])
def test_order_by_name_ignores_case(api, made, orderby):
    assert api.names(orderby=orderby, desc="false") == ["a", "b", "C", "D", "e"]
    assert api.names(orderby=orderby) == ["e", "D", "C", "b", "a"]


@pytest.mark.parametrize("orderby", ["create_time", "update_time", "Update_Time"])
def test_order_by_times(api, made, orderby):
    assert api.names(orderby=orderby, desc="false") == made
    assert api.names(orderby=orderby, desc="true") == made[::-1]


@pytest.mark.parametrize("desc, ascending", [
    ("true", False), ("True", False), ("TRUE", False), ("1", False),
    ("false", True), ("False", True), ("FALSE", True), ("0", True),
])
def test_desc_is_a_real_boolean(api, made, desc, ascending):
    # The legacy server read the string "False" as true.
    assert api.names(desc=desc) == (made if ascending else made[::-1])


def test_same_millisecond_keeps_creation_order(api, monkeypatch):
    monkeypatch.setattr(auth, "now_ms", lambda: 1718611205876)
    names = [f"n{i}" for i in range(6)]
    for name in reversed(names[:3]):
        api.create(name)
    for name in names[3:]:
        api.create(name)
    made = names[2::-1] + names[3:]
    assert api.names(desc="false") == made
    assert api.names(desc="true") == made[::-1]
    pages = [api.names(desc="false", offset=o, count=4) for o in (0, 4)]
    assert pages[0] + pages[1] == made


@pytest.mark.parametrize("params, message", [
    ({"offset": -1}, "Offset is out of the valid range."),
    ({"offset": "x"}, "offset"),
    ({"offset": "1.5"}, "offset"),
    ({"count": -2}, "count"),
    ({"count": "all"}, "count"),
    ({"orderby": "size"}, "orderby"),
    ({"orderby": ""}, "orderby"),
    ({"desc": "yes"}, "desc"),
    ({"desc": ""}, "desc"),
])
def test_bad_parameters(api, params, message):
    response = api.list(**params)
    assert response.status_code == 400
    assert response.json["code"] == 101
    assert message.lower() in response.json["message"].lower()


def test_unknown_parameters_are_ignored(api, made):
    assert api.names(page=3, keywords="x") == made[::-1]


def test_only_the_callers_datasets(api, other, made):
    other.create("theirs")
    assert other.names() == ["theirs"]
    assert "theirs" not in api.names()
