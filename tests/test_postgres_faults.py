"""PostgreSQL frozen under a real gunicorn: answers in time, workers that live, recovery."""

import os
import signal
import time

import pytest

from harness import pgserver
from harness.live import TIMEOUT, WORKERS, Server, issue_key
from tests.test_live import create, made

pytestmark = pytest.mark.live  # subprocesses: make test-fast skips these

WRITTEN_FRESH = 10  # seconds a worker's last write vouches for the store (its health)


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as file:
        return sorted(int(child) for child in file.read().split())


def signal_all(pids, number):
    for pid in pids:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass


def test_a_frozen_postgresql_answers_busy_in_time_and_the_workers_live(postgres, tmp_path):
    """SIGSTOP of PostgreSQL (its server and every backend, as a host that hangs): lists,
    creates and /healthz answer a JSON 503 within 10 s each, no worker is killed for its
    time; after SIGCONT every request succeeds again."""
    database = pgserver.create_database(postgres.url(), "frozen")
    key = issue_key(tmp_path / "unused.json", database_url=database)
    server = Server(tmp_path / "unused.json", tmp_path, database_url=database).start().ready()
    try:
        made(create(server, key, "before"))
        deadline = time.monotonic() + TIMEOUT
        while len(workers := children(server.process.pid)) < WORKERS:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        time.sleep(WRITTEN_FRESH)  # no worker's write vouches for the store any longer
        frozen = [postgres.pid()] + children(postgres.pid())
        signal_all(frozen, signal.SIGSTOP)
        try:
            for method, path in [("GET", "/api/v1/dataset"), ("POST", "/api/v1/dataset"),
                                 ("GET", "/api/v1/datasets"), ("GET", "/healthz")] * 2:
                started = time.monotonic()
                response = server.request(method, path, key, json={"name": "during"})
                took = time.monotonic() - started
                assert response.status_code == 503 and took < 10, (method, path, took)
                assert response.headers["Content-Type"] == "application/json", response.text
            assert children(server.process.pid) == workers  # none timed out and replaced
        finally:
            signal_all(frozen, signal.SIGCONT)
        deadline = time.monotonic() + TIMEOUT
        while create(server, key, "after").status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover"
            time.sleep(0.2)
        for _ in range(2 * len(workers)):
            assert server.request("GET", "/api/v1/dataset", key).status_code == 200
            assert server.request("GET", "/healthz").status_code == 200
            made(create(server, key, "again"))
        assert children(server.process.pid) == workers
    finally:
        server.kill()
