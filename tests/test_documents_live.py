"""Documents on gunicorn with 4 workers: uploads and parses at once, kill -9, memory."""

import http.client
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import live

pytestmark = pytest.mark.live
SETTINGS = {"PARSE_LEASE": 2}  # s: a parse cut by kill -9 is taken up again soon


def workers(server):
    """The pids of gunicorn's workers now."""
    pid = server.process.pid
    with open(f"/proc/{pid}/task/{pid}/children") as file:
        return [int(child) for child in file.read().split()]


def peak_memory(pid):
    """The most memory (RSS, bytes) the process has held since it started."""
    with open(f"/proc/{pid}/status") as file:
        line = next(line for line in file if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def kill_workers(server):
    for pid in workers(server):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(params=["json", "postgres"])
def servers(request, tmp_path):
    """(servers, key): one gunicorn on the JSON store, or two hosts on one PostgreSQL."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    db_path = tmp_path / "db.json"
    key = live.issue_key(db_path, database_url=url)
    started = [live.Server(db_path, tmp_path, database_url=url, settings=SETTINGS).start()
               for _ in range(2 if url else 1)]
    try:
        yield [server.ready() for server in started], key
    finally:
        for server in started:
            server.kill()


class Client:
    """The document routes of one dataset, on a server."""

    def __init__(self, server, key, dataset_id):
        self.server, self.key, self.base = server, key, f"/api/v1/datasets/{dataset_id}"

    def call(self, method, path, **kwargs):
        response = self.server.request(method, self.base + path, self.key, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def upload(self, name, data):
        answer = self.call("POST", "/documents", files=[("file", (name, data))])
        assert answer["code"] == 0, answer
        return answer["data"][0]

    def documents(self):
        return self.call("GET", "/documents", params={"page_size": 100})["data"]

    def all_documents(self):
        found, page = [], 1
        while True:
            docs = self.call("GET", "/documents", params={"page": page, "page_size": 100}
                             )["data"]["docs"]
            found += docs
            if len(docs) < 100:
                return found
            page += 1

    def dataset(self):
        answer = self.server.request("GET", self.base, self.key).json()
        return answer["data"]

    def settled(self, timeout=60):
        """Every document once none is RUNNING (waiting at most `timeout` s)."""
        deadline = time.monotonic() + timeout
        while True:
            docs = self.all_documents()
            if all(d["run"] != "RUNNING" for d in docs) or time.monotonic() > deadline:
                return docs
            time.sleep(0.2)


def new_dataset(server, key, name="docs"):
    answer = server.request("POST", "/api/v1/datasets", key, json={"name": name}).json()
    assert answer["code"] == 0, answer
    return answer["data"]["id"]


def text(n, lines=50):
    return "\n".join(f"Document {n}, line {i}: some words to count." for i in range(lines))


def assert_counts_exact(client, docs):
    dataset = client.dataset()
    assert dataset["document_count"] == len(docs)
    assert dataset["chunk_count"] == sum(d["chunk_count"] for d in docs)
    assert dataset["token_num"] == sum(d["token_count"] for d in docs)


def test_200_uploads_and_parses_at_once_keep_the_counts_exact(servers):
    hosts, key = servers
    dataset_id = new_dataset(hosts[0], key)
    clients = [Client(host, key, dataset_id) for host in hosts]

    def one(n):
        client = clients[n % len(clients)]
        record = client.upload(f"doc{n}.txt", text(n).encode())
        assert client.call("POST", "/chunks", json={"document_ids": [record["id"]]})["code"] == 0

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(200)))
    docs = clients[0].settled()
    assert len(docs) == 200 and {d["run"] for d in docs} == {"DONE"}
    assert len({d["name"] for d in docs}) == 200
    assert_counts_exact(clients[-1], docs)


def test_a_parse_cut_by_kill_9_is_taken_up_again(servers, tmp_path):
    hosts, key = servers
    client = Client(hosts[0], key, new_dataset(hosts[0], key))
    big = [client.upload(f"big{n}.txt", text(n, lines=60_000).encode()) for n in range(3)]
    client.call("POST", "/chunks", json={"document_ids": [d["id"] for d in big]})
    deadline = time.monotonic() + 20
    while "Parsing started" not in "".join(d["progress_msg"] for d in client.all_documents()):
        assert time.monotonic() < deadline, "no parse started"
        time.sleep(0.02)
    for host in hosts:
        kill_workers(host)  # gunicorn starts new ones; their parsers find the queue
    docs = client.settled(timeout=90)
    assert {d["run"] for d in docs} == {"DONE"}, [(d["run"], d["progress_msg"]) for d in docs]
    assert_counts_exact(client, docs)
    chunks = client.call("GET", f"/documents/{big[0]['id']}/chunks")["data"]
    assert chunks["total"] == docs[[d["id"] for d in docs].index(big[0]["id"])]["chunk_count"]


def send_slowly(server, key, dataset_id, size, sent):
    """Upload a file of `size` bytes a piece at a time, noting in `sent` how much went."""
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"cut.txt\"\r\nContent-Type: text/plain\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    connection = http.client.HTTPConnection(server.url.split("//")[1], timeout=30)
    try:
        connection.putrequest("POST", f"/api/v1/datasets/{dataset_id}/documents")
        connection.putheader("Authorization", f"Bearer {key}")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(len(head) + size + len(tail)))
        connection.endheaders()
        connection.send(head)
        for _ in range(size // (1 << 20)):
            connection.send(b"x" * (1 << 20))
            sent.append(1 << 20)
            time.sleep(0.05)
        connection.send(tail)
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        pass  # the worker was killed under it
    finally:
        connection.close()


def test_kill_9_mid_upload_leaves_no_record_without_bytes_and_no_orphans(servers, tmp_path):
    hosts, key = servers
    host = hosts[0]
    dataset_id = new_dataset(host, key)
    client = Client(host, key, dataset_id)
    kept = client.upload("kept.txt", b"kept")
    sent = []
    uploading = threading.Thread(target=send_slowly, args=(host, key, dataset_id, 40 << 20, sent))
    uploading.start()
    while sum(sent) < (10 << 20):
        time.sleep(0.01)
    kill_workers(host)
    uploading.join()
    host.ready()
    for document in client.all_documents():  # every record has its bytes
        response = host.request("GET", f"{client.base}/documents/{document['id']}", key)
        assert response.status_code == 200 and len(response.content) == document["size"]
    result = live.cli(host.db_path, "store", "collect", "--grace", "0",
                      database_url=host.database_url)
    assert result.returncode == 0, result.stderr
    again = live.cli(host.db_path, "store", "collect", "--grace", "0",
                     database_url=host.database_url)
    assert "removed 0 files" in again.stdout, again.stdout
    if host.database_url is None:  # the JSON engine: a file per document, nothing else
        folder = tmp_path / "db.json.files"
        assert [p.name for p in folder.glob("*/*")] + [p.name for p in folder.glob("*/.*")] \
            == [kept["location"]]
    assert [d["id"] for d in client.all_documents()] == [kept["id"]]


def test_100_mb_up_and_down_keep_each_worker_under_100_mb(servers, tmp_path):
    hosts, key = servers
    host = hosts[0]
    client = Client(host, key, new_dataset(host, key))
    path = tmp_path / "big.txt"
    with open(path, "wb") as file:
        for n in range(100):
            file.write(bytes([65 + n % 26]) * (1 << 20))
    with open(path, "rb") as file:
        record = client.upload("big.txt", file)
    assert record["size"] == 100 << 20
    response = host.request("GET", f"{client.base}/documents/{record['id']}", key, stream=True)
    received = sum(len(piece) for piece in response.iter_content(1 << 20))
    assert received == 100 << 20
    peaks = {pid: peak_memory(pid) for pid in workers(host)}
    assert max(peaks.values()) < 100 << 20, peaks
