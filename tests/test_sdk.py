"""The legacy Python SDK's way of calling: bare key header, `name` body, all four list params."""

import pytest


class LegacySDK:
    """The calls RAGFlow's June 2024 Python SDK made, over the Flask test client."""

    def __init__(self, client, user_key):
        self.client = client
        self.dataset_url = "/api/v1/dataset"
        self.authorization_header = {"Authorization": "{}".format(user_key)}

    def create_dataset(self, dataset_name):
        return self.client.post(self.dataset_url, json={"name": dataset_name},
                                headers=self.authorization_header).json

    def list_dataset(self, offset=0, count=-1, orderby="create_time", desc=True):
        params = {"offset": offset, "count": count, "orderby": orderby, "desc": desc}
        return self.client.get(self.dataset_url, query_string=params,
                               headers=self.authorization_header).json

    def find_dataset_id_by_name(self, dataset_name):
        for dataset in self.list_dataset()["data"]:
            if dataset["name"] == dataset_name:
                return dataset["id"]
        return None

    def delete_dataset(self, dataset_name):
        dataset_id = self.find_dataset_id_by_name(dataset_name)
        return self.client.delete(f"{self.dataset_url}/{dataset_id}",
                                  headers=self.authorization_header).json


@pytest.fixture
def sdk(client, key):
    return LegacySDK(client, key)


def test_sends_params_as_the_sdk_does(client, key):
    response = client.get("/api/v1/dataset?offset=0&count=-1&orderby=create_time&desc=True",
                          headers={"Authorization": key})
    assert response.status_code == 200 and response.json["code"] == 102


def test_create_list_delete(sdk):
    created = sdk.create_dataset("kb1")
    assert created["code"] == 0 and created["data"]["dataset_name"] == "kb1"
    assert sdk.create_dataset("kb1")["data"]["dataset_name"] == "kb1(1)"
    listed = sdk.list_dataset()
    assert listed["code"] == 102
    assert [d["name"] for d in listed["data"]] == ["kb1(1)", "kb1"]
    assert [d["name"] for d in sdk.list_dataset(desc=False)["data"]] == ["kb1", "kb1(1)"]
    deleted = sdk.delete_dataset("kb1")
    assert deleted == {"code": 0, "message": "Dataset deleted successfully!", "success": True}
    assert [d["name"] for d in sdk.list_dataset()["data"]] == ["kb1(1)"]


def test_list_paging_keeps_every_record(sdk):
    for n in range(5):
        sdk.create_dataset(f"kb{n}")
    assert len(sdk.list_dataset()["data"]) == 5
    pages = [sdk.list_dataset(offset=o, count=2)["data"] for o in (0, 2, 4)]
    assert [d["name"] for page in pages for d in page] == [f"kb{n}" for n in range(4, -1, -1)]


def test_deleting_a_missing_name(sdk):
    # The SDK asks for /dataset/None when the name is not found.
    assert sdk.delete_dataset("nope") == {"code": 102, "message": "Dataset not found.",
                                          "success": False}
