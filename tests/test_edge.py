"""What every request meets at the edge, through the test client: the request id, the body
limit for chunked bodies, and the docs page."""

import io
import re

import pytest


def test_a_request_id_is_made_when_none_is_given(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["X-Request-Id"])
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/dataset", "/api/v1/nope", "/nope"])
def test_a_sane_request_id_is_echoed_on_every_answer(client, path):
    response = client.get(path, headers={"X-Request-Id": "req-1.a:b_C"})
    assert response.headers["X-Request-Id"] == "req-1.a:b_C"


@pytest.mark.parametrize("given", ["", "a b", "x" * 129, "é", "a\u2028b", "<script>"])
def test_an_insane_request_id_is_replaced(client, given):
    response = client.get("/healthz", headers={"X-Request-Id": given})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])


def chunked_create(api, path, size):
    """A create whose valid JSON body, padded to `size` bytes, is sent chunked."""
    return api.client.post(path, input_stream=io.BytesIO(b'{"name": "x"}'.ljust(size)),
                           headers={**api.headers, "Content-Type": "application/json",
                                    "Transfer-Encoding": "chunked"})


@pytest.mark.parametrize("path, limit", [("/api/v1/dataset", 64 * 1024),
                                         ("/api/v1/datasets", 256 * 1024)])
def test_chunked_bodies_meet_each_apis_limit(api, path, limit):
    """Refused whole past the limit, not cut to it and parsed; taken up to it."""
    assert chunked_create(api, path, limit + 1).json["code"] == 101
    assert api.names() == []
    assert chunked_create(api, path, limit).json["code"] == 0
    assert api.names() == ["x"]


def test_the_docs_page_needs_no_key(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(docs/[^"]+)"', text)
    assert "docs/swagger-ui-bundle.js" in assets and "docs/swagger-ui.css" in assets
    assert 'url: "openapi.json"' in text and "//" not in "".join(assets)  # no CDN
    for asset in assets:
        served = client.get(f"/api/v1/{asset}")
        size = len(served.data)
        served.close()  # a file sent from the package
        assert served.status_code == 200 and size > 500, asset


def test_a_missing_docs_asset_is_a_json_404(client):
    response = client.get("/api/v1/docs/nope.js")
    assert response.status_code == 404 and response.json["code"] == 101


def test_the_description_names_this_server(client):
    assert client.get("/api/v1/openapi.json").json["servers"] == [
        {"url": "/", "description": "This server"}]

