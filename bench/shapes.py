"""The legacy response shapes, shared by the ceiling and the peer."""

from email.utils import formatdate

EMBD_ID = "BAAI/bge-large-zh-v1.5"
LANGUAGE = "English"


def http_date(ms):
    return formatdate(ms / 1000, usegmt=True)


def record(row, tenant):
    """A dataset as the legacy list answers it: the document's 21 fields."""
    return {
        "avatar": None, "chunk_num": 0,
        "create_date": http_date(row["create_time"]), "create_time": row["create_time"],
        "created_by": tenant, "description": None, "doc_num": 0, "embd_id": EMBD_ID,
        "id": row["id"], "language": LANGUAGE, "name": row["name"],
        "parser_config": {"pages": [[1, 1000000]]}, "parser_id": "naive", "permission": "me",
        "similarity_threshold": 0.2, "status": "1", "tenant_id": tenant, "token_num": 0,
        "update_date": http_date(row["update_time"]), "update_time": row["update_time"],
        "vector_similarity_weight": 0.3,
    }


def listed(rows, tenant):
    # Legacy quirk, kept like the service: a successful list answers code 102.
    return {"code": 102, "data": [record(row, tenant) for row in rows],
            "message": "attempt to list datasets"}


def created(dataset_id, name):
    return {"code": 0, "data": {"dataset_id": dataset_id, "dataset_name": name, "id": dataset_id},
            "message": "success"}
