"""RAGFlow's system routes (/api/v1/system/ping, version, healthz) in its shapes, beside our
own /healthz, on both engines."""

from importlib.metadata import version

import pytest

from tests.test_openapi import damage

UNAUTHORIZED = {"code": 401, "message": "<Unauthorized '401: Unauthorized'>"}  # RAGFlow's
HEALTHY = {"db": "ok", "redis": "ok", "doc_engine": "ok", "storage": "ok", "status": "ok"}


def test_ping_answers_pong_as_text_without_a_key(client):
    response = client.get("/api/v1/system/ping")
    assert (response.status_code, response.data) == (200, b"pong")
    assert response.mimetype == "text/html"  # what RAGFlow's Quart sends for a str, too
    assert response.headers["X-Request-Id"]


def test_version_is_the_package_version_in_ragflows_envelope(current):
    response = current.client.get("/api/v1/system/version", headers=current.headers)
    assert response.status_code == 200
    assert response.json == {"code": 0, "message": "success",
                             "data": version("ragflow-dataset-api")}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer ragflow-nope"},
                                     {"Authorization": "Bearer"}])
def test_version_needs_a_key_as_in_ragflow(client, headers):
    response = client.get("/api/v1/system/version", headers=headers)
    assert (response.status_code, response.json) == (401, UNAUTHORIZED)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_healthz_in_ragflows_shape_without_a_key(client):
    response = client.get("/api/v1/system/healthz")
    assert (response.status_code, response.json) == (200, HEALTHY)
    assert client.get("/healthz").json == {"status": "ok"}  # ours, as before


def test_healthz_of_an_unusable_store_is_500_naming_no_path(current, config, caplog):
    damage(current)
    assert current.list().status_code == 500  # a failed request makes the store unsound
    response = current.client.get("/api/v1/system/healthz")
    assert response.status_code == 500
    body = response.json
    meta = body.pop("_meta")
    assert body == {**HEALTHY, "db": "nok", "status": "nok"}
    assert meta["db"]["error"] == "the data store cannot be used now"
    assert float(meta["db"]["elapsed"]) >= 0 and meta["db"]["elapsed"].count(".") == 1
    assert config["DB_PATH"] not in response.get_data(as_text=True)
    assert "Health check failed: " in caplog.text  # the log says why
    ours = current.client.get("/healthz")
    assert (ours.status_code, ours.json["status"]) == (503, "unavailable")


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_other_methods_answer_405(client, method):
    for name in ("ping", "version", "healthz"):
        response = getattr(client, method)(f"/api/v1/system/{name}")
        assert response.status_code == 405 and "GET" in response.headers["Allow"]
        assert response.mimetype == "application/json"
