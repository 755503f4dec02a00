"""RAGFlow v0.27.0's dataset cases, written from its request models, defaults and service.

Each case is a request and what RAGFlow answers to it: `code` and either the exact `message`
(an error) or fields the answer's `data` must hold (a success). In messages, `{tenant}` is the
caller's tenant id and `{id}` the id of the dataset the case works on; in requests, `{id}` and
`{other}` are the ids of the two datasets every update and list case starts with.
"""

from typing import NamedTuple

HEX = "3b4d6a2e9f0c4f1e8a7b5c3d2e1f0a9b"  # a UUID no dataset has
PNG = "data:image/png;base64,iVBORw0KGgo="
LITERAL_METHODS = ("Input should be 'naive', 'book', 'email', 'laws', 'manual', 'one', 'paper', "
                   "'picture', 'presentation', 'qa', 'table', 'tag' or 'resume'")
PROMPT = ("Summarize the paragraphs below without inventing facts or changing numbers.\n"
          "Output exactly two parts in the same language as the source:\n"
          "1. First line: a concise title only.\n"
          "2. Following lines: a concise summary of the content.\n"
          "Do not output labels, Markdown headings, bullet points, or any other commentary.\n\n"
          "Paragraphs:\n{cluster_content}")
ENTITY_TYPES = ["organization", "person", "geo", "event", "category"]
TIMEOUTS = {"batch_chunk_token_size": 4096, "retry_attempts": 2, "retry_backoff_seconds": 2.0,
            "retry_backoff_max_seconds": 60.0, "build_subgraph_timeout_per_chunk_seconds": 300,
            "build_subgraph_min_timeout_seconds": 600, "merge_timeout_seconds": 180,
            "resolution_timeout_seconds": 1800, "community_timeout_seconds": 1800,
            "lock_acquire_timeout_seconds": 600}
BASE = {"table_context_size": 0, "image_context_size": 0}
OFF = {**BASE, "raptor": {"use_raptor": False}, "graphrag": {"use_graphrag": False}}
# get_parser_config's configuration of each chunk method, for a parser_config unset or empty.
DEFAULTS = {
    "naive": {
        **BASE, "layout_recognize": "DeepDOC", "chunk_token_num": 512, "delimiter": "\n",
        "auto_keywords": 0, "auto_questions": 0, "html4excel": False, "topn_tags": 3,
        "raptor": {"use_raptor": True, "prompt": PROMPT, "max_token": 512,
                   "clustering_threshold": 0.3, "clustering_ratio": 0.5, "max_cluster": 64,
                   "random_seed": 0},
        "graphrag": {"use_graphrag": True, "entity_types": ENTITY_TYPES, "method": "light",
                     **TIMEOUTS},
        "parent_child": {"use_parent_child": False, "children_delimiter": "\n"},
        "children_delimiter": "",
    },
    **{method: OFF for method in ("qa", "manual", "paper", "book", "laws", "presentation")},
    **{method: BASE for method in ("tag", "resume", "table", "one", "email", "picture")},
}
# A parser_config sent on create: every field of the model at its default, then laid on
# get_parser_config's defaults (for every method, the model's fields cover the method's).
FILLED = {
    **BASE, "auto_keywords": 0, "auto_questions": 0, "chunk_token_num": 512, "delimiter": "\n",
    "graphrag": {"use_graphrag": False, "entity_types": ENTITY_TYPES, "method": "light",
                 "community": False, "resolution": False, **TIMEOUTS},
    "html4excel": False, "layout_recognize": "DeepDOC",
    "parent_child": {"use_parent_child": False, "children_delimiter": "\n"},
    "enable_children": False, "children_delimiter": "",
    "raptor": {"use_raptor": False, "prompt": PROMPT, "max_token": 512,
               "clustering_threshold": 0.3, "clustering_ratio": 0.5, "max_cluster": 64,
               "random_seed": 0, "scope": "file", "auto_disable_for_structured_data": True},
    "tag_kb_ids": [], "topn_tags": 1, "filename_embd_weight": 0.1, "task_page_size": None,
    "pages": None, "compilation_template_group_id": [], "ext": {}, "table_column_mode": None,
    "table_column_roles": None, "table_column_names": None,
}


class Case(NamedTuple):
    request: dict  # a body, or for a list its query
    code: int
    expected: str | dict  # the message, or fields of `data`
    path_id: str = "{id}"  # an update's dataset


def P(field, message, value):
    """One line of RAGFlow's validation message."""
    return f"Field: <{field}> - Message: <{message}> - Value: <{value}>"


def cut(text):
    return text if len(text) <= 128 else text[:125] + "..."


def bad(*lines):
    return "\n".join(lines)


def parser(field, message, value):
    return P(f"parser_config.{field}", message, value)


def ok(**fields):
    return fields


GE = "Input should be greater than or equal to {}".format
LE = "Input should be less than or equal to {}".format
AT_LEAST = "String should have at least {} character{}".format
STRING = "Input should be a valid string"
INTEGER = "Input should be a valid integer"
NUMBER = "Input should be a valid number"
BOOLEAN = "Input should be a valid boolean"
A_LIST = "Input should be a valid list"
DICT = "Input should be a valid dictionary"
EXTRA = "Extra inputs are not permitted"
REQUIRED = "Field required"


