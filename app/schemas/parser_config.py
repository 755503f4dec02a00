"""parser_config: RAGFlow v0.27.0's ParserConfig model, its defaults, and each chunk method's."""

import json

from marshmallow import ValidationError, missing, pre_load, validates_schema

from app.store.rules import copied, deep_merge

from app.schemas.fields import (Bool, Choice, Float, Int, ListOf, MapOf, Model, Object, Str,
                                StrictSchema, at_least, at_most, max_length,
                                min_length)

CHUNK_METHODS = ("naive", "book", "email", "laws", "manual", "one", "paper", "picture",
                 "presentation", "qa", "table", "tag", "resume")
RAPTOR_PROMPT = (
    "Summarize the paragraphs below without inventing facts or changing numbers.\n"
    "Output exactly two parts in the same language as the source:\n"
    "1. First line: a concise title only.\n"
    "2. Following lines: a concise summary of the content.\n"
    "Do not output labels, Markdown headings, bullet points, or any other commentary.\n\n"
    "Paragraphs:\n{cluster_content}")
ENTITY_TYPES = ["organization", "person", "geo", "event", "category"]
RAPTOR_MIN_TOKENS = 512  # a smaller max_token is raised to this, not refused

RAPTOR_DEFAULTS = {
    "use_raptor": False, "prompt": RAPTOR_PROMPT, "max_token": 512,
    "clustering_threshold": 0.3, "clustering_ratio": 0.5, "max_cluster": 64, "random_seed": 0,
    "scope": "file", "auto_disable_for_structured_data": True,
}
GRAPHRAG_DEFAULTS = {
    "use_graphrag": False, "entity_types": ENTITY_TYPES, "method": "light", "community": False,
    "resolution": False, "batch_chunk_token_size": 4096, "retry_attempts": 2,
    "retry_backoff_seconds": 2.0, "retry_backoff_max_seconds": 60.0,
    "build_subgraph_timeout_per_chunk_seconds": 300, "build_subgraph_min_timeout_seconds": 600,
    "merge_timeout_seconds": 180, "resolution_timeout_seconds": 1800,
    "community_timeout_seconds": 1800, "lock_acquire_timeout_seconds": 600,
}
# Every field of the model with its default, in the model's order: what a parser_config a
# client sends becomes on create, before the chunk method's defaults go under it.
PARSER_CONFIG_DEFAULTS = {
    "auto_keywords": 0, "auto_questions": 0, "chunk_token_num": 512, "delimiter": "\n",
    "graphrag": GRAPHRAG_DEFAULTS, "html4excel": False, "layout_recognize": "DeepDOC",
    "parent_child": {"use_parent_child": False, "children_delimiter": "\n"},
    "enable_children": False, "children_delimiter": "", "raptor": RAPTOR_DEFAULTS,
    "tag_kb_ids": [], "topn_tags": 1, "filename_embd_weight": 0.1, "task_page_size": None,
    "pages": None, "compilation_template_group_id": [], "ext": {}, "table_column_mode": None,
    "table_column_roles": None, "table_column_names": None,
}

# RAGFlow's get_parser_config: what every chunk method's configuration starts from, and each
# method's own defaults on top of it.
BASE_DEFAULTS = {"table_context_size": 0, "image_context_size": 0}
_OFF = {"raptor": {"use_raptor": False}, "graphrag": {"use_graphrag": False}}
METHOD_DEFAULTS = {
    "naive": {
        "layout_recognize": "DeepDOC", "chunk_token_num": 512, "delimiter": "\n",
        "auto_keywords": 0, "auto_questions": 0, "html4excel": False, "topn_tags": 3,
        "raptor": {"use_raptor": True, "prompt": RAPTOR_PROMPT, "max_token": 512,
                   "clustering_threshold": 0.3, "clustering_ratio": 0.5, "max_cluster": 64,
                   "random_seed": 0},
        "graphrag": {
            "use_graphrag": True, "entity_types": ENTITY_TYPES, "method": "light",
            "batch_chunk_token_size": 4096, "retry_attempts": 2, "retry_backoff_seconds": 2.0,
            "retry_backoff_max_seconds": 60.0, "build_subgraph_timeout_per_chunk_seconds": 300,
            "build_subgraph_min_timeout_seconds": 600, "merge_timeout_seconds": 180,
            "resolution_timeout_seconds": 1800, "community_timeout_seconds": 1800,
            "lock_acquire_timeout_seconds": 600},
        "parent_child": {"use_parent_child": False, "children_delimiter": "\n"},
    },
    **{method: _OFF for method in ("qa", "manual", "paper", "book", "laws", "presentation")},
    **{method: {} for method in ("tag", "resume", "table", "one", "email", "picture")},
}

STARTS = {method: deep_merge(BASE_DEFAULTS, own) for method, own in METHOD_DEFAULTS.items()}


def for_method(method, sent=None):
    """The parser_config of a dataset whose chunk method is `method` (get_parser_config).

    `sent` is what the client sent with every default filled in; None or {} for none.
    """
    config = deep_merge(STARTS[method], sent or {})
    parent_child = config.get("parent_child", {})
    if parent_child.get("use_parent_child"):  # flattened for the parser, as RAGFlow does
        config["children_delimiter"] = parent_child.get("children_delimiter", "\n")
    elif parent_child:
        config["children_delimiter"] = ""
    return config


def completed(sent):
    """The loaded `sent` with each field it leaves out at the model's default."""
    return deep_merge(PARSER_CONFIG_DEFAULTS, sent)


