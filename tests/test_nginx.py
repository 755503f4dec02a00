"""The edge, live: deploy/nginx.conf in a real nginx in front of a real gunicorn. Every
oversized or malformed request answers JSON in the API's envelope, through nginx and
straight to gunicorn; the logs name the real client and the request id."""

import json
import socket
import time
from collections import Counter

import pytest
import requests

from app.auth import new_key
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


@pytest.fixture
def silent(tmp_path):
    """nginx in front of a backend that takes connections and never answers."""
    need(NGINX, "nginx")
    with socket.socket() as backend:
        backend.bind(("127.0.0.1", 0))
        backend.listen()
        proxy = Nginx(tmp_path / "nginx", backend.getsockname()[1]).start()
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


# What nginx refuses itself, sent as raw bytes since no client library would send them.
REFUSED = {
    "TRACE": (lambda path: request(path, method="TRACE"), 405),
    "Transfer-Encoding: gzip, chunked": (lambda path: request(
        path, [JSON, ("Transfer-Encoding", "gzip, chunked")], chunked(b"{}")), 501),
    "HTTP/2.0": (lambda path: request(path, request_line=f"GET {path} HTTP/2.0"), 505),
}


@pytest.mark.parametrize("case", REFUSED)
@pytest.mark.parametrize("path, envelope", [("/api/v1/dataset", LEGACY),
                                            ("/api/v1/datasets", CURRENT)])
def test_nginxs_own_refusals_answer_json(silent, case, path, envelope):
    raw, status = REFUSED[case]
    assert_envelope(exchange(("127.0.0.1", silent.port), raw(path)), status, envelope)


def flood(address, authorizations, source):
    """Each of `authorizations` (None: no header) on a list, in turn from `source`:
    (how many answers of each status, seconds it took)."""
    started = time.monotonic()
    counts = Counter(exchange(address, request("/api/v1/datasets", [] if value is None else
                                                [("Authorization", value)]), source)[0]
                     for value in authorizations)
    return counts, time.monotonic() - started


# Authorizations that are no key's form, n = 0, 1, ...: each request its own.
NOT_KEYS = {
    "no header": lambda key, n: None,
    "made-up tokens": lambda key, n: f"Bearer made-up-{n}",
    "0xA0 bytes after the key": lambda key, n: f"Bearer {key}" + "\xa0" * (n + 1),
    "0xA0 bytes after the bare key": lambda key, n: key + "\xa0" * (n + 1),
    "0xA0 between Bearer and the key": lambda key, n: "Bearer" + "\xa0" * (n + 1) + key,
}


@pytest.mark.parametrize("kind", NOT_KEYS)
def test_what_is_no_keys_form_is_limited_by_its_address(nginx, key, kind):
    """70 requests from one address, each with an Authorization of its own that is not a
    key's form: they share the address's bucket (40 at once, then 20 a second), as requests
    without a key do, and the app refuses every one of them; another address is served."""
    address = ("127.0.0.1", nginx.port)
    counts, took = flood(address, [NOT_KEYS[kind](key, n) for n in range(70)], "127.0.0.2")
    assert set(counts) == {401, 429}, counts  # none of them passes for the key
    assert 41 <= counts[401] <= 42 + 20 * took, (counts, took)
    assert exchange(address, request("/api/v1/datasets", [auth(key)]), "127.0.0.3")[0] == 200


def test_the_key_and_its_0xa0_variants_share_nothing_but_the_address(nginx, key):
    """The key's own bucket is not touched by its variants, nor theirs by the key's use."""
    address = ("127.0.0.1", nginx.port)
    variants, took = flood(address, [f"Bearer {key}" + "\xa0" * (n + 1) for n in range(50)],
                           "127.0.0.2")
    assert variants[429] >= 50 - 42 - 20 * took, (variants, took)
    plain, took = flood(address, [f"Bearer {key}"] * 50, "127.0.0.3")
    assert 41 <= plain[200] <= 42 + 20 * took and plain[429] == 50 - plain[200], plain


def test_made_up_keys_of_the_right_form_are_held_by_the_address_limit(nginx):
    """Each request with a new key of the form `keys create` makes gets a bucket of its
    own, but every request counts against its address: 120 at once, then 60 a second."""
    address = ("127.0.0.1", nginx.port)
    counts, took = flood(address, [f"Bearer {new_key()}" for _ in range(200)], "127.0.0.2")
    assert set(counts) <= {401, 429}
    assert 121 <= counts[401] <= 122 + 60 * took and counts[429] > 0, (counts, took)


def pending(address, authorization, path="/api/v1/dataset"):
    """A socket whose request nginx took and passed on (no answer yet), or the status of
    nginx's answer: what one request of `authorization` gets while others are held."""
    sock = socket.create_connection(address, 5)
    sock.sendall(request(path, [("Authorization", authorization)]))
    sock.settimeout(0.3)
    try:
        answer = sock.recv(65536)
    except TimeoutError:
        return sock
    sock.close()
    return int(answer.split()[1])


def test_one_large_list_at_a_time_per_key_however_it_is_sent(silent):
    """Large legacy lists held by a backend that never answers: a key's second one, in any
    spelling, is refused at once; the key with 0xA0 bytes after it counts as its address,
    one at a time too; another key and a small page are passed on."""
    address, first, second = ("127.0.0.1", silent.port), new_key(), new_key()
    held = [pending(address, f"Bearer {first}")]  # count=-1, the default
    assert isinstance(held[0], socket.socket)
    try:
        for path in ("/api/v1/dataset?count=-1", "/api/v1/dataset?count=5000",
                     "/api/v1/dataset?count=%2D1", "/api/v1/dataset?count=+1000"):
            assert pending(address, first, path) == 429, path  # the bare form: the same key
        held.append(pending(address, f"Bearer {first}", "/api/v1/dataset?count=20"))
        held.append(pending(address, f"Bearer {first}\xa0"))  # the address's one
        held.append(pending(address, f"Bearer {second}"))
        assert all(isinstance(sock, socket.socket) for sock in held), held
        assert pending(address, f"Bearer {first}\xa0\xa0") == 429
        assert pending(address, "Bearer made-up") == 429
    finally:
        for sock in held:
            if isinstance(sock, socket.socket):
                sock.close()


def test_a_document_past_the_bodies_limit_is_uploaded_and_downloaded(nginx, key):
    """Uploads have a limit of their own, past the 1 MiB of other bodies; both ways whole."""
    url = f"http://127.0.0.1:{nginx.port}/api/v1/datasets"
    headers = {"Authorization": f"Bearer {key}"}
    dataset = requests.post(url, json={"name": "big"}, headers=headers).json()["data"]["id"]
    data = bytes(range(256)) * (12 << 12)  # 12 MiB
    answer = requests.post(f"{url}/{dataset}/documents", headers=headers,
                           files=[("file", ("big.txt", data))]).json()
    assert answer["code"] == 0, answer
    back = requests.get(f"{url}/{dataset}/documents/{answer['data'][0]['id']}",
                        headers=headers)
    assert back.status_code == 200 and back.content == data
    over = requests.post(f"{url}/{dataset}", data=b"x" * (2 << 20), headers=headers)
    assert over.status_code == 413  # elsewhere, nginx's 1 MiB still holds