def model_type(name):
    return f"Input should be a valid dictionary or instance of {name}"


def with_config(**config):
    """A parser_config as a create's answer holds it: FILLED with `config` merged in."""
    filled = {key: dict(value) if isinstance(value, dict) else value
              for key, value in FILLED.items()}
    for key, value in config.items():
        if isinstance(value, dict) and isinstance(filled.get(key), dict):
            filled[key].update(value)
        else:
            filled[key] = value
    return filled


CREATE = [
    # name: required, trimmed, 1 to 128 characters
    Case({}, 101, P("name", REQUIRED, "{}")),
    Case({"name": ""}, 101, P("name", AT_LEAST(1, ""), "")),
    Case({"name": "   "}, 101, P("name", AT_LEAST(1, ""), "   ")),
    Case({"name": "a" * 129}, 101,
         P("name", "String should have at most 128 characters", cut("a" * 129))),
    Case({"name": " " + "a" * 128 + " "}, 0, ok(name="a" * 128)),
    Case({"name": 1}, 101, P("name", STRING, 1)),
    Case({"name": None}, 101, P("name", STRING, None)),
    Case({"name": "  kb  "}, 0, ok(name="kb")),
    # avatar
    Case({"name": "kb", "avatar": "iVBORw0KGgo="}, 101, P(
        "avatar", "missing MIME prefix. Expected format: data:<mime>;base64,<data>",
        "iVBORw0KGgo=")),
    Case({"name": "kb", "avatar": "text:image/png;base64,x"}, 101, P(
        "avatar", "invalid MIME prefix format. Must start with 'data:'",
        "text:image/png;base64,x")),
    Case({"name": "kb", "avatar": "data:image/gif;base64,x"}, 101, P(
        "avatar", "Unsupported MIME type. Allowed: ['image/jpeg', 'image/png']",
        "data:image/gif;base64,x")),
    Case({"name": "kb", "avatar": PNG}, 0, ok(avatar=PNG)),
    Case({"name": "kb", "avatar": "data:image/jpeg;base64,x"}, 0,
         ok(avatar="data:image/jpeg;base64,x")),
    Case({"name": "kb", "avatar": ""}, 0, ok(avatar="")),
    Case({"name": "kb", "avatar": None}, 0, ok(avatar=None)),
    Case({"name": "kb", "avatar": 1}, 101, P("avatar", STRING, 1)),
    Case({"name": "kb", "avatar": "data:image/png;base64," + "a" * 65514}, 101, P(
        "avatar", "String should have at most 65535 characters",
        cut("data:image/png;base64," + "a" * 65514))),
    # description
    Case({"name": "kb", "description": "a" * 65536}, 101, P(
        "description", "String should have at most 65535 characters", cut("a" * 65536))),
    Case({"name": "kb", "description": 1}, 101, P("description", STRING, 1)),
    Case({"name": "kb", "description": "about"}, 0, ok(description="about")),
    # embedding_model: the format, then the tenant's models (the configured ones here)
    Case({"name": "kb", "embedding_model": "bge"}, 101, P(
        "embedding_model",
        "embedding model identifier must follow <model_name>@<provider> format", "bge")),
    Case({"name": "kb", "embedding_model": "  "}, 101, P(
        "embedding_model",
        "embedding model identifier must follow <model_name>@<provider> format", "  ")),
    Case({"name": "kb", "embedding_model": "@Builtin"}, 101, P(
        "embedding_model", "both model_name and provider must be non-empty strings",
        "@Builtin")),
    Case({"name": "kb", "embedding_model": "bge@"}, 101, P(
        "embedding_model", "both model_name and provider must be non-empty strings", "bge@")),
    Case({"name": "kb", "embedding_model": "a" * 256}, 101, P(
        "embedding_model", "String should have at most 255 characters", cut("a" * 256))),
    Case({"name": "kb", "embedding_model": 1}, 101, P("embedding_model", STRING, 1)),
    Case({"name": "kb", "embedding_model": "BAAI/bge-small-en-v1.5@Unknown"}, 102,
         "Provider Unknown not found for model BAAI/bge-small-en-v1.5@Unknown."),
    Case({"name": "kb", "embedding_model": "other@Builtin"}, 102,
         "Model other@Builtin not found for model embedding"),
    Case({"name": "kb", "embedding_model": " BAAI/bge-small-en-v1.5@Local@Builtin "}, 0,
         ok(embedding_model="BAAI/bge-small-en-v1.5@Local@Builtin")),
    Case({"name": "kb", "embedding_model": "BAAI/bge-small-en-v1.5@Builtin"}, 0,
         ok(embedding_model="BAAI/bge-small-en-v1.5@Builtin")),
    # permission: exactly 'me' or 'team'
    Case({"name": "kb", "permission": "team"}, 0, ok(permission="team")),
    *(Case({"name": "kb", "permission": value}, 101,
           P("permission", "Input should be 'me' or 'team'", value))
      for value in ("ME", "", " me", 1, None)),
    # chunk_method: thirteen, resume included; no null without a pipeline
    *(Case({"name": "kb", "chunk_method": method}, 0,
           ok(chunk_method=method, parser_config=DEFAULTS[method])) for method in DEFAULTS),
    *(Case({"name": "kb", "chunk_method": value}, 101, P("chunk_method", LITERAL_METHODS, value))
      for value in ("knowledge_graph", "", "Naive", None, 1, ["naive"])),
    # parse_type and pipeline_id: a pipeline instead of a chunk method, never with one
    Case({"name": "kb", "parse_type": 2, "pipeline_id": HEX}, 0,
         ok(chunk_method="naive", parser_config=DEFAULTS["naive"])),
    Case({"name": "kb", "chunk_method": None, "parse_type": 2, "pipeline_id": HEX}, 0,
         ok(chunk_method="naive")),
    Case({"name": "kb", "chunk_method": "qa", "parse_type": 1}, 0, ok(chunk_method="qa")),
    Case({"name": "kb", "parse_type": 1}, 101, P(
        "", "parser_id omitted \u2192 required fields missing: pipeline_id",
        "{'name': 'kb', 'parse_type': 1}")),
    Case({"name": "kb", "pipeline_id": HEX}, 101, P(
        "", "parser_id omitted \u2192 required fields missing: parse_type",
        f"{{'name': 'kb', 'pipeline_id': '{HEX}'}}")),
    Case({"name": "kb", "parse_type": 1, "pipeline_id": HEX}, 101, P(  # 1 drops the pipeline
        "", "parser_id omitted \u2192 required fields missing: pipeline_id",
        f"{{'name': 'kb', 'parse_type': 1, 'pipeline_id': '{HEX}'}}")),
    Case({"name": "kb", "parse_type": 1, "pipeline_id": 1}, 101, P(
        "", "parser_id omitted \u2192 required fields missing: pipeline_id",
        "{'name': 'kb', 'parse_type': 1, 'pipeline_id': 1}")),
    Case({"name": "kb", "chunk_method": "naive", "parse_type": 2}, 101, P(
        "", "parser_id provided \u2192 disallowed fields present: parse_type",
        "{'name': 'kb', 'chunk_method': 'naive', 'parse_type': 2}")),
    Case({"name": "kb", "chunk_method": "naive", "pipeline_id": HEX}, 101, P(
        "", "parser_id provided \u2192 disallowed fields present: pipeline_id",
        f"{{'name': 'kb', 'chunk_method': 'naive', 'pipeline_id': '{HEX}'}}")),
    Case({"name": "kb", "chunk_method": "naive", "parse_type": 2, "pipeline_id": HEX}, 101, P(
        "", "parser_id provided \u2192 disallowed fields present: parse_type, pipeline_id",
        f"{{'name': 'kb', 'chunk_method': 'naive', 'parse_type': 2, 'pipeline_id': '{HEX}'}}")),
    Case({"name": "kb", "parse_type": 65, "pipeline_id": HEX}, 101,
         P("parse_type", LE(64), 65)),
    Case({"name": "kb", "parse_type": -1, "pipeline_id": HEX}, 101, P("parse_type", GE(0), -1)),
    *(Case({"name": "kb", "parse_type": value, "pipeline_id": HEX}, 101,
           P("parse_type", INTEGER, value)) for value in ("1", True, 1.0)),
    Case({"name": "kb", "parse_type": 2, "pipeline_id": "abc"}, 101,
         P("pipeline_id", AT_LEAST(32, "s"), "abc")),
    Case({"name": "kb", "parse_type": 2, "pipeline_id": ""}, 101,
         P("pipeline_id", AT_LEAST(32, "s"), "")),
    Case({"name": "kb", "parse_type": 2, "pipeline_id": "a" * 33}, 101,
         P("pipeline_id", "String should have at most 32 characters", "a" * 33)),
    Case({"name": "kb", "parse_type": 2, "pipeline_id": "g" * 32}, 101,
         P("pipeline_id", "pipeline_id must be hexadecimal", "g" * 32)),
    Case({"name": "kb", "parse_type": 2, "pipeline_id": 1}, 101, P("pipeline_id", STRING, 1)),
    # parser_config: unset, null or {} is the chunk method's default; else the model, filled
    Case({"name": "kb", "parser_config": {}}, 0, ok(parser_config=DEFAULTS["naive"])),
    Case({"name": "kb", "parser_config": None}, 0, ok(parser_config=DEFAULTS["naive"])),
    Case({"name": "kb", "chunk_method": "qa", "parser_config": {}}, 0,
         ok(parser_config=DEFAULTS["qa"])),
    Case({"name": "kb", "parser_config": {"chunk_token_num": 1024}}, 0,
         ok(parser_config=with_config(chunk_token_num=1024))),
    Case({"name": "kb", "chunk_method": "table", "parser_config": {"html4excel": True}}, 0,
         ok(parser_config=with_config(html4excel=True))),
    Case({"name": "kb", "parser_config": {"parent_child": {"use_parent_child": True}}}, 0,
         ok(parser_config=with_config(parent_child={"use_parent_child": True},
                                      children_delimiter="\n"))),
    Case({"name": "kb", "parser_config": {
        "raptor": {"max_token": 100, "threshold": 0.5, "tree_builder": "x",
                   "clustering_method": "x", "ext": {"clustering_threshold": 0.9}},
        "graphrag": {"method": "ner", "entity_types": []},
        "compilation_template_group_id": [" a ", "a", 1, ""],
        "table_column_mode": "manual", "table_column_roles": {"c": "vectorize", "d": "both"},
        "pages": [[1, 5]], "task_page_size": 12, "filename_embd_weight": None,
        "ext": {"x": 1}}}, 0,
        ok(parser_config=with_config(
            raptor={"max_token": 512, "clustering_threshold": 0.9},
            graphrag={"method": "ner", "entity_types": []},
            compilation_template_group_id=["a"], table_column_mode="manual",
            table_column_roles={"c": "indexing", "d": "both"}, pages=[[1, 5]],
            task_page_size=12, filename_embd_weight=None, ext={"x": 1}))),
    Case({"name": "kb", "parser_config": {"compilation_template_group_id": "g"}}, 0,
         ok(parser_config=with_config(compilation_template_group_id=["g"]))),
    Case({"name": "kb", "parser_config": {"compilation_template_group_id": 5}}, 0,
         ok(parser_config=with_config())),
    *(Case({"name": "kb", "parser_config": value}, 101,
           P("parser_config", model_type("ParserConfig"), value)) for value in ("x", [], 1)),
    Case({"name": "kb", "parser_config": {"auto_keywords": -1}}, 101,
         parser("auto_keywords", GE(0), -1)),
    Case({"name": "kb", "parser_config": {"auto_keywords": 33}}, 101,
         parser("auto_keywords", LE(32), 33)),
    *(Case({"name": "kb", "parser_config": {"auto_keywords": value}}, 101,
           parser("auto_keywords", INTEGER, value)) for value in (1.5, 1.0, "1", True)),
    Case({"name": "kb", "parser_config": {"auto_questions": 11}}, 101,
         parser("auto_questions", LE(10), 11)),
    Case({"name": "kb", "parser_config": {"chunk_token_num": 0}}, 101,
         parser("chunk_token_num", GE(1), 0)),
    Case({"name": "kb", "parser_config": {"chunk_token_num": 2049}}, 101,
         parser("chunk_token_num", LE(2048), 2049)),
    Case({"name": "kb", "parser_config": {"delimiter": ""}}, 101,
         parser("delimiter", AT_LEAST(1, ""), "")),
    Case({"name": "kb", "parser_config": {"html4excel": "true"}}, 101,
         parser("html4excel", BOOLEAN, "true")),
    Case({"name": "kb", "parser_config": {"layout_recognize": 1}}, 101,
         parser("layout_recognize", STRING, 1)),
    Case({"name": "kb", "parser_config": {"enable_children": 1}}, 101,
         parser("enable_children", BOOLEAN, 1)),
    Case({"name": "kb", "parser_config": {"children_delimiter": 1}}, 101,
         parser("children_delimiter", STRING, 1)),
    Case({"name": "kb", "parser_config": {"tag_kb_ids": "x"}}, 101,
         parser("tag_kb_ids", A_LIST, "x")),
    Case({"name": "kb", "parser_config": {"tag_kb_ids": ["a", 1]}}, 101,
         parser("tag_kb_ids.1", STRING, 1)),
    Case({"name": "kb", "parser_config": {"topn_tags": 0}}, 101, parser("topn_tags", GE(1), 0)),
    Case({"name": "kb", "parser_config": {"topn_tags": 11}}, 101,
         parser("topn_tags", LE(10), 11)),
    Case({"name": "kb", "parser_config": {"filename_embd_weight": 1.1}}, 101,
         parser("filename_embd_weight", LE(1), 1.1)),
    Case({"name": "kb", "parser_config": {"filename_embd_weight": -0.1}}, 101,
         parser("filename_embd_weight", GE(0), -0.1)),
    Case({"name": "kb", "parser_config": {"filename_embd_weight": "0.5"}}, 101,
         parser("filename_embd_weight", NUMBER, "0.5")),
    Case({"name": "kb", "parser_config": {"task_page_size": 0}}, 101,
         parser("task_page_size", GE(1), 0)),
    Case({"name": "kb", "parser_config": {"pages": "x"}}, 101, parser("pages", A_LIST, "x")),
    Case({"name": "kb", "parser_config": {"pages": [[1, "a"], 2]}}, 101, bad(
        parser("pages.0.1", INTEGER, "a"), parser("pages.1", A_LIST, 2))),
    Case({"name": "kb", "parser_config": {"ext": []}}, 101, parser("ext", DICT, [])),
    Case({"name": "kb", "parser_config": {"table_column_mode": "x"}}, 101,
         parser("table_column_mode", "Input should be 'auto' or 'manual'", "x")),
    Case({"name": "kb", "parser_config": {"table_column_roles": {"c": "vectorize", "d": "x"}}},
         101, parser("table_column_roles.d",
                     "Input should be 'indexing', 'metadata' or 'both'", "x")),
    Case({"name": "kb", "parser_config": {"table_column_roles": "x"}}, 101,
         parser("table_column_roles", DICT, "x")),
    Case({"name": "kb", "parser_config": {"table_column_names": [1]}}, 101,
         parser("table_column_names.0", STRING, 1)),
    *(Case({"name": "kb", "parser_config": {field: 1}}, 101, parser(field, EXTRA, 1))
      for field in ("llm_id", "entity_types", "foo")),
    # parser_config.raptor
    Case({"name": "kb", "parser_config": {"raptor": "x"}}, 101,
         parser("raptor", model_type("RaptorConfig"), "x")),
    Case({"name": "kb", "parser_config": {"raptor": {"use_raptor": "yes"}}}, 101,
         parser("raptor.use_raptor", BOOLEAN, "yes")),
    Case({"name": "kb", "parser_config": {"raptor": {"prompt": "  "}}}, 101,
         parser("raptor.prompt", AT_LEAST(1, ""), "  ")),
    Case({"name": "kb", "parser_config": {"raptor": {"max_token": 2049}}}, 101,
         parser("raptor.max_token", LE(2048), 2049)),
    Case({"name": "kb", "parser_config": {"raptor": {"max_token": 600.5}}}, 101,
         parser("raptor.max_token", INTEGER, 600.5)),
    Case({"name": "kb", "parser_config": {"raptor": {"max_token": -3}}}, 0,
         ok(parser_config=with_config(raptor={"max_token": 512}))),
    Case({"name": "kb", "parser_config": {"raptor": {"clustering_threshold": 1.5}}}, 101,
         parser("raptor.clustering_threshold", LE(1), 1.5)),
    Case({"name": "kb", "parser_config": {"raptor": {"clustering_ratio": -1}}}, 101,
         parser("raptor.clustering_ratio", GE(0), -1)),
    Case({"name": "kb", "parser_config": {"raptor": {"max_cluster": 0}}}, 101,
         parser("raptor.max_cluster", GE(1), 0)),
    Case({"name": "kb", "parser_config": {"raptor": {"max_cluster": 1025}}}, 101,
         parser("raptor.max_cluster", LE(1024), 1025)),
    Case({"name": "kb", "parser_config": {"raptor": {"random_seed": -1}}}, 101,
         parser("raptor.random_seed", GE(0), -1)),
    Case({"name": "kb", "parser_config": {"raptor": {"scope": "all"}}}, 101,
         parser("raptor.scope", "Input should be 'file' or 'dataset'", "all")),
    Case({"name": "kb", "parser_config": {"raptor": {"auto_disable_for_structured_data": 0}}},
         101, parser("raptor.auto_disable_for_structured_data", BOOLEAN, 0)),
    Case({"name": "kb", "parser_config": {"raptor": {"foo": 1}}}, 101,
         parser("raptor.foo", EXTRA, 1)),
    # parser_config.graphrag
    Case({"name": "kb", "parser_config": {"graphrag": "x"}}, 101,
         parser("graphrag", model_type("GraphragConfig"), "x")),
    Case({"name": "kb", "parser_config": {"graphrag": {"method": "x"}}}, 101,
         parser("graphrag.method", "Input should be 'light', 'general' or 'ner'", "x")),
    Case({"name": "kb", "parser_config": {"graphrag": {"entity_types": [1]}}}, 101,
         parser("graphrag.entity_types.0", STRING, 1)),
    Case({"name": "kb", "parser_config": {"graphrag": {"community": "x"}}}, 101,
         parser("graphrag.community", BOOLEAN, "x")),
    *(Case({"name": "kb", "parser_config": {"graphrag": {field: value}}}, 101,
           parser(f"graphrag.{field}", message, value))
      for field, value, message in [
          ("batch_chunk_token_size", 511, GE(512)), ("batch_chunk_token_size", 8197, LE(8196)),
          ("retry_attempts", 0, GE(1)), ("retry_attempts", 11, LE(10)),
          ("retry_backoff_seconds", 600.5, LE(600)), ("retry_backoff_seconds", -1, GE(0)),
          ("retry_backoff_max_seconds", 3601, LE(3600)),
          ("build_subgraph_timeout_per_chunk_seconds", 0, GE(1)),
          ("build_subgraph_min_timeout_seconds", 86401, LE(86400)),
          ("merge_timeout_seconds", -1, GE(0)), ("resolution_timeout_seconds", 86401, LE(86400)),
          ("community_timeout_seconds", -1, GE(0)),
          ("lock_acquire_timeout_seconds", 1.5, INTEGER), ("foo", 1, EXTRA)]),
    # parser_config.parent_child
    Case({"name": "kb", "parser_config": {"parent_child": "x"}}, 101,
         parser("parent_child", model_type("ParentChildConfig"), "x")),
    Case({"name": "kb", "parser_config": {"parent_child": {"children_delimiter": ""}}}, 101,
         parser("parent_child.children_delimiter", AT_LEAST(1, ""), "")),
    Case({"name": "kb", "parser_config": {"parent_child": {"use_parent_child": "x"}}}, 101,
         parser("parent_child.use_parent_child", BOOLEAN, "x")),
    # its size, as JSON with every default
    Case({"name": "kb", "parser_config": {"delimiter": "a" * 70000}}, 101, P(
        "parser_config", "Parser config exceeds size limit (max 65,535 characters). Current "
        "size: 71476", cut(str({"delimiter": "a" * 70000})))),
    # auto_metadata_config: checked; RAGFlow v0.27.0 keeps no field of it
    Case({"name": "kb", "auto_metadata_config": {"metadata": [{"key": "k", "type": "list"}]}},
         0, ok(parser_config={**DEFAULTS["naive"], "metadata": [], "enable_metadata": True})),
    Case({"name": "kb", "auto_metadata_config": "x"}, 101,
         P("auto_metadata_config", model_type("AutoMetadataConfig"), "x")),
    Case({"name": "kb", "auto_metadata_config": {"metadata": [{}]}}, 101, bad(
        P("auto_metadata_config.metadata.0.key", REQUIRED, "{}"),
        P("auto_metadata_config.metadata.0.type", REQUIRED, "{}"))),
    Case({"name": "kb", "auto_metadata_config": {"built_in_metadata": [
        {"key": " ", "type": "date", "description": 1, "enum": [1], "foo": 1}]}}, 101, bad(
        P("auto_metadata_config.built_in_metadata.0.key", AT_LEAST(1, ""), " "),
        P("auto_metadata_config.built_in_metadata.0.type",
          "Input should be 'string', 'list', 'time' or 'number'", "date"),
        P("auto_metadata_config.built_in_metadata.0.description", STRING, 1),
        P("auto_metadata_config.built_in_metadata.0.enum.0", STRING, 1),
        P("auto_metadata_config.built_in_metadata.0.foo", EXTRA, 1))),
    Case({"name": "kb", "auto_metadata_config": {"fields": []}}, 101,
         P("auto_metadata_config.fields", EXTRA, [])),
    # ext: a dictionary
    Case({"name": "kb", "ext": "x"}, 101, P("ext", DICT, "x")),
    Case({"name": "kb", "ext": {}}, 0, ok(name="kb")),
    # unknown fields, and the order of several problems: the model's fields', then extras
    Case({"name": "kb", "pagerank": 1}, 101, P("pagerank", EXTRA, 1)),
    Case({"foo": 1, "parser_config": {"topn_tags": 0, "raptor": {"max_cluster": 0}},
          "permission": "x", "name": ""}, 101, bad(
        P("name", AT_LEAST(1, ""), ""), P("permission", "Input should be 'me' or 'team'", "x"),
        parser("raptor.max_cluster", GE(1), 0), parser("topn_tags", GE(1), 0),
        P("foo", EXTRA, 1))),
]

