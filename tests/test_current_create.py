"""POST /api/v1/datasets: RAGFlow v0.27's fields, bounds, defaults and messages."""

import pytest

from app import create_app
from tests.conftest import Current, issue_key

PROMPT = ("Please summarize the following paragraphs. Be careful with the numbers, do not make "
          "things up. Paragraphs as following:\n      {cluster_content}\nThe above is the "
          "content you need to summarize.")
OFF = {"raptor": {"use_raptor": False}, "graphrag": {"use_graphrag": False}}
NAIVE = {"chunk_token_num": 512, "delimiter": "\\n", "html4excel": False,
         "layout_recognize": "DeepDOC", **OFF,
         "parent_child": {"use_parent_child": False, "children_delimiter": "\\n"}}
# What RAGFlow's ParserConfig fills in once a parser_config is sent.
FILLED = {"auto_keywords": 0, "auto_questions": 0, "chunk_token_num": 512, "delimiter": "\\n",
          "graphrag": {"use_graphrag": False, "community": False, "method": "light",
                       "resolution": False,
                       "entity_types": ["organization", "person", "geo", "event", "category"]},
          "html4excel": False, "layout_recognize": "DeepDOC",
          "raptor": {"use_raptor": False, "prompt": PROMPT, "max_token": 256, "threshold": 0.1,
                     "max_cluster": 64, "random_seed": 0},
          "tag_kb_ids": [], "topn_tags": 1, "filename_embd_weight": 0.1, "task_page_size": None,
          "pages": None, "parent_child": {"use_parent_child": False, "children_delimiter": "\\n"}}
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
    assert data["parser_config"] == {
        **FILLED, "chunk_token_num": 1024,
        "raptor": {**FILLED["raptor"], "use_raptor": True},
        "parent_child": {"use_parent_child": True, "children_delimiter": "\\n"}}
    assert current.get(data["id"]).json["data"] == data


@pytest.mark.parametrize("method", ["naive", "book", "email", "laws", "manual", "one", "paper",
                                    "picture", "presentation", "qa", "table", "tag"])
def test_each_chunk_method_has_its_default_parser_config(current, method):
    expected = NAIVE if method == "naive" else {} if method in (
        "email", "one", "picture", "table", "tag") else OFF
    assert current.made("kb", chunk_method=method)["parser_config"] == expected
    assert current.made("kb", chunk_method=method, parser_config={})["parser_config"] == expected
    assert current.made("kb", chunk_method=method, parser_config=None)["parser_config"] == \
        expected


def test_a_sent_parser_config_is_filled_then_laid_on_the_method_defaults(current):
    assert current.made("kb", parser_config={"html4excel": True})["parser_config"] == \
        {**FILLED, "html4excel": True}
    assert current.made("kb", chunk_method="one", parser_config={"topn_tags": 3})[
        "parser_config"] == {**FILLED, "topn_tags": 3}


def test_llm_id_goes_into_a_default_parser_config(config):
    app = create_app({**config, "LLM_ID": "deepseek-chat@DeepSeek"})
    current = Current(app.test_client(), issue_key(app.test_cli_runner()))
    assert current.made("kb")["parser_config"] == {**NAIVE, "llm_id": "deepseek-chat@DeepSeek"}
    assert current.made("kb", chunk_method="one")["parser_config"] == \
        {"llm_id": "deepseek-chat@DeepSeek"}
    assert "llm_id" not in current.made("kb", parser_config={"topn_tags": 2})["parser_config"]


def test_a_taken_name_becomes_the_first_free_one(current):
    names = [current.made(name)["name"] for name in ("kb", "KB", "Kb ", "kb(1)")]
    assert names == ["kb", "KB(1)", "Kb(2)", "kb(1)(1)"]


