"""The peers' Flask app: both APIs' endpoints over a database class of each peer's own.

A peer is what an engineer would write instead of the service: plain routes, the checks
the load needs, one SQL round trip or two per request. Its database class (see
peer_sqlite.py, peer_postgres.py) has tenant, create, list, get, update and delete; its
update raises Refused for a name the tenant has already."""

import hashlib
import re
import time
import uuid

from flask import Flask, g, request

from app import encoding
from bench import shapes

STRICT_NAME = re.compile(r"[A-Za-z0-9_\-.]{1,1023}")
ORDERS = ("create_time", "update_time")
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
UPDATABLE = {"name": str, "description": str, "avatar": str, "permission": str,
             "pagerank": int}


class Refused(Exception):
    """An answer in the error envelope: (HTTP status, code, message)."""


def now_ms():
    return time.time_ns() // 1_000_000


def digest(key):
    return hashlib.sha256(key.encode()).hexdigest()


def free_name(taken, name):
    """`name`, or the first of `name(1)`, `name(2)`... for which `taken(folded)` is false."""
    candidate, n = name, 0
    while taken(candidate.casefold()):
        n += 1
        candidate = f"{name}({n})"
    return candidate


def where(mark, tenant, name=None, dataset_id=None):
    """A list's WHERE clause and its parameters, `mark` being the driver's placeholder."""
    clause, params = f" WHERE tenant = {mark}", [tenant]
    for column, value in (("folded", name and name.casefold()), ("id", dataset_id)):
        if value is not None:
            clause, params = clause + f" AND {column} = {mark}", params + [value]
    return clause, params


def assignments(mark, changes, now):
    """An update's SET clause and its parameters: the changes, the folded name, the time."""
    if "name" in changes:
        changes = {**changes, "folded": changes["name"].casefold()}
    changes = {**changes, "update_time": now}
    return ", ".join(f"{column} = {mark}" for column in changes), list(changes.values())


def make_app(name, open_database):
    """The app of a peer whose database object `open_database()` makes."""
    app = Flask(name)
    opened = []  # this worker process's database, opened on first use: after the fork

    def database():
        if not opened:
            opened.append(open_database())
        return opened[0]

    encoding.init_app(app)  # the service's JSON encoding, so that only the rest differs

    @app.errorhandler(Refused)
    def refused(error):
        status, code, message = error.args
        return {"code": code, "message": message}, status

    @app.before_request
    def authenticate():
        parts = request.headers.get("Authorization", "").split()
        bearer = len(parts) == 2 and parts[0].lower() == "bearer"
        tenant = database().tenant(digest(parts[-1] if bearer or len(parts) == 1 else ""))
        if tenant is None:
            raise Refused(401, 109, "Token is invalid.")
        g.tenant = tenant

    @app.post("/api/v1/dataset")
    def legacy_create():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or len(body) != 1 or not body.keys() <= {"name",
                                                                               "dataset_name"}:
            raise Refused(400, 102, "The body must be one field: name or dataset_name.")
        name = next(iter(body.values()))
        name = name.strip() if isinstance(name, str) else ""
        if not STRICT_NAME.fullmatch(name):
            raise Refused(400, 102, "Dataset name: 1 to 1023 of A-Z, a-z, 0-9, '_', '-', '.'.")
        row = database().create(g.tenant, uuid.uuid4().hex, {**shapes.LEGACY_NEW, "name": name},
                                now_ms())
        return shapes.created(row["id"], row["name"])

    @app.get("/api/v1/dataset")
    def legacy_list():
        args = request.args
        try:
            offset, count = int(args.get("offset", 0)), int(args.get("count", -1))
            orderby = args.get("orderby", "create_time").lower()
            desc = BOOLEANS[args.get("desc", "true").lower()]
        except (ValueError, KeyError):
            raise Refused(400, 101, "Bad offset, count or desc.") from None
        if offset < 0 or count < -1 or orderby not in ORDERS + ("name",):
            raise Refused(400, 101, "Offset, count or orderby is out of the valid range.")
        rows, _ = database().list(g.tenant, orderby, desc, offset, None if count < 0 else count)
        return shapes.listed(rows)

    @app.delete("/api/v1/dataset/<dataset_id>")
    def legacy_delete(dataset_id):
        if not database().delete(g.tenant, dataset_id):
            return {"code": 102, "message": "Dataset not found.", "success": False}, 404
        return {"code": 0, "message": "Dataset deleted successfully!", "success": True}

    @app.post("/api/v1/datasets")
    def create():
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not body.keys() <= {"name", "description"}:
            raise Refused(200, 101, "The body must be an object with name and description.")
        name = body.get("name")
        name = name.strip() if isinstance(name, str) else ""
        if not 1 <= len(name) <= 128:
            raise Refused(200, 101, "Field: <name> - Message: <String should have at least 1 "
                                    "character> - Value: <>")
        fields = {**shapes.CURRENT_NEW, "name": name, "description": body.get("description")}
        return shapes.current(shapes.current_record(
            database().create(g.tenant, uuid.uuid4().hex, fields, now_ms())))

    @app.get("/api/v1/datasets")
    def list_():
        args = request.args
        try:
            page, size = int(args.get("page", 1)), int(args.get("page_size", 30))
            desc = BOOLEANS[args.get("desc", "true").lower()]
        except (ValueError, KeyError):
            raise Refused(200, 101, "Bad page, page_size or desc.") from None
        orderby = args.get("orderby", "create_time")
        if page < 1 or not 1 <= size <= 100 or orderby not in ORDERS:
            raise Refused(200, 101, "page, page_size or orderby is out of the valid range.")
        rows, total = database().list(g.tenant, orderby, desc, (page - 1) * size, size,
                                      name=args.get("name"), dataset_id=args.get("id"),
                                      total=True)
        return shapes.current([shapes.current_record(row) for row in rows], total)

    @app.get("/api/v1/datasets/<dataset_id>")
    def get(dataset_id):
        row = database().get(g.tenant, dataset_id)
        if row is None:
            raise Refused(200, 102, f"User '{g.tenant}' lacks permission for dataset "
                                    f"'{dataset_id}'")
        # The service adds its documents' bytes; a peer has no documents.
        return shapes.current({**shapes.current_record(row), "size": 0, "connectors": []})

    @app.put("/api/v1/datasets/<dataset_id>")
    def update(dataset_id):
        body = request.get_json(silent=True)
        if (not isinstance(body, dict) or not body or not body.keys() <= UPDATABLE.keys()
                or not all(isinstance(body[f], UPDATABLE[f]) for f in body)):
            raise Refused(200, 101, f"The body must be some of {sorted(UPDATABLE)}.")
        row = database().update(g.tenant, dataset_id, body, now_ms())
        if row is None:
            raise Refused(200, 102, f"User '{g.tenant}' lacks permission for dataset "
                                    f"'{dataset_id}'")
        return shapes.current({**shapes.current_record(row), "connectors": []})

    return app
