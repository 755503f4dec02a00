"""POST /api/v1/dataset: every row of the contract's table, in its order."""

import json
import re

import pytest

from app import create_app
from tests.conftest import Api, issue_key

ALLOWED = "Dataset name may only contain A-Z, a-z, 0-9, '_', '-' and '.'."


def post(api, **kwargs):
    return api.client.post("/api/v1/dataset", headers=api.headers, **kwargs)


def assert_error(response, status, code, message=None):
    assert response.status_code == status
    assert response.json["code"] == code
    assert set(response.json) == {"code", "message"}
    if message is not None:
        assert response.json["message"] == message


def test_success_shape(api):
    response = api.create("kb1")
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"code", "data", "message"}
    assert (body["code"], body["message"]) == (0, "success")
    data = body["data"]
    assert set(data) == {"dataset_id", "dataset_name", "id"}
    assert data["dataset_name"] == "kb1"
    assert re.fullmatch(r"[0-9a-f]{32}", data["id"])
    assert data["dataset_id"] == data["id"]


def test_dataset_name_field_is_accepted(api):
    response = api.create("kb1", field="dataset_name")
    assert response.json["data"]["dataset_name"] == "kb1"
    assert api.names() == ["kb1"]


@pytest.mark.parametrize("body", ["{", "nope", "{'name': 'a'}", "[" * 10000, "\xff"])
def test_body_not_json(api, body):
    response = post(api, data=body.encode("latin-1"), content_type="application/json")
    assert_error(response, 400, 101, "Request body is not valid JSON.")


@pytest.mark.parametrize("body", ["[]", '"kb"', "1", "null", '[{"name": "kb"}]'])
def test_body_not_an_object(api, body):
    response = post(api, data=body, content_type="application/json")
    assert_error(response, 400, 101, "Request body must be a JSON object.")


@pytest.mark.parametrize("body, unknown", [
    ({"name": "kb", "zeta": 1, "alpha": 2}, "['zeta', 'alpha']"),
    ({"description": "x"}, "['description']"),
    ({"name": "kb", "dataset_name": "kb", "x": None}, "['x']"),
    ({"name": "", "avatar": None}, "['avatar']"),
])
def test_unknown_fields_in_request_order(api, body, unknown):
    # json.dumps keeps the order; the test client's json= would sort the keys.
    response = post(api, data=json.dumps(body), content_type="application/json")
    assert_error(response, 400, 102, f"fields: {unknown}, are not allowed in request body.")


def test_both_name_fields(api):
    response = post(api, json={"name": "a", "dataset_name": "b"})
    assert_error(response, 400, 101)
    assert "name" in response.json["message"] and "dataset_name" in response.json["message"]
    assert api.names() == []


def test_no_name_field(api):
    assert_error(post(api, json={}), 400, 102, "Expected 'name' field in request body")


@pytest.mark.parametrize("field", ["name", "dataset_name"])
@pytest.mark.parametrize("value", [None, "", "   ", " \t\n "])
def test_empty_name(api, field, value):
    assert_error(api.create(value, field), 400, 102, "Empty dataset name")


@pytest.mark.parametrize("value", [5, 1.5, True, ["kb"], {"n": "kb"}])
def test_name_not_a_string(api, value):
    assert_error(api.create(value), 400, 102, "Dataset name must be a string.")


def test_name_is_trimmed(api):
    assert api.create("  kb1\t\n").json["data"]["dataset_name"] == "kb1"
    assert api.names() == ["kb1"]


def test_length_limit_applies_to_the_trimmed_name(api):
    longest = "a" * 1023
    assert api.create(f"  {longest}  ").status_code == 200
    too_long = "b" * 1024
    message = f"Dataset name: {too_long} with length 1024 exceeds 1023!"
    assert_error(api.create(f" {too_long} "), 400, 102, message)


def test_a_name_echoed_in_an_error_is_escaped_as_flask_escapes_it(api):
    response = api.create("b" * 1023 + "\x7f")  # ASCII, yet escaped
    assert response.status_code == 400
    assert b"b\\u007f with length 1024" in response.get_data()


