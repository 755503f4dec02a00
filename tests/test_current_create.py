"""POST /api/v1/datasets: RAGFlow v0.27's fields, bounds, defaults and messages."""

import pytest

from app import create_app
from tests.conftest import Current, issue_key
from tests.ragflow_cases import DEFAULTS, with_config

NAIVE = DEFAULTS["naive"]
PNG = "data:image/png;base64,iVBORw0KGgo="


def refused(response, *lines, code=101):
    """The answer is code `code` with exactly these message lines."""
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json == {"code": code, "data": None, "message": "\n".join(lines)}


def problem(field, message, value):
    return f"Field: <{field}> - Message: <{message}> - Value: <{value}>"


def test_created_with_every_default(current, key):
    data = current.made("kb")
    assert data.pop("id") and data.pop("create_time") == data.pop("update_time")
    assert data.pop("create_date") == data.pop("update_date")
    assert data.pop("tenant_id") == data.pop("created_by")
    assert data == {
        "avatar": None, "chunk_count": 0, "chunk_method": "naive", "description": None,
        "document_count": 0, "embedding_model": "BAAI/bge-small-en-v1.5@Local@Builtin",
        "language": "English", "name": "kb", "pagerank": 0, "parser_config": NAIVE,
        "permission": "me", "similarity_threshold": 0.2, "status": "1", "token_num": 0,
        "vector_similarity_weight": 0.3}


def test_created_with_every_option(current):
    body = {"avatar": PNG, "description": "about", "embedding_model":
            "BAAI/bge-small-en-v1.5@Builtin", "permission": "team", "chunk_method": "paper",
            "parser_config": {"chunk_token_num": 1024, "raptor": {"use_raptor": True},
                              "parent_child": {"use_parent_child": True}}}
    data = current.made("  kb  ", **body)
    assert data["name"] == "kb"
    assert {k: data[k] for k in body if k != "parser_config"} == \
        {k: v for k, v in body.items() if k != "parser_config"}
    assert data["parser_config"] == with_config(
        chunk_token_num=1024, raptor={"use_raptor": True},
        parent_child={"use_parent_child": True}, children_delimiter="\n")
    assert current.get(data["id"]).json["data"] == {**data, "size": 0, "connectors": []}


def test_llm_id_goes_into_a_default_parser_config(config):
    app = create_app({**config, "LLM_ID": "deepseek-chat@DeepSeek"})
    current = Current(app.test_client(), issue_key(app.test_cli_runner()))
    assert current.made("kb")["parser_config"] == {**NAIVE, "llm_id": "deepseek-chat@DeepSeek"}
    assert current.made("kb", chunk_method="one")["parser_config"] == \
        {**DEFAULTS["one"], "llm_id": "deepseek-chat@DeepSeek"}
    assert "llm_id" not in current.made("kb", parser_config={"topn_tags": 2})["parser_config"]


def test_a_taken_name_becomes_the_first_free_one(current):
    names = [current.made(name)["name"] for name in ("kb", "KB", "Kb ", "kb(1)")]
    assert names == ["kb", "KB(1)", "Kb(2)", "kb(1)(1)"]


@pytest.mark.parametrize("model, code, message", [
    ("BAAI/bge-small-en-v1.5@Local@Builtin", 0, "success"),
    ("BAAI/bge-small-en-v1.5@Builtin", 0, "success"),  # the same model, spelt short
    ("BAAI/bge-small-en-v1.5@Other@Builtin", 0, "success"),
    (" BAAI/bge-small-en-v1.5@Builtin ", 0, "success"),
    ("bge-m3@Builtin", 102, "Model bge-m3@Builtin not found for model embedding"),
    ("BAAI/bge-small-en-v1.5@OpenAI", 102,
     "Provider OpenAI not found for model BAAI/bge-small-en-v1.5@OpenAI."),
])
def test_embedding_model_must_be_configured(current, model, code, message):
    response = current.create("kb", embedding_model=model)
    assert (response.json["code"], response.json["message"]) == (code, message)
    if code == 0:
        assert response.json["data"]["embedding_model"] == model.strip()  # stored as sent


def test_configured_models_and_default(config):
    app = create_app({**config, "EMBEDDING_MODELS": "a@P, b@inst@Q", "EMBEDDING_MODEL": "b@inst@Q"})
    current = Current(app.test_client(), issue_key(app.test_cli_runner()))
    assert current.made("kb")["embedding_model"] == "b@inst@Q"
    assert current.made("kb", embedding_model="b@Q")["embedding_model"] == "b@Q"
    assert current.create("kb", embedding_model="a@Q").json["message"] == \
        "Model a@Q not found for model embedding"


@pytest.mark.parametrize("data, content_type, message", [
    ('{"name": "kb"}', "text/plain", "Unsupported content type: Expected application/json, "
                                     "got text/plain"),
    ('{"name": "kb"}', None, "Unsupported content type: Expected application/json, got None"),
    ('{"name": "kb",}', "application/json", "Malformed JSON syntax: Missing commas/brackets or "
                                            "invalid encoding"),
    ("", "application/json", "Malformed JSON syntax: Missing commas/brackets or invalid "
                             "encoding"),
    ('["kb"]', "application/json", "Invalid request payload: expected object, got list"),
    ('"kb"', "application/json", "Invalid request payload: expected object, got str"),
    ("3", "application/json", "Invalid request payload: expected object, got int"),
    ("[]", "application/json", problem("name", "Field required", "{}")),  # falsy: `{}`
    ("null", "application/json", problem("name", "Field required", "{}")),
])
def test_body_read_as_ragflow_reads_it(current, data, content_type, message):
    refused(current.client.post(Current.URL, data=data, content_type=content_type,
                                headers=current.headers), message)


def test_a_body_with_the_largest_fields_fits(current):
    data = current.made("kb", avatar="data:image/png;base64," + "A" * 65513,
                        description="d" * 65535)
    assert len(data["avatar"]) == len(data["description"]) == 65535


@pytest.mark.parametrize("body", [
    {"name": "kb", "parser_config": {"tag_kb_ids": [1] * 85_000}},
    {"name": "kb", "parser_config": {"pages": [["x" * 120]] * 1_300}},
    {"name": "kb", "parser_config": {"table_column_roles": {"c" * 300 + str(i): "x"
                                                            for i in range(500)}}},
])
def test_an_answer_lists_the_first_20_problems_and_counts_the_rest(current, body):
    response = current.create(**body)
    assert response.json["code"] == 101 and len(response.data) < 4096
    lines = response.json["message"].split("\n")
    assert 1 <= len(lines) - 1 <= 20 and all(line.startswith("Field: <") for line in lines[:-1])
    items = len(next(iter(body["parser_config"].values())))
    assert lines[-1] == f"... and {items - len(lines) + 1} more problems"
