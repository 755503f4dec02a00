"""API keys on every route: the header forms, 401 envelopes, revocation, last use."""

import os

import pytest

from app import auth, create_app
from tests.conftest import Api, Current, issue_key

ROUTES = [("post", "/api/v1/dataset"), ("get", "/api/v1/dataset"),
          ("delete", "/api/v1/dataset/" + "0" * 32)]


def call(client, method, path, headers):
    return getattr(client, method)(path, headers=headers, json={"name": "kb"}
                                   if method == "post" else None)


def assert_401(response, message):
    assert response.status_code == 401
    assert response.json == {"code": 109, "message": message}
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("method, path", ROUTES)
def test_missing_header(client, method, path):
    assert_401(call(client, method, path, {}), "Authorization header is missing.")


@pytest.mark.parametrize("method, path", ROUTES)
@pytest.mark.parametrize("header", [
    "", "Bearer", "bearer ", "Bearer ragflow-nope", "ragflow-nope", "Basic {key}",
    "Bearer {key} extra", "Bearer{key}", "{key}x", "Token {key}",
    # Only ASCII spaces separate, as in nginx's limits: a no-break space is part of the key.
    "Bearer {key}\xa0", "{key}\xa0\xa0", "Bearer\xa0{key}", "\xa0{key}", "Bearer\t{key}",
])
def test_invalid_key(client, key, method, path, header):
    headers = {"Authorization": header.format(key=key)}
    assert_401(call(client, method, path, headers), "Token is invalid.")


@pytest.mark.parametrize("header", ["Bearer {key}", "bearer {key}", "BEARER  {key}", "{key}",
                                    "  {key} "])
def test_accepted_header_forms(client, key, header):
    response = client.get("/api/v1/dataset", headers={"Authorization": header.format(key=key)})
    assert response.status_code == 200


def test_revoked_key_stops_working(client, runner, key):
    api = Api(client, key)
    assert api.list().status_code == 200
    [key_id] = [k["id"] for k in client.application.extensions["store"].list_keys()]
    assert runner.invoke(args=["keys", "revoke", key_id]).exit_code == 0
    assert_401(api.list(), "Token is invalid.")


AFTER_REVOCATION = {  # a request of each kind, given the key's dataset `made`
    "legacy create": lambda legacy, current, made: legacy.create("new"),
    "legacy list": lambda legacy, current, made: legacy.list(),
    "legacy list, another page": lambda legacy, current, made: legacy.list(offset=1),
    "legacy delete": lambda legacy, current, made: legacy.delete(made["id"]),
    "create": lambda legacy, current, made: current.create("new"),
    "create, a bad body": lambda legacy, current, made: current.create(chunk_method="nope"),
    "list": lambda legacy, current, made: current.list(),
    "list, another page": lambda legacy, current, made: current.list(page=2),
    "list, a bad query": lambda legacy, current, made: current.list(page=0),
    "get": lambda legacy, current, made: current.get(made["id"]),
    "get, an unknown id": lambda legacy, current, made: current.get("0" * 32),
    "update": lambda legacy, current, made: current.update(made["id"], description="new"),
    "update, a bad body": lambda legacy, current, made: current.update(made["id"], pagerank=-1),
    "delete": lambda legacy, current, made: current.delete(ids=[made["id"]]),
    "delete, no ids": lambda legacy, current, made: current.delete(ids=[]),
}


@pytest.mark.parametrize("kind", list(AFTER_REVOCATION))
def test_a_key_revoked_by_another_app_is_refused_by_one_that_knew_it(config, kind):
    """Two apps on one store, as two workers or two servers: one has answered the key before
    (a PostgreSQL worker then checks it in the request's own statement), the other revokes
    it. The first app refuses the next request with it, whatever it asks, having done
    nothing."""
    first, second = create_app(config), create_app(config)
    key = issue_key(first.test_cli_runner())
    legacy, current = Api(second.test_client(), key), Current(second.test_client(), key)
    made = current.made("kb")
    assert legacy.list().status_code == 200 and current.list().json["code"] == 0
    assert current.get(made["id"]).json["code"] == 0
    store = first.extensions["store"]
    before = store.export()["datasets"]
    [key_id] = [k["id"] for k in store.list_keys()]
    assert first.test_cli_runner().invoke(args=["keys", "revoke", key_id]).exit_code == 0
    response = AFTER_REVOCATION[kind](legacy, current, made)
    if kind.startswith("legacy"):
        assert_401(response, "Token is invalid.")
    else:
        assert (response.status_code, response.json) == (
            401, {"code": 401, "message": auth.UNAUTHORIZED})
    assert store.export()["datasets"] == before


def test_key_format(key):
    assert key.startswith("ragflow-")
    assert len(key) - len("ragflow-") >= 22  # 128 bits or more of base64


def test_health_needs_no_key(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json) == (200, {"status": "ok"})


def test_last_use_is_written_at_most_once_a_minute(client, key, config, monkeypatch):
    api = Api(client, key)
    clock = [1_800_000_000_000]
    monkeypatch.setattr(auth, "now_ms", lambda: clock[0])
    api.list()
    [record] = client.application.extensions["store"].list_keys()
    assert record["last_used"] == clock[0]
    journal = config["DB_PATH"] + ".wal"
    before = os.path.exists(journal) and os.stat(journal).st_size
    clock[0] += 59_000
    api.list()
    assert client.application.extensions["store"].list_keys()[0]["last_used"] == clock[0] - 59_000
    assert (os.path.exists(journal) and os.stat(journal).st_size) == before  # no write
    clock[0] += 1_000
    api.list()
    assert client.application.extensions["store"].list_keys()[0]["last_used"] == clock[0]
