"""parser_config: RAGFlow's ParserConfig model, its defaults and each chunk method's."""

import json

from marshmallow import ValidationError, validates_schema

from app.store.rules import deep_merge

from app.schemas.fields import (Bool, Choice, Float, Int, ListOf, Model, Str, StrictSchema,
                                at_least, at_most, min_length)

CHUNK_METHODS = ("naive", "book", "email", "laws", "manual", "one", "paper", "picture",
                 "presentation", "qa", "table", "tag")
RAPTOR_PROMPT = ("Please summarize the following paragraphs. Be careful with the numbers, do not "
                 "make things up. Paragraphs as following:\n      {cluster_content}\nThe above "
                 "is the content you need to summarize.")
ENTITY_TYPES = ["organization", "person", "geo", "event", "category"]
# What RAGFlow's ParserConfig model fills in for every field a client leaves out, once it
# sends a parser_config at all.
PARSER_CONFIG_DEFAULTS = {
    "auto_keywords": 0, "auto_questions": 0, "chunk_token_num": 512, "delimiter": r"\n",
    "graphrag": {"use_graphrag": False, "entity_types": ENTITY_TYPES, "method": "light",
                 "community": False, "resolution": False},
    "html4excel": False, "layout_recognize": "DeepDOC",
    "raptor": {"use_raptor": False, "prompt": RAPTOR_PROMPT, "max_token": 256, "threshold": 0.1,
               "max_cluster": 64, "random_seed": 0},
    "tag_kb_ids": [], "topn_tags": 1, "filename_embd_weight": 0.1, "task_page_size": None,
    "pages": None, "parent_child": {"use_parent_child": False, "children_delimiter": r"\n"},
}
# RAGFlow's get_parser_config: each chunk method's own defaults, under what the client sent.
_OFF = {"raptor": {"use_raptor": False}, "graphrag": {"use_graphrag": False}}
METHOD_DEFAULTS = {
    "naive": {"chunk_token_num": 512, "delimiter": r"\n", "html4excel": False,
              "layout_recognize": "DeepDOC", **_OFF,
              "parent_child": {"use_parent_child": False, "children_delimiter": r"\n"}},
    **{method: _OFF for method in ("qa", "manual", "paper", "book", "laws", "presentation")},
    **{method: {} for method in ("tag", "table", "one", "email", "picture")},
}


class RaptorConfig(StrictSchema):
    use_raptor = Bool()
    prompt = Str(strip=True, validate=[min_length(1)])
    max_token = Int(validate=[at_least(1), at_most(2048)])
    threshold = Float(validate=[at_least(0.0), at_most(1.0)])
    max_cluster = Int(validate=[at_least(1), at_most(1024)])
    random_seed = Int(validate=[at_least(0)])


class GraphragConfig(StrictSchema):
    use_graphrag = Bool()
    entity_types = ListOf(Str())
    method = Choice(("light", "general"))
    community = Bool()
    resolution = Bool()


class ParentChildConfig(StrictSchema):
    use_parent_child = Bool()
    children_delimiter = Str()


class ParserConfig(StrictSchema):
    auto_keywords = Int(validate=[at_least(0), at_most(32)])
    auto_questions = Int(validate=[at_least(0), at_most(10)])
    chunk_token_num = Int(validate=[at_least(1), at_most(2048)])
    delimiter = Str(validate=[min_length(1)])
    graphrag = Model(GraphragConfig)
    html4excel = Bool()
    layout_recognize = Str()
    raptor = Model(RaptorConfig)
    tag_kb_ids = ListOf(Str())
    topn_tags = Int(validate=[at_least(1), at_most(10)])
    filename_embd_weight = Float(allow_none=True, validate=[at_least(0.0), at_most(1.0)])
    task_page_size = Int(allow_none=True, validate=[at_least(1)])
    pages = ListOf(ListOf(Int()), allow_none=True)
    parent_child = Model(ParentChildConfig)

    @validates_schema
    def not_too_long(self, data, **kwargs):
        size = len(fields_json(deep_merge(PARSER_CONFIG_DEFAULTS, data)))
        if size > 65535:
            raise ValidationError(f"Parser config exceeds size limit (max 65,535 characters). "
                                  f"Current size: {size}")


def fields_json(value):
    """JSON as pydantic's model_dump_json writes it: compact, non-ASCII as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
