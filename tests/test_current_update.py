"""GET and PUT /api/v1/datasets/<id>: one dataset, and changing the fields given."""

import pytest

from tests.conftest import Current
from tests.test_current_create import PNG, problem, refused


@pytest.fixture
def made(current):
    return current.made("kb")


def test_get_answers_the_dataset(current, made):
    assert current.get(made["id"]).json == {"code": 0, "message": "success",
                                            "data": {**made, "size": 0, "connectors": []}}
    assert current.get(made["id"].upper()).json["code"] == 102  # ids are compared as stored


@pytest.mark.parametrize("dataset_id", ["0" * 32, "nope"])
def test_get_unknown_is_no_permission(current, key, dataset_id):
    tenant = current.made("kb")["tenant_id"]
    refused(current.get(dataset_id),
            f"User '{tenant}' lacks permission for dataset '{dataset_id}'", code=102)


def test_other_tenants_dataset_is_no_permission(current, other, made):
    them = Current(other.client, other.headers["Authorization"].split()[1])
    tenant = them.made("theirs")["tenant_id"]
    for response in (them.get(made["id"]), them.update(made["id"], name="x")):
        refused(response, f"User '{tenant}' lacks permission for dataset '{made['id']}'",
                code=102)
    assert current.get(made["id"]).json["data"]["name"] == "kb"


@pytest.mark.parametrize("change", [
    {"name": "renamed"}, {"avatar": PNG}, {"avatar": None}, {"description": "about"},
    {"description": None}, {"embedding_model": "BAAI/bge-small-en-v1.5@Builtin"},
    {"permission": "team"}, {"pagerank": 100}, {"pagerank": 0}, {"language": "Chinese"},
    {"chunk_method": "naive"},
])
def test_each_field_updates(current, made, change):
    response = current.update(made["id"], **change)
    assert response.json["code"] == 0, response.json
    data = response.json["data"]
    assert data == {**made, **change, "update_time": data["update_time"],
                    "update_date": data["update_date"], "connectors": []}
    assert data["update_time"] >= made["update_time"]
    assert current.get(made["id"]).json["data"] == {**data, "size": 0}


def test_name_is_trimmed_and_may_change_case(current, made):
    assert current.update(made["id"], name="  KB ").json["data"]["name"] == "KB"


def test_name_taken_in_any_case_is_refused(current, made):
    current.made("other")
    refused(current.update(made["id"], name="OTHER"), "Dataset name 'OTHER' already exists",
            code=102)
    assert current.get(made["id"]).json["data"]["name"] == "kb"


def test_nulls_keep_the_model_and_language(current, made):
    data = current.update(made["id"], embedding_model=None, language=None).json["data"]
    assert (data["embedding_model"], data["language"]) == (made["embedding_model"], "English")


def test_ids_are_checked_after_the_body(current):
    refused(current.update("nope", name=1),
            problem("name", "Input should be a valid string", "1"),
            problem("dataset_id", "Invalid UUID format", "nope"))


def test_an_id_in_any_uuid_spelling(current, made):
    spelt = "{" + "-".join((made["id"][:8], made["id"][8:12], made["id"][12:16],
                           made["id"][16:20], made["id"][20:])).upper() + "}"
    assert current.update(spelt, name="kb2").json["data"]["name"] == "kb2"


@pytest.mark.parametrize("body", [{}, []])
def test_nothing_to_change(current, made, body):
    response = current.client.put(f"{Current.URL}/{made['id']}", json=body,
                                  headers=current.headers)
    refused(response, "no properties were modified", code=102)


def test_unknown_model_is_refused(current, made):
    refused(current.update(made["id"], embedding_model="x@Builtin"),
            "Model x@Builtin not found for model embedding", code=102)
