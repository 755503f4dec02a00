"""The answers' shapes in both APIs, shared by the ceiling and the peers."""

from email.utils import formatdate

# A dataset row of the peers: its id, tenant, own fields (as app/store/rules.py names them)
# and times. parser_config is the only field that is not a scalar.
FIELDS = ("name", "avatar", "description", "embedding_model", "permission", "chunk_method",
          "parser_config", "pagerank", "language", "similarity_threshold",
          "vector_similarity_weight", "status", "document_count", "chunk_count", "token_num")
COLUMNS = ("id", "tenant") + FIELDS + ("create_time", "update_time")
DEFAULTS = {"avatar": None, "description": None, "permission": "me", "chunk_method": "naive",
            "pagerank": 0, "language": "English", "similarity_threshold": 0.2,
            "vector_similarity_weight": 0.3, "status": "1", "document_count": 0,
            "chunk_count": 0, "token_num": 0}
# What a create through each API stores besides the name, as the service does by default.
LEGACY_NEW = {**DEFAULTS, "embedding_model": "BAAI/bge-large-zh-v1.5",
              "parser_config": {"pages": [[1, 1000000]]}}
CURRENT_NEW = {**DEFAULTS, "embedding_model": "BAAI/bge-small-en-v1.5@Local@Builtin",
               "parser_config": {"chunk_token_num": 512, "delimiter": "\n",
                                 "graphrag": {"use_graphrag": False}, "html4excel": False,
                                 "layout_recognize": "DeepDOC", "raptor": {"use_raptor": False}}}
LEGACY_NAMES = {"chunk_count": "chunk_num", "document_count": "doc_num",
                "embedding_model": "embd_id", "chunk_method": "parser_id", "pagerank": None}


def http_date(ms):
    return formatdate(ms / 1000, usegmt=True)


def current_record(row):
    """A dataset as the current API answers it: its fields, ids, times and dates."""
    record = {field: row[field] for field in FIELDS}
    record.update(id=row["id"], tenant_id=row["tenant"], created_by=row["tenant"],
                  create_time=row["create_time"], update_time=row["update_time"],
                  create_date=http_date(row["create_time"]),
                  update_date=http_date(row["update_time"]))
    return record


def legacy_record(row):
    """A dataset as the legacy list answers it: the document's 21 fields, legacy names."""
    record = current_record(row)
    for field, legacy in LEGACY_NAMES.items():
        value = record.pop(field)
        if legacy:
            record[legacy] = value
    return record


def listed(rows):
    # Legacy quirk, kept like the service: a successful list answers code 102.
    return {"code": 102, "data": [legacy_record(row) for row in rows],
            "message": "attempt to list datasets"}


def created(dataset_id, name):
    return {"code": 0, "data": {"dataset_id": dataset_id, "dataset_name": name, "id": dataset_id},
            "message": "success"}


def current(data, total=None):
    """A success of the current API, as the contract has it: `code`, `message` and `data`
    (a list adds `total_datasets`)."""
    answer = {"code": 0, "message": "success", "data": data}
    return answer if total is None else {**answer, "total_datasets": total}
