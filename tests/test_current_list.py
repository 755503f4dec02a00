"""GET and DELETE /api/v1/datasets; keys and errors in the current API's envelope."""

import time

import pytest

from app import auth, create_app
from tests.conftest import Current, issue_key
from tests.test_current_create import problem, refused

COUNTS = {"unstart_count": 0, "running_count": 0, "cancel_count": 0, "done_count": 0,
          "fail_count": 0}


@pytest.fixture
def five(current):
    """Five datasets, in creation order."""
    return [current.made(f"kb{n}") for n in range(5)]


def names(response):
    assert response.json["code"] == 0, response.json
    return [record["name"] for record in response.json["data"]]


def test_lists_newest_first_with_the_total(current, five):
    response = current.list()
    assert response.json == {"code": 0, "message": "success", "data": five[::-1],
                             "total_datasets": 5}


@pytest.mark.parametrize("query, expected", [
    ({"desc": "false"}, ["kb0", "kb1", "kb2", "kb3", "kb4"]),
    ({"desc": "False"}, ["kb0", "kb1", "kb2", "kb3", "kb4"]),
    ({"desc": "0"}, ["kb0", "kb1", "kb2", "kb3", "kb4"]),
    ({"desc": "yes"}, ["kb4", "kb3", "kb2", "kb1", "kb0"]),
    ({"page": 2, "page_size": 2}, ["kb2", "kb1"]),
    ({"page": 3, "page_size": 2}, ["kb0"]),
    ({"page": 4, "page_size": 2}, []),
    ({"page_size": 100}, ["kb4", "kb3", "kb2", "kb1", "kb0"]),
    ({"orderby": "update_time", "desc": "false", "page_size": 1}, ["kb0"]),
    ({"name": "KB3"}, ["kb3"]),
])
def test_pages_orders_and_filters(current, five, query, expected):
    response = current.list(**query)
    assert names(response) == expected
    assert response.json["total_datasets"] == (1 if "name" in query else 5)


def test_update_time_orders_by_the_last_change(current, five):
    while auth.now_ms() <= five[-1]["create_time"]:  # a change in the same ms would tie
        time.sleep(0.001)
    current.update(five[1]["id"], description="touched")
    assert names(current.list(orderby="update_time"))[0] == "kb1"


def test_id_filter(current, five):
    assert names(current.list(id=five[2]["id"])) == ["kb2"]
    assert names(current.list(id=five[2]["id"], name="kb2")) == ["kb2"]
    assert names(current.list(id=five[2]["id"], name="kb1")) == []  # both there: no match


def test_parsing_status_counts_are_zero(current, five):
    [record] = current.list(include_parsing_status="true", page_size=1).json["data"]
    assert record == {**five[4], "parsing_status": COUNTS}
    assert "parsing_status" not in current.list(include_parsing_status="false").json["data"][0]


@pytest.mark.parametrize("kind, value", [("name", "nope"), ("id", "0" * 32)])
def test_a_filter_that_matches_nothing(current, five, kind, value):
    refused(current.list(**{kind: value}),
            f"User '{five[0]['tenant_id']}' lacks permission for dataset '{value}'", code=102)


def test_delete_some(current, five):
    gone = [five[1]["id"], five[3]["id"].upper()]
    assert current.delete(ids=gone).json == {"code": 0, "message": "success",
                                             "data": {"success_count": 2}}
    assert names(current.list(desc="false")) == ["kb0", "kb2", "kb4"]


def test_delete_all(current, five, other):
    theirs = Current(other.client, other.headers["Authorization"].split()[1])
    theirs.made("kept")
    assert current.delete(delete_all=True).json["data"] == {"success_count": 5}
    assert names(current.list()) == [] and names(theirs.list()) == ["kept"]


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": None}, {"delete_all": False},
                                  {"ids": [], "delete_all": False}])
def test_delete_nothing(current, five, body):
    assert current.delete(**body).json["data"] == {"success_count": 0}
    assert len(names(current.list())) == 5