@pytest.mark.parametrize("name", ["My Dataset", "a/b", "caf\u00e9", "x(1)", "a\x00b", "kb!"])
def test_strict_rule_rejects_other_characters(api, name):
    assert_error(api.create(name), 400, 102, ALLOWED)


def test_strict_rule_accepts_its_characters(api):
    name = "AZaz09_-."
    assert api.create(name).json["data"]["dataset_name"] == name


@pytest.fixture
def legacy(config, tmp_path):
    app = create_app({**config, "NAME_RULE": "legacy"})
    return Api(app.test_client(), issue_key(app.test_cli_runner()))


@pytest.mark.parametrize("name", ["My Dataset", "caf\u00e9 \u6570\u636e", "x(1)", "a/b!"])
def test_legacy_rule_accepts_any_printable_name(legacy, name):
    assert legacy.create(name).json["data"]["dataset_name"] == name


@pytest.mark.parametrize("name", ["a\x00b", "tab\there", "bell\x07", "del\x7f", "c1\x85x"])
def test_legacy_rule_rejects_control_characters(legacy, name):
    response = legacy.create(name)
    assert_error(response, 400, 102, "Dataset name must not contain control characters.")


def test_legacy_rule_rejects_unpaired_surrogates(legacy):
    # JSON can escape half a surrogate pair; the store, written as UTF-8, cannot hold it.
    response = post(legacy, data='{"name": "a\\ud800b"}', content_type="application/json")
    assert_error(response, 400, 102, "Dataset name must not contain unpaired surrogates.")
    paired = post(legacy, data='{"name": "\\ud83d\\ude00"}', content_type="application/json")
    assert paired.json["data"]["dataset_name"] == "\U0001f600"
    assert legacy.names() == ["\U0001f600"]


def test_legacy_rule_keeps_trim_and_length(legacy):
    assert legacy.create("  My Dataset \n").json["data"]["dataset_name"] == "My Dataset"
    assert legacy.create(" " * 3).json["message"] == "Empty dataset name"
    assert legacy.create("\u00e9" * 1024).status_code == 400


def test_duplicates_are_renamed_case_insensitively(api):
    names = [api.create(n).json["data"]["dataset_name"] for n in ["kb", "KB", "Kb", " kb "]]
    assert names == ["kb", "KB(1)", "Kb(2)", "kb(3)"]
    assert api.names(orderby="create_time", desc="false") == names


def test_duplicate_takes_the_first_free_number(api):
    ids = {n: api.create("kb").json["data"]["id"] for n in range(4)}  # kb, kb(1)..kb(3)
    api.delete(ids[2])
    api.delete(ids[0])
    assert api.create("kb").json["data"]["dataset_name"] == "kb"
    assert api.create("KB").json["data"]["dataset_name"] == "KB(2)"
    assert api.create("kb").json["data"]["dataset_name"] == "kb(4)"


def test_legacy_names_that_look_renamed_still_collide(legacy):
    assert legacy.create("x(1)").json["data"]["dataset_name"] == "x(1)"
    assert legacy.create("x").json["data"]["dataset_name"] == "x"
    assert legacy.create("x").json["data"]["dataset_name"] == "x(2)"


def test_names_are_unique_per_tenant_only(api, other):
    assert api.create("kb").json["data"]["dataset_name"] == "kb"
    assert other.create("kb").json["data"]["dataset_name"] == "kb"


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\ufeff", "\u200d", "\u00ad", "\u00a0",
                                  "\u3000", "\u2028", "\u3164", "\u2800", "\ufe0f", "\ue000"])
def test_the_legacy_rule_refuses_invisible_look_alikes(config, char):
    app = create_app({**config, "NAME_RULE": "legacy"})
    api = Api(app.test_client(), issue_key(app.test_cli_runner()))
    response = api.create(f"ab{char}c")
    assert response.status_code == 400 and response.json["code"] == 102
    assert "invisible or format characters" in response.json["message"]
    assert api.create("My Dataset é 数据").status_code == 200
