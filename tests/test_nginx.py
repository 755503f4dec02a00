"""The edge, live: deploy/nginx.conf in a real nginx in front of a real gunicorn. Every
oversized or malformed request answers JSON in the API's envelope, through nginx and
straight to gunicorn; the logs name the real client and the request id."""

import json
import socket
import time

import pytest

from tests.edge import NGINX, Nginx, chunked, exchange, need, request, wait_for
from harness.live import Server, issue_key

pytestmark = pytest.mark.live  # subprocesses: make test-fast skips these

LIMIT = 64 * 1024  # DATASET_API_MAX_CONTENT_LENGTH's default
JSON = ("Content-Type", "application/json")
PADDED = b'{"name": "x"}' + b" " * 70_000  # valid JSON, over the limit
LEGACY, CURRENT = {"code", "message"}, {"code", "data", "message"}  # the envelopes' fields


@pytest.fixture
def db_path(tmp_path):
    (tmp_path / "store").mkdir()
    return tmp_path / "store" / "db.json"


@pytest.fixture
def key(db_path):
    return issue_key(db_path)


@pytest.fixture
def gunicorn(tmp_path, db_path):
    server = Server(db_path, tmp_path).start().ready()
    yield server
    server.kill()


@pytest.fixture
def nginx(tmp_path, gunicorn):
    need(NGINX, "nginx")
    proxy = Nginx(tmp_path / "nginx", int(gunicorn.url.rsplit(":", 1)[1])).start()
    yield proxy
    proxy.stop()


@pytest.fixture(params=["nginx", "gunicorn"])
def address(request, gunicorn):
    """Where a client connects: nginx's port, or gunicorn's straight."""
    if request.param == "nginx":
        return "127.0.0.1", request.getfixturevalue("nginx").port
    return "127.0.0.1", int(gunicorn.url.rsplit(":", 1)[1])


def assert_envelope(answer, status, envelope=LEGACY):
    """A JSON error in `envelope` (its set of fields), with a request id."""
    got, headers, body = answer
    assert got == status, body
    assert headers["content-type"].startswith("application/json"), body
    document = json.loads(body)
    assert set(document) == envelope and document["code"] in (100, 101), document
    assert document.get("data") is None
    assert headers["x-request-id"]
    return document


def auth(key):
    return ("Authorization", f"Bearer {key}")


# what: (path, extra headers, body, request line, status through either way, envelope).
# The errors are answered by nginx or gunicorn, but for the bad chunk size that gunicorn
# meets only as the app reads the body; a request line too long to read has no known path,
# so its answer takes the legacy envelope.
MALFORMED = {
    "query over 4 KB": ("/api/v1/datasets?q=" + "a" * 5000, [], b"", None, 414, LEGACY),
    "URL over 8 KB": ("/api/v1/datasets?q=" + "a" * 9000, [], b"", None, 414, LEGACY),
    "9 KB header": ("/api/v1/datasets", [("X-Big", "a" * 9000)], b"", None, 431, CURRENT),
    "9 KB header, legacy": ("/api/v1/dataset", [("X-Big", "a" * 9000)], b"", None, 431, LEGACY),
    "120 headers": ("/api/v1/datasets", [(f"X-H{n}", "1") for n in range(120)], b"", None, 431,
                    CURRENT),
    "garbage request line": ("/", [], b"", "GARBAGE", 400, LEGACY),
    "second Content-Length": ("/api/v1/datasets/x", [JSON, ("Content-Length", "2"),
                                                     ("Content-Length", "3")], b"{}", None,
                              400, CURRENT),
    "bad chunk size": ("/api/v1/dataset", [JSON, ("Transfer-Encoding", "chunked")],
                       chunked(b"{}", "zz"), None, 400, LEGACY),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_requests_answer_json(address, case):
    path, headers, body, line, status, envelope = MALFORMED[case]
    raw = request(path, headers, body, request_line=line)
    assert_envelope(exchange(address, raw), status, envelope)


def test_the_apps_413_answers_a_body_one_byte_over_the_limit(address, key, gunicorn):
    body = b'{"name": "x"}'.ljust(LIMIT + 1)
    raw = request("/api/v1/dataset", [auth(key), JSON, ("Content-Length", len(body))], body)
    document = assert_envelope(exchange(address, raw), 413)
    assert document["message"] == "The data value transmitted exceeds the capacity limit."
    assert gunicorn.request("GET", "/api/v1/dataset", key).json()["data"] == []


def test_a_chunked_body_over_the_limit_is_refused_whole(address, key, gunicorn):
    raw = request("/api/v1/dataset", [auth(key), JSON, ("Transfer-Encoding", "chunked")],
                  chunked(PADDED))
    assert_envelope(exchange(address, raw), 413)
    assert gunicorn.request("GET", "/api/v1/dataset", key).json()["data"] == []


def test_a_chunked_body_within_the_limit_is_taken(address, key, gunicorn):
    raw = request("/api/v1/dataset", [auth(key), JSON, ("Transfer-Encoding", "chunked")],
                  chunked(b'{"name": "kb"}'))
    assert exchange(address, raw)[0] == 200
    assert [d["name"] for d in gunicorn.request("GET", "/api/v1/dataset", key).json()["data"]] \
        == ["kb"]


@pytest.mark.parametrize("path, envelope", [("/api/v1/dataset", LEGACY),
                                            ("/api/v1/datasets", CURRENT)])
def test_a_body_over_nginxs_own_limit(nginx, path, envelope):
    raw = request(path, [JSON, ("Content-Length", 2 << 20)])  # refused before it is sent
    assert_envelope(exchange(("127.0.0.1", nginx.port), raw), 413, envelope)


@pytest.mark.parametrize("path, envelope", [("/api/v1/dataset", LEGACY),
                                            ("/api/v1/datasets/x?page=1", CURRENT),
                                            ("/healthz", LEGACY)])
def test_a_stopped_backend_is_a_json_502(nginx, gunicorn, path, envelope):
    gunicorn.stop()
    assert_envelope(exchange(("127.0.0.1", nginx.port), request(path)), 502, envelope)


def test_a_backend_that_never_answers_is_a_json_504(tmp_path):
    need(NGINX, "nginx")
    with socket.socket() as silent:  # accepts connections, reads nothing, answers nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        proxy = Nginx(tmp_path / "nginx", silent.getsockname()[1],
                      ("proxy_read_timeout 60s;", "proxy_read_timeout 1s;")).start()
        try:
            answer = exchange(("127.0.0.1", proxy.port), request("/api/v1/datasets"))
        finally:
            proxy.stop()
    assert_envelope(answer, 504, CURRENT)


