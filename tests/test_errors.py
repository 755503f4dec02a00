"""Errors anywhere: always the JSON envelope, with the right status."""

import pytest

from app import create_app
from tests.conftest import Api, issue_key


def assert_envelope(response, status, code):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.json["code"] == code and response.json["message"]


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/dataset/a/b", "/", "/api/v2/dataset"])
def test_unknown_route(client, path):
    assert_envelope(client.get(path), 404, 101)


@pytest.mark.parametrize("method, path, allowed", [
    ("put", "/api/v1/dataset", {"GET", "POST"}),
    ("patch", "/api/v1/dataset", {"GET", "POST"}),
    ("get", "/api/v1/dataset/" + "0" * 32, {"DELETE"}),
    ("post", "/healthz", {"GET"}),
    ("options", "/api/v1/dataset", {"GET", "POST"}),
    ("options", "/healthz", {"GET"}),
])
def test_wrong_method(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert_envelope(response, 405, 101)
    assert allowed <= set(response.headers["Allow"].split(", "))


def test_body_over_the_limit(config):
    app = create_app({**config, "MAX_CONTENT_LENGTH": 1024})
    api = Api(app.test_client(), issue_key(app.test_cli_runner()))
    assert api.create("a" * 900).status_code == 200
    assert_envelope(api.create("a" * 1100), 413, 101)


def test_default_limit_is_64_kib(api):
    assert api.client.application.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    assert_envelope(api.create("a" * 64 * 1024), 413, 101)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_body_not_sent_as_json(api, content_type):
    response = api.client.post("/api/v1/dataset", headers=api.headers, data='{"name": "kb"}',
                               content_type=content_type)
    assert_envelope(response, 415, 101)
    assert api.names() == []


def test_unexpected_exception(config, caplog, monkeypatch):
    app = create_app({**config, "PROPAGATE_EXCEPTIONS": False})
    api = Api(app.test_client(), issue_key(app.test_cli_runner()))

    def boom(*args):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(app.extensions["store"], "create_dataset", boom)
    response = api.create("kb")
    assert_envelope(response, 500, 100)
    assert "secret detail" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert "secret detail" in caplog.text and "Traceback" in caplog.text


@pytest.mark.parametrize("engine", ["json"])  # the file's damage: test_jsonfile has more
@pytest.mark.parametrize("damage", [b"", b'{"keys": ', b"[]", b'{"keys": []}'])
def test_damaged_store_while_serving(api, config, caplog, damage):
    assert api.create("kb").status_code == 200
    with open(config["DB_PATH"], "wb") as file:
        file.write(damage)
    assert_envelope(api.list(), 500, 100)
    assert config["DB_PATH"] in caplog.text
    health = api.client.get("/healthz")
    assert health.status_code == 503
    assert health.json == {"status": "unavailable", "reason": "the data store cannot be used now"}
    assert "Health check failed: " + config["DB_PATH"] in caplog.text
    with open(config["DB_PATH"], "rb") as file:
        assert file.read() == damage
