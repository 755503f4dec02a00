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


def chunked_create(api, body):
    return api.client.post("/api/v1/dataset", input_stream=io.BytesIO(body),
                           headers={**api.headers, "Content-Type": "application/json",
                                    "Transfer-Encoding": "chunked"})


def test_a_chunked_body_over_the_limit_is_refused_whole(api):
    body = b'{"name": "x"}'.ljust(64 * 1024 + 1)  # valid JSON, if cut at the limit too
    response = chunked_create(api, body)
    assert response.status_code == 413 and response.json["code"] == 101
    assert api.names() == []


def test_a_chunked_body_at_the_limit_is_taken(api):
    response = chunked_create(api, b'{"name": "x"}'.ljust(64 * 1024))
    assert response.status_code == 200, response.json
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