# Each update case runs on a fresh naive dataset `kb` ({id}) beside another, `other`.
UPDATE = [
    Case({}, 102, "no properties were modified"),
    Case({"name": ""}, 101, P("name", AT_LEAST(1, ""), "")),
    Case({"name": 1}, 101, P("name", STRING, 1)),
    Case({"name": "a" * 129}, 101,
         P("name", "String should have at most 128 characters", cut("a" * 129))),
    Case({"name": " renamed "}, 0, ok(name="renamed")),
    Case({"name": "KB"}, 0, ok(name="KB")),
    Case({"name": "OTHER"}, 102, "Dataset name 'OTHER' already exists"),
    Case({"name": "n"}, 101, P("dataset_id", "Invalid UUID format", "x"), path_id="x"),
    Case({"name": "n"}, 102, f"User '{{tenant}}' lacks permission for dataset '{HEX}'",
         path_id=HEX),
    Case({"name": "n"}, 102, f"User '{{tenant}}' lacks permission for dataset '{HEX}'",
         path_id="3b4d6a2e-9f0c-4f1e-8a7b-5c3d2e1f0a9b"),
    Case({"pagerank": 101}, 101, P("pagerank", LE(100), 101)),
    Case({"pagerank": -1}, 101, P("pagerank", GE(0), -1)),
    Case({"pagerank": "1"}, 101, P("pagerank", INTEGER, "1")),
    Case({"pagerank": 7}, 0, ok(pagerank=7)),
    Case({"language": "a" * 33}, 101,
         P("language", "String should have at most 32 characters", "a" * 33)),
    Case({"language": "Chinese"}, 0, ok(language="Chinese")),
    Case({"connectors": "x"}, 101, P("connectors", A_LIST, "x")),
    Case({"connectors": [1]}, 101, P("connectors.0", DICT, 1)),
    Case({"connectors": [{"id": "c"}]}, 0, ok(connectors=[{"id": "c"}])),
    Case({"description": None}, 0, ok(description=None, connectors=[])),
    Case({"avatar": PNG, "description": "about"}, 0, ok(avatar=PNG, description="about")),
    Case({"avatar": "x"}, 101, P(
        "avatar", "missing MIME prefix. Expected format: data:<mime>;base64,<data>", "x")),
    Case({"permission": "TEAM"}, 101, P("permission", "Input should be 'me' or 'team'", "TEAM")),
    Case({"chunk_method": "resume"}, 0, ok(chunk_method="resume", parser_config=BASE)),
    Case({"chunk_method": "qa"}, 0, ok(chunk_method="qa", parser_config=DEFAULTS["qa"])),
    Case({"chunk_method": "qa", "parser_config": {}}, 0, ok(parser_config=DEFAULTS["qa"])),
    Case({"chunk_method": "naive"}, 0, ok(parser_config=DEFAULTS["naive"])),
    Case({"chunk_method": "laws", "parser_config": {"chunk_token_num": 100}}, 0, ok(
        chunk_method="laws", parser_config={**DEFAULTS["naive"], "chunk_token_num": 100,
                                            "enable_children": False})),
    Case({"chunk_method": ""}, 101, P("chunk_method", LITERAL_METHODS, "")),
    Case({"chunk_method": None}, 101, P("chunk_method", LITERAL_METHODS, None)),
    Case({"parser_config": {}}, 0, ok(parser_config=DEFAULTS["naive"])),
    Case({"parser_config": {"raptor": {"use_raptor": False, "max_token": 9}}}, 0, ok(
        parser_config={**DEFAULTS["naive"], "enable_children": False,
                       "raptor": {**DEFAULTS["naive"]["raptor"], "use_raptor": False}})),
    Case({"parser_config": {"parent_child": {"use_parent_child": True,
                                             "children_delimiter": ";"}}}, 0,
         ok(parser_config={**DEFAULTS["naive"], "children_delimiter": ";",
                           "enable_children": True,
                           "parent_child": {"use_parent_child": True,
                                            "children_delimiter": ";"}})),
    Case({"parser_config": {"ext": {"chunk_token_num": 64, "extra": 1}}}, 0, ok(
        parser_config={**DEFAULTS["naive"], "enable_children": False, "chunk_token_num": 64,
                       "extra": 1})),
    Case({"parser_config": {"chunk_token_num": 0}}, 101, parser("chunk_token_num", GE(1), 0)),
    Case({"auto_metadata_config": {}}, 0, ok(parser_config={
        **DEFAULTS["naive"], "enable_children": False, "metadata": [],
        "enable_metadata": True})),
    Case({"parse_type": 1}, 101, P(
        "", "parser_id omitted \u2192 required fields missing: pipeline_id",
        "{'parse_type': 1, 'dataset_id': '{id}'}")),
    Case({"chunk_method": "naive", "pipeline_id": HEX}, 101, P(
        "", "parser_id provided \u2192 disallowed fields present: pipeline_id",
        f"{{'chunk_method': 'naive', 'pipeline_id': '{HEX}', 'dataset_id': '{{id}}'}}")),
    Case({"parse_type": 2, "pipeline_id": HEX}, 0, ok(chunk_method="naive")),
    Case({"embedding_model": "bge"}, 101, P(
        "embedding_model",
        "embedding model identifier must follow <model_name>@<provider> format", "bge")),
    Case({"embedding_model": "x@Unknown"}, 102, "Provider Unknown not found for model x@Unknown."),
    Case({"embedding_model": None}, 0,
         ok(embedding_model="BAAI/bge-small-en-v1.5@Local@Builtin")),
    Case({"embedding_model": "BAAI/bge-small-en-v1.5@Builtin"}, 0,
         ok(embedding_model="BAAI/bge-small-en-v1.5@Builtin")),
    Case({"ext": "x"}, 101, P("ext", DICT, "x")),
    Case({"ext": {}}, 0, ok(name="kb")),
    Case({"foo": 1}, 101, P("foo", EXTRA, 1)),
    Case({"foo": 2, "pagerank": "a", "ext": 1, "name": 1}, 101, bad(
        P("name", STRING, 1), P("ext", DICT, 1), P("dataset_id", "Invalid UUID format", "x"),
        P("pagerank", INTEGER, "a"), P("foo", EXTRA, 2)), path_id="x"),
]