def as_change(sent):
    """The loaded `sent` of an update as RAGFlow merges it into the stored parser_config."""
    change = copied(sent)
    parent_child = change.get("parent_child", {})
    if parent_child.get("use_parent_child"):
        change["children_delimiter"] = parent_child.get("children_delimiter", "\n")
        change["enable_children"] = True
    else:
        change.update(children_delimiter="", enable_children=False, parent_child={})
    change.update(change.pop("ext", {}))
    return change


class RaptorConfig(StrictSchema):
    use_raptor = Bool()
    prompt = Str(strip=True, validate=[min_length(1)])
    max_token = Int(validate=[at_least(RAPTOR_MIN_TOKENS), at_most(2048)])
    clustering_threshold = Float(validate=[at_least(0), at_most(1)])
    clustering_ratio = Float(validate=[at_least(0), at_most(1)])
    max_cluster = Int(validate=[at_least(1), at_most(1024)])
    random_seed = Int(validate=[at_least(0)])
    scope = Choice(("file", "dataset"))
    auto_disable_for_structured_data = Bool()

    @pre_load
    def older_fields(self, data, **kwargs):
        """RAGFlow's older raptor fields: taken up or dropped, never refused."""
        data = dict(data)
        ext = data.pop("ext", None)
        if (isinstance(ext, dict) and data.get("clustering_threshold") is None
                and "clustering_threshold" in ext):
            data["clustering_threshold"] = ext["clustering_threshold"]
        for field in ("threshold", "clustering_method", "tree_builder"):
            data.pop(field, None)
        max_token = data.get("max_token")
        if type(max_token) in (int, float) and max_token < RAPTOR_MIN_TOKENS:
            data["max_token"] = RAPTOR_MIN_TOKENS
        return data


class GraphragConfig(StrictSchema):
    use_graphrag = Bool()
    entity_types = ListOf(Str())
    method = Choice(("light", "general", "ner"))
    community = Bool()
    resolution = Bool()
    batch_chunk_token_size = Int(validate=[at_least(512), at_most(8196)])
    retry_attempts = Int(validate=[at_least(1), at_most(10)])
    retry_backoff_seconds = Float(validate=[at_least(0), at_most(600)])
    retry_backoff_max_seconds = Float(validate=[at_least(0), at_most(3600)])
    build_subgraph_timeout_per_chunk_seconds = Int(validate=[at_least(1), at_most(86400)])
    build_subgraph_min_timeout_seconds = Int(validate=[at_least(1), at_most(86400)])
    merge_timeout_seconds = Int(validate=[at_least(0), at_most(86400)])
    resolution_timeout_seconds = Int(validate=[at_least(0), at_most(86400)])
    community_timeout_seconds = Int(validate=[at_least(0), at_most(86400)])
    lock_acquire_timeout_seconds = Int(validate=[at_least(0), at_most(86400)])


class ParentChildConfig(StrictSchema):
    use_parent_child = Bool()
    children_delimiter = Str(validate=[min_length(1)])


class GroupIds(ListOf):
    """compilation_template_group_id: anything becomes a list of distinct, trimmed strings."""

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is missing:
            return super().deserialize(value, attr, data, **kwargs)
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            return []
        stripped = (item.strip() for item in items if isinstance(item, str))
        return list(dict.fromkeys(item for item in stripped if item))


class ColumnRoles(MapOf):
    """table_column_roles, where the older role `vectorize` is `indexing`."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict):
            value = {key: "indexing" if role == "vectorize" else role
                     for key, role in value.items()}
        return super()._deserialize(value, attr, data, **kwargs)


class ParserConfig(StrictSchema):
    auto_keywords = Int(validate=[at_least(0), at_most(32)])
    auto_questions = Int(validate=[at_least(0), at_most(10)])
    chunk_token_num = Int(validate=[at_least(1), at_most(2048)])
    delimiter = Str(validate=[min_length(1)])
    graphrag = Model(GraphragConfig)
    html4excel = Bool()
    layout_recognize = Str()
    parent_child = Model(ParentChildConfig)
    enable_children = Bool()
    children_delimiter = Str()
    raptor = Model(RaptorConfig)
    tag_kb_ids = ListOf(Str())
    topn_tags = Int(validate=[at_least(1), at_most(10)])
    filename_embd_weight = Float(allow_none=True, validate=[at_least(0), at_most(1)])
    task_page_size = Int(allow_none=True, validate=[at_least(1)])
    pages = ListOf(ListOf(Int()), allow_none=True)
    compilation_template_group_id = GroupIds(Str())
    ext = Object()
    table_column_mode = Choice(("auto", "manual"), allow_none=True)
    table_column_roles = ColumnRoles(Choice(("indexing", "metadata", "both")), allow_none=True)
    table_column_names = ListOf(Str(), allow_none=True)

    @validates_schema
    def not_too_long(self, data, **kwargs):
        size = len(fields_json(completed(data)))
        if size > 65535:
            raise ValidationError(f"Parser config exceeds size limit (max 65,535 characters). "
                                  f"Current size: {size}")


class AutoMetadataField(StrictSchema):
    key = Str(required=True, strip=True, validate=[min_length(1), max_length(255)])
    type = Choice(("string", "list", "time", "number"), required=True)
    description = Str(allow_none=True, validate=[max_length(65535)])
    enum = ListOf(Str(), allow_none=True)


class AutoMetadataConfig(StrictSchema):
    metadata = ListOf(Model(AutoMetadataField))
    built_in_metadata = ListOf(Model(AutoMetadataField))


def with_auto_metadata(parser_config):
    """`parser_config` (None for none) as RAGFlow v0.27.0 changes it for auto_metadata_config:

    it turns metadata on and, reading a key its own model never has, keeps no field.
    """
    return {**(parser_config or {}), "metadata": [], "enable_metadata": True}


def fields_json(value):
    """JSON as pydantic's model_dump_json writes it: compact, non-ASCII as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
