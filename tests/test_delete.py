"""DELETE /api/v1/dataset/<id>."""

import pytest

DELETED = {"code": 0, "message": "Dataset deleted successfully!", "success": True}
NOT_FOUND = {"code": 102, "message": "Dataset not found.", "success": False}


def test_delete(api):
    keep = api.create("keep").json["data"]["id"]
    gone = api.create("gone").json["data"]["id"]
    response = api.delete(gone)
    assert (response.status_code, response.json) == (200, DELETED)
    assert [r["id"] for r in api.list().json["data"]] == [keep]


def test_deleting_twice_is_not_found(api):
    dataset_id = api.create("kb").json["data"]["id"]
    api.delete(dataset_id)
    response = api.delete(dataset_id)
    assert (response.status_code, response.json) == (404, NOT_FOUND)


@pytest.mark.parametrize("dataset_id", ["0" * 32, "None", "not-an-id", "%20"])
def test_unknown_id(api, dataset_id):
    api.create("kb")
    response = api.delete(dataset_id)
    assert (response.status_code, response.json) == (404, NOT_FOUND)
    assert api.names() == ["kb"]


def test_another_tenants_dataset_is_not_found(api, other):
    theirs = other.create("theirs").json["data"]["id"]
    response = api.delete(theirs)
    assert (response.status_code, response.json) == (404, NOT_FOUND)
    assert other.names() == ["theirs"]


def test_a_body_is_ignored(api):
    dataset_id = api.create("kb").json["data"]["id"]
    response = api.client.delete(f"/api/v1/dataset/{dataset_id}", headers=api.headers,
                                 data="not json", content_type="text/plain")
    assert (response.status_code, response.json) == (200, DELETED)


def test_the_name_is_free_again(api):
    api.create("kb")
    second = api.create("kb").json["data"]
    assert second["dataset_name"] == "kb(1)"
    api.delete(second["id"])
    assert api.create("KB").json["data"]["dataset_name"] == "KB(1)"
