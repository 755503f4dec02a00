"""The ceiling: the service's list and create answers from Flask, with no auth and no storage."""

import time
import uuid

from flask import Flask, request

from app import encoding
from bench import shapes

NOW = time.time_ns() // 1_000_000
ROWS = [{"id": uuid.uuid4().hex, "name": f"ds{i}", "create_time": NOW - i, "update_time": NOW - i}
        for i in range(20)]
LISTED = shapes.listed(ROWS, uuid.uuid4().hex)  # built once: only the JSON encoding is per request

app = Flask(__name__)
encoding.init_app(app)  # the service's JSON encoding, so that only the rest differs


@app.get("/api/v1/dataset")
def list_datasets():
    return LISTED


@app.post("/api/v1/dataset")
def create_dataset():
    return shapes.created(uuid.uuid4().hex, request.get_json()["name"])