@pytest.mark.parametrize("body, lines", [
    ({}, [problem("name", "Field required", "{}")]),
    ({"name": ""}, [problem("name", "String should have at least 1 character", "")]),
    ({"name": "  "}, [problem("name", "String should have at least 1 character", "  ")]),
    ({"name": "a" * 129}, [problem("name", "String should have at most 128 characters",
                                   "a" * 125 + "...")]),
    ({"name": 1}, [problem("name", "Input should be a valid string", "1")]),
    ({"name": None}, [problem("name", "Input should be a valid string", "None")]),
    ({"name": "kb", "avatar": "abc"}, [problem(
        "avatar", "Missing MIME prefix. Expected format: data:<mime>;base64,<data>", "abc")]),
    ({"name": "kb", "avatar": "image/png;base64,x"}, [problem(
        "avatar", "Invalid MIME prefix format. Must start with 'data:'", "image/png;base64,x")]),
    ({"name": "kb", "avatar": "data:video/mp4;base64,x"}, [problem(
        "avatar", "Unsupported MIME type. Allowed: ['image/jpeg', 'image/png']",
        "data:video/mp4;base64,x")]),
    ({"name": "kb", "avatar": "data:image/png;," + "A" * 65521}, [problem(
        "avatar", "String should have at most 65535 characters",
        "data:image/png;," + "A" * 109 + "...")]),
    ({"name": "kb", "description": "d" * 65536}, [problem(
        "description", "String should have at most 65535 characters", "d" * 125 + "...")]),
    ({"name": "kb", "description": 5}, [problem("description", "Input should be a valid string",
                                                "5")]),
    ({"name": "kb", "embedding_model": "bge"}, [problem(
        "embedding_model",
        "Embedding model identifier must follow <model_name>@<provider> format", "bge")]),
    ({"name": "kb", "embedding_model": "@Builtin"}, [problem(
        "embedding_model", "Both model_name and provider must be non-empty strings",
        "@Builtin")]),
    ({"name": "kb", "embedding_model": "bge@"}, [problem(
        "embedding_model", "Both model_name and provider must be non-empty strings", "bge@")]),
    ({"name": "kb", "embedding_model": "bge@ @Builtin"}, [problem(
        "embedding_model", "Model name and provider cannot be whitespace-only strings",
        "bge@ @Builtin")]),
    ({"name": "kb", "embedding_model": "a@" + "b" * 254}, [problem(
        "embedding_model", "String should have at most 255 characters", "a@" + "b" * 123 + "...")]),
    ({"name": "kb", "permission": "all"}, [problem("permission", "Input should be 'me' or 'team'",
                                                   "all")]),
    ({"name": "kb", "permission": None}, [problem("permission", "Input should be 'me' or 'team'",
                                                  "None")]),
    ({"name": "kb", "chunk_method": "resume"}, [problem(
        "chunk_method", "Input should be 'naive', 'book', 'email', 'laws', 'manual', 'one', "
        "'paper', 'picture', 'presentation', 'qa', 'table' or 'tag'", "resume")]),
    ({"name": "kb", "chunk_method": None}, [problem(
        "chunk_method", "Input should be 'naive', 'book', 'email', 'laws', 'manual', 'one', "
        "'paper', 'picture', 'presentation', 'qa', 'table' or 'tag'", "None")]),
    ({"name": "kb", "parser_config": "x"}, [problem(
        "parser_config", "Input should be a valid dictionary or instance of ParserConfig", "x")]),
    ({"name": "kb", "pagerank": 1}, [problem("pagerank", "Extra inputs are not permitted", "1")]),
    ({"name": "", "permission": "x", "extra": [1]}, [
        problem("name", "String should have at least 1 character", ""),
        problem("permission", "Input should be 'me' or 'team'", "x"),
        problem("extra", "Extra inputs are not permitted", "[1]")]),
    ({"name": "a\x00b"}, [problem(
        "name", "String should not contain NUL characters or unpaired surrogates", "a\x00b")]),
])
def test_each_rule_of_the_body(current, body, lines):
    refused(current.client.post(Current.URL, json=body, headers=current.headers), *lines)
    assert current.list().json["data"] == []


@pytest.mark.parametrize("path, value, message", [
    ("auto_keywords", -1, "Input should be greater than or equal to 0"),
    ("auto_keywords", 33, "Input should be less than or equal to 32"),
    ("auto_keywords", 1.0, "Input should be a valid integer"),
    ("auto_keywords", True, "Input should be a valid integer"),
    ("auto_questions", 11, "Input should be less than or equal to 10"),
    ("chunk_token_num", 0, "Input should be greater than or equal to 1"),
    ("chunk_token_num", 2049, "Input should be less than or equal to 2048"),
    ("delimiter", "", "String should have at least 1 character"),
    ("html4excel", "true", "Input should be a valid boolean"),
    ("layout_recognize", 1, "Input should be a valid string"),
    ("tag_kb_ids", "x", "Input should be a valid list"),
    ("tag_kb_ids.0", 2, "Input should be a valid string"),
    ("topn_tags", 0, "Input should be greater than or equal to 1"),
    ("topn_tags", 11, "Input should be less than or equal to 10"),
    ("filename_embd_weight", 1.5, "Input should be less than or equal to 1.0"),
    ("filename_embd_weight", -0.1, "Input should be greater than or equal to 0.0"),
    ("filename_embd_weight", "0.5", "Input should be a valid number"),
    ("task_page_size", 0, "Input should be greater than or equal to 1"),
    ("pages.0.1", "9", "Input should be a valid integer"),
    ("pages.0", 9, "Input should be a valid list"),
    ("raptor", [], "Input should be a valid dictionary or instance of RaptorConfig"),
    ("raptor.use_raptor", 1, "Input should be a valid boolean"),
    ("raptor.prompt", " ", "String should have at least 1 character"),
    ("raptor.max_token", 2049, "Input should be less than or equal to 2048"),
    ("raptor.threshold", 1.01, "Input should be less than or equal to 1.0"),
    ("raptor.max_cluster", 1025, "Input should be less than or equal to 1024"),
    ("raptor.max_cluster", 0, "Input should be greater than or equal to 1"),
    ("raptor.random_seed", -1, "Input should be greater than or equal to 0"),
    ("raptor.other", 1, "Extra inputs are not permitted"),
    ("graphrag", None, "Input should be a valid dictionary or instance of GraphragConfig"),
    ("graphrag.method", "heavy", "Input should be 'light' or 'general'"),
    ("graphrag.entity_types.0", 1, "Input should be a valid string"),
    ("graphrag.community", "no", "Input should be a valid boolean"),
    ("parent_child", 0, "Input should be a valid dictionary or instance of ParentChildConfig"),
    ("parent_child.use_parent_child", None, "Input should be a valid boolean"),
    ("parent_child.children_delimiter", 1, "Input should be a valid string"),
    ("llm_id", "x@y", "Extra inputs are not permitted"),
])
def test_each_rule_of_parser_config(current, path, value, message):
    config = value
    for part in reversed(path.split(".")):  # lists stand in for an index
        config = [1, config] if part == "1" else [config] if part == "0" else {part: config}
    refused(current.create("kb", parser_config=config),
            problem(f"parser_config.{path}", message, value))


def test_parser_config_of_more_than_65535_characters(current):
    config = {"tag_kb_ids": ["x" * 1000] * 66}
    response = current.create("kb", parser_config=config)
    assert response.json["code"] == 101
    assert "Message: <Parser config exceeds size limit (max 65,535 characters). Current size: " \
        in response.json["message"]


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