# Each list case runs on two naive datasets, `kb` ({id}) made first, then `other` ({other}).
LIST = [
    Case({}, 0, ok(names=["other", "kb"], total=2)),
    Case({"desc": "false"}, 0, ok(names=["kb", "other"], total=2)),
    Case({"page": "2", "page_size": "1"}, 0, ok(names=["kb"], total=2)),
    Case({"page": "3", "page_size": "1"}, 0, ok(names=[], total=2)),
    Case({"page": " 1.00 ", "page_size": "1_0"}, 0, ok(names=["other", "kb"], total=2)),
    Case({"page": "0"}, 101, P("page", GE(1), "0")),
    *(Case({"page": value}, 101, P(
        "page", "Input should be a valid integer, unable to parse string as an integer", value))
      for value in ("a", "1.5", "", "0x10")),
    Case({"page_size": "0"}, 101, P("page_size", GE(1), "0")),
    Case({"orderby": "name"}, 101,
         P("orderby", "Input should be 'create_time' or 'update_time'", "name")),
    Case({"orderby": "update_time"}, 0, ok(names=["other", "kb"], total=2)),
    *(Case({"desc": value}, 101, P(
        "desc", "Input should be a valid boolean, unable to interpret input", value))
      for value in ("x", "2", " true")),
    Case({"desc": "No"}, 0, ok(names=["kb", "other"], total=2)),
    Case({"id": "x"}, 101, P("id", "Invalid UUID format", "x")),
    Case({"id": ""}, 101, P("id", "Invalid UUID format", "")),
    Case({"id": "{id}"}, 0, ok(names=["kb"], total=1)),
    Case({"id": HEX}, 102, f"User '{{tenant}}' lacks permission for dataset '{HEX}'"),
    Case({"name": "nope"}, 102, "User '{tenant}' lacks permission for dataset 'nope'"),
    Case({"name": ""}, 0, ok(names=["other", "kb"], total=2)),
    Case({"name": "KB"}, 0, ok(names=["kb"], total=1)),
    Case({"name": "kb", "id": "{id}"}, 0, ok(names=["kb"], total=1)),
    Case({"name": "kb", "id": "{other}"}, 0, ok(names=[], total=0)),
    Case({"name": "nope", "id": "{other}"}, 102,
         "User '{tenant}' lacks permission for dataset 'nope'"),
    Case({"id": "{id}", "ids": "{other}"}, 102,
         "Should not provide both 'id':{id} and 'ids'['{other}']"),
    Case({"ids": "{id},{other}"}, 0, ok(names=["other", "kb"], total=2)),
    Case({"ids": HEX}, 0, ok(names=[], total=0)),
    Case({"ids": f"{HEX},{{id}}"}, 0, ok(names=["kb"], total=1)),
    Case({"ids": "x"}, 101, P("ids", "Invalid UUID format", "['x']")),
    Case({"ids": f"{HEX},{HEX}"}, 101, P("ids", f"Duplicate ids: '{HEX}'", f"['{HEX}', '{HEX}']")),
    Case({"include_parsing_status": "true"}, 0, ok(names=["other", "kb"], total=2, status={
        "unstart_count": 0, "running_count": 0, "cancel_count": 0, "done_count": 0,
        "fail_count": 0})),
    Case({"include_parsing_status": "x"}, 101, P(
        "include_parsing_status", "Input should be a valid boolean, unable to interpret input",
        "x")),
    Case({"ext": '{"keywords": "OTH"}'}, 0, ok(names=["other"], total=1)),
    Case({"ext": '{"parser_id": "qa"}'}, 0, ok(names=[], total=0)),
    Case({"ext": '{"parser_id": "naive", "keywords": "k"}'}, 0, ok(names=["kb"], total=1)),
    Case({"ext": '{"owner_ids": ["someone"]}'}, 0, ok(names=[], total=0)),
    Case({"ext": '{"owner_ids": ["{tenant}"]}'}, 0, ok(names=["other", "kb"], total=2)),
    Case({"ext": "x"}, 101, P("ext", DICT, "x")),
    Case({"ext": "[1]"}, 101, P("ext", DICT, "[1]")),
    Case({"foo": "1"}, 101, P("foo", EXTRA, "1")),
    Case({"foo": "1", "page": "0", "id": "x"}, 101, bad(
        P("id", "Invalid UUID format", "x"), P("page", GE(1), "0"), P("foo", EXTRA, "1"))),
]

