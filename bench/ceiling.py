"""The ceiling: the service's answers in both APIs from Flask, with no auth and no storage."""

import time
import uuid

from flask import Flask, request

from app import encoding
from bench import shapes

NOW = time.time_ns() // 1_000_000
TENANT = uuid.uuid4().hex
ROWS = [{**shapes.LEGACY_NEW, "name": f"ds{i}", "id": uuid.uuid4().hex, "tenant": TENANT,
         "create_time": NOW - i, "update_time": NOW - i} for i in range(30)]
# Built once: only the JSON encoding (and a create's or an update's few fields) per request.
LISTED = shapes.listed(ROWS[:20])
CURRENT_LISTED = shapes.current([shapes.current_record(row) for row in ROWS], 2000)
RECORD = shapes.current_record(ROWS[0])
CREATED = shapes.current_record({**ROWS[0], **shapes.CURRENT_NEW})

app = Flask(__name__)
encoding.init_app(app)  # the service's JSON encoding, so that only the rest differs


@app.get("/api/v1/dataset")
def legacy_list():
    return LISTED


@app.post("/api/v1/dataset")
def legacy_create():
    return shapes.created(uuid.uuid4().hex, request.get_json()["name"])


@app.get("/api/v1/datasets")
def list_():
    return CURRENT_LISTED


@app.post("/api/v1/datasets")
def create():
    name = request.get_json()["name"]
    return shapes.current({**CREATED, "id": uuid.uuid4().hex, "name": name})


@app.get("/api/v1/datasets/<dataset_id>")
def get(dataset_id):
    return shapes.current({**RECORD, "id": dataset_id, "size": 0, "connectors": []})


@app.put("/api/v1/datasets/<dataset_id>")
def update(dataset_id):
    return shapes.current({**RECORD, **request.get_json(), "id": dataset_id, "connectors": []})
