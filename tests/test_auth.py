"""API keys on every route: the header forms, 401 envelopes, revocation, last use."""

import os

import pytest

from app import auth
from tests.conftest import Api

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


def test_key_format(key):
    assert key.startswith("ragflow-")
    assert len(key) - len("ragflow-") >= 22  # 128 bits or more of base64


def test_health_needs_no_key(client):
    assert (client.get("/healthz").status_code, client.get("/healthz").json) == (200, {"status": "ok"})


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