# Each delete case runs on two datasets, `kb` ({id}) and `other`; `left` are those left.
DELETE = [
    Case({}, 0, ok(success_count=0, left=2)),
    Case({"ids": None}, 0, ok(success_count=0, left=2)),
    Case({"ids": []}, 0, ok(success_count=0, left=2)),
    Case({"ids": ["{id}"]}, 0, ok(success_count=1, left=1)),
    Case({"delete_all": True}, 0, ok(success_count=2, left=0)),
    Case({"ids": [], "delete_all": True}, 0, ok(success_count=2, left=0)),
    Case({"ids": ["{id}"], "delete_all": True}, 0, ok(success_count=1, left=1)),
    Case({"ids": ["{id}", HEX]}, 102, f"User '{{tenant}}' lacks permission for datasets: '{HEX}'"),
    Case({"ids": ["x"]}, 101, P("ids", "Invalid UUID format", "['x']")),
    Case({"ids": [1]}, 101, P("ids.0", STRING, 1)),
    Case({"ids": "x"}, 101, P("ids", A_LIST, "x")),
    Case({"ids": [HEX, HEX]}, 101,
         P("ids", f"Duplicate ids: '{HEX}'", f"['{HEX}', '{HEX}']")),
    Case({"delete_all": "true"}, 101, P("delete_all", BOOLEAN, "true")),
    Case({"foo": 1}, 101, P("foo", EXTRA, 1)),
]