def test_a_worker_timeout_answers_json(tmp_path, db_path, key):
    server = Server(db_path, tmp_path, "--timeout", "2").start().ready()
    try:  # the body never comes: the worker waits for it until the arbiter aborts it
        raw = request("/api/v1/dataset", [auth(key), JSON, ("Content-Length", 100),
                                          ("X-Request-Id", "slow-1")], b'{"na')
        status, headers, body = exchange(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), raw)
    finally:
        server.kill()
    assert_envelope((status, headers, body), 500)
    assert headers["x-request-id"] == "slow-1"


def test_logs_name_the_client_and_the_request_id(nginx, gunicorn, key):
    """From 127.0.0.2 through nginx: gunicorn's access line names 127.0.0.2, not nginx,
    and the request id the client gave, which the answer echoes."""
    via_nginx = ("127.0.0.1", nginx.port)
    headers = [auth(key), ("X-Request-Id", "edge-test-1"), ("X-Forwarded-For", "6.6.6.6")]
    status, answer_headers, _ = exchange(via_nginx, request("/api/v1/dataset", headers),
                                         source="127.0.0.2")
    assert status == 200 and answer_headers["x-request-id"] == "edge-test-1"
    wait_for(r'\[INFO\] 127\.0\.0\.2 edge-test-1 [0-9a-f]{32} "GET /api/v1/dataset HTTP/1\.0" '
             r'200 ', gunicorn.stdout)  # the key's tenant, never the key
    wait_for(r"^127\.0\.0\.2 edge-test-1 .*\"GET /api/v1/dataset HTTP/1\.1\" 200 ",
             nginx.access_log)

    # Without an id, nginx makes one, and both logs and the answer carry it.
    status, answer_headers, _ = exchange(via_nginx, request("/api/v1/dataset?count=1",
                                                            [auth(key)]), source="127.0.0.2")
    made = answer_headers["x-request-id"]
    assert status == 200 and len(made) == 32
    wait_for(rf"127\.0\.0\.2 {made} [0-9a-f]{{32}} \"GET /api/v1/dataset\?count=1 ",
             gunicorn.stdout)

    # Straight to gunicorn, X-Forwarded-For is the client's own word: not believed.
    straight = ("127.0.0.1", int(gunicorn.url.rsplit(":", 1)[1]))
    exchange(straight, request("/api/v1/dataset?count=2", headers[1:]), source="127.0.0.2")
    wait_for(r'\[INFO\] 127\.0\.0\.2 edge-test-1 - "GET /api/v1/dataset\?count=2 ',
             gunicorn.stdout)  # no key: no tenant

    # A healthy probe is logged by neither.
    assert exchange(via_nginx, request("/healthz"))[0] == 200
    assert exchange(straight, request("/healthz?after"))[0] == 200
    wait_for(r"count=2", gunicorn.stdout)
    assert "/healthz" not in gunicorn.stdout() + nginx.access_log()


def test_app_lines_share_the_format(nginx, gunicorn, key, db_path):
    """An error the app logs names the client and the request id, as access lines do."""
    db_path.write_bytes(b"")  # damaged while serving: the app logs why it answers 500
    raw = request("/api/v1/dataset", [auth(key), ("X-Request-Id", "broken-1")])
    status, _, _ = exchange(("127.0.0.1", nginx.port), raw, source="127.0.0.2")
    assert status == 500
    wait_for(rf"\[ERROR\] 127\.0\.0\.2 broken-1 .*{db_path}", gunicorn.stderr)


def test_a_key_over_its_rate_gets_429_in_json_while_another_key_is_served(nginx, db_path, key):
    """One key floods: past its burst, nginx answers 429 in the envelope, with Retry-After,
    before any worker; another key is served meanwhile, and the flood's key again after."""
    other = issue_key(db_path)
    address = ("127.0.0.1", nginx.port)
    flood = [exchange(address, request("/api/v1/datasets", [auth(key)])) for _ in range(80)]
    statuses = [status for status, _, _ in flood]
    assert statuses[:40] == [200] * 40 and 429 in statuses[40:]
    limited = next(answer for answer in flood if answer[0] == 429)
    document = assert_envelope(limited, 429, CURRENT)
    assert "retry" in document["message"] and limited[1]["retry-after"] == "1"
    legacy = [exchange(address, request("/api/v1/dataset", [("Authorization", key)]))
              for _ in range(5)]
    assert_envelope(legacy[-1], 429)  # the bare form of the same key shares its limit
    assert exchange(address, request("/api/v1/datasets", [auth(other)]))[0] == 200
    assert exchange(address, request("/healthz"))[0] == 200
    time.sleep(1.5)
    assert exchange(address, request("/api/v1/datasets", [auth(key)]))[0] == 200