def test_ids_win_over_delete_all(current, five):
    assert current.delete(ids=[five[0]["id"]], delete_all=True).json["data"] == \
        {"success_count": 1}
    assert len(names(current.list())) == 4


def test_delete_is_all_or_nothing(current, five, other):
    theirs = Current(other.client, other.headers["Authorization"].split()[1]).made("theirs")
    for unknown in ("0" * 32, theirs["id"]):
        refused(current.delete(ids=[five[0]["id"], unknown]),
                f"User '{five[0]['tenant_id']}' lacks permission for datasets: '{unknown}'",
                code=102)
    assert len(names(current.list())) == 5


@pytest.mark.parametrize("body, lines", [
    ({"ids": ["nope"]}, [problem("ids", "Invalid UUID format", "['nope']")]),
    ({"ids": [1]}, [problem("ids.0", "Input should be a valid string", "1")]),
    ({"ids": "x"}, [problem("ids", "Input should be a valid list", "x")]),
    ({"ids": ["a" * 32, "A" * 32]}, [problem("ids", "Duplicate ids: '" + "a" * 32 + "'",
                                             f"['{'a' * 32}', '{'A' * 32}']")]),
    ({"delete_all": "true"}, [problem("delete_all", "Input should be a valid boolean", "true")]),
    ({"id": "x"}, [problem("id", "Extra inputs are not permitted", "x")]),
])
def test_each_rule_of_the_delete_body(current, five, body, lines):
    refused(current.delete(**body), *lines)
    assert len(names(current.list())) == 5


UNAUTHORIZED = {"code": 401, "message": "<Unauthorized '401: Unauthorized'>"}
ROUTES = [("post", ""), ("get", ""), ("delete", ""), ("get", "/" + "0" * 32),
          ("put", "/" + "0" * 32)]


@pytest.mark.parametrize("method, path", ROUTES)
@pytest.mark.parametrize("header", [None, "Bearer ragflow-nope", "Bearer", ""])
def test_every_route_needs_a_key(client, method, path, header):
    headers = {} if header is None else {"Authorization": header}
    response = client.open(Current.URL + path, method=method, headers=headers, json={})
    assert (response.status_code, response.json) == (401, UNAUTHORIZED)


def test_a_bare_key_is_taken_as_in_the_legacy_api(client, key):
    assert client.get(Current.URL, headers={"Authorization": key}).json["code"] == 0


@pytest.mark.parametrize("path", ["/a/b", "/" + "0" * 32 + "/documents/x/y/z", "/a/b?x=1"])
def test_a_path_no_route_has_is_ragflows_404(current, path):
    for headers in (current.headers, {}):  # before the key is looked at, as in RAGFlow
        response = current.client.get(Current.URL + path, headers=headers)
        assert response.status_code == 404 and response.mimetype == "application/json"
        assert response.json == {"code": 404, "message": f"Not Found: {Current.URL}" +
                                 path.split("?")[0], "data": None, "error": "Not Found"}


@pytest.mark.parametrize("method, path, allow", [
    ("patch", "", {"GET", "HEAD", "POST", "DELETE"}),
    ("post", "/" + "0" * 32, {"GET", "HEAD", "PUT"}),
    ("delete", "/" + "0" * 32, {"GET", "HEAD", "PUT"}),
])
def test_a_method_a_route_does_not_take_is_405(current, method, path, allow):
    response = current.client.open(Current.URL + path, method=method, headers=current.headers)
    assert response.status_code == 405 and response.mimetype == "application/json"
    assert set(response.headers["Allow"].split(", ")) == allow
    assert response.json == {"code": 101, "message": "Method Not Allowed", "data": None}


def test_a_body_over_the_limit(config):
    app = create_app({**config, "CURRENT_MAX_CONTENT_LENGTH": 1024})
    current = Current(app.test_client(), issue_key(app.test_cli_runner()))
    assert current.create("a" * 100, description="d" * 800).json["code"] == 0
    response = current.create("a" * 100, description="d" * 1000)
    assert (response.status_code, response.json["code"], response.json["data"]) == (200, 101, None)
    assert "exceeds the capacity limit" in response.json["message"]
