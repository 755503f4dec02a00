import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from werkzeug.serving import make_server

from app import create_app, parse_queue
from app import store as stores
from harness import live, pgserver


def made(runner):
    """`runner`, its store made with `store init` if it is new."""
    result = runner.invoke(args=["store", "init"])
    assert result.exit_code == 0, result.output
    return runner


def issue_key(runner, *args):
    """Issue a key with the CLI, on a store made if new; the key (its output's last line)."""
    result = made(runner).invoke(args=["keys", "create", *args])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()[-1]


class Api:
    """The test client, sending one API key the way the document shows."""

    def __init__(self, client, key):
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"}

    def create(self, name, field="name"):
        return self.client.post("/api/v1/dataset", json={field: name}, headers=self.headers)

    def list(self, **params):
        return self.client.get("/api/v1/dataset", query_string=params, headers=self.headers)

    def names(self, **params):
        response = self.list(**params)
        assert response.status_code == 200, response.json
        return [record["name"] for record in response.json["data"]]

    def delete(self, dataset_id):
        return self.client.delete(f"/api/v1/dataset/{dataset_id}", headers=self.headers)


class Current:
    """The test client on the current API (/api/v1/datasets), with one API key."""

    URL = "/api/v1/datasets"

    def __init__(self, client, key):
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"}

    def create(self, name=None, headers=None, **fields):
        body = fields if name is None else {"name": name, **fields}
        return self.client.post(self.URL, json=body, headers={**self.headers, **(headers or {})})

    def list(self, **params):
        return self.client.get(self.URL, query_string=params, headers=self.headers)

    def get(self, dataset_id):
        return self.client.get(f"{self.URL}/{dataset_id}", headers=self.headers)

    def update(self, dataset_id, **fields):
        return self.client.put(f"{self.URL}/{dataset_id}", json=fields, headers=self.headers)

    def delete(self, **body):
        return self.client.delete(self.URL, json=body, headers=self.headers)

    def made(self, name, **fields):
        """Create and return the dataset, which must be made."""
        response = self.create(name, **fields)
        assert response.json["code"] == 0, response.json
        return response.json["data"]


def throwaway_postgres():
    """A PostgreSQL server of the tests' own; skipped where there is none, failed in CI."""
    if not pgserver.available():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs PostgreSQL: {pgserver.HOW}")
        pytest.skip(pgserver.HOW)
    return pgserver.Server()


@pytest.fixture(scope="session")
def postgres_server():
    """The URL of a PostgreSQL server for the session: DATASET_API_TEST_DATABASE_URL, or a
    throwaway server."""
    url = os.environ.get("DATASET_API_TEST_DATABASE_URL")
    if url:
        yield url
        return
    server = throwaway_postgres()
    try:
        yield server.url()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of the module's own, so that its tests may stop or kill it."""
    server = throwaway_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_database(postgres_server):
    return pgserver.create_database(postgres_server, "dataset_api_tests")


@pytest.fixture
def postgres_url(postgres_database):
    """A database with no rows in the store's tables."""
    pgserver.empty(postgres_database)
    return postgres_database


@pytest.fixture
def postgres_config(postgres_url, tmp_path):
    return {"TESTING": True, "DB_PATH": str(tmp_path / "unused.json"),
            "DATABASE_URL": postgres_url, "LOCK_TIMEOUT": 1}


def racing(config, work, count):
    """`work(store, n)` for n in range(count), from 8 threads of two apps (two servers),
    the first 8 at once: what each returned, or the exception it raised."""
    stores = [create_app(config).extensions["store"] for _ in range(2)]
    start = threading.Barrier(8)

    def run(n):
        if n < 8:
            start.wait(10)
        try:
            return work(stores[n % 2], n)
        except Exception as err:  # what each got is for the test to judge
            return err

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(run, range(count))), stores[0]


@pytest.fixture(autouse=True)
def closing_stores(monkeypatch):
    """Every store a test opens is closed after it: PostgreSQL pools hold connections."""
    opened = []
    open_store = stores.open_store

    def opening(config):
        opened.append(open_store(config))
        return opened[-1]

    monkeypatch.setattr(stores, "open_store", opening)
    yield
    parse_queue.stop_all()  # no parser of this test's apps goes on into the next test
    for store in opened:
        store.close()


@pytest.fixture(params=["json", "postgres"])
def engine(request):
    return request.param


@pytest.fixture
def config(request, engine, tmp_path):
    """The app's configuration, for each engine in turn."""
    config = {"TESTING": True, "DB_PATH": str(tmp_path / "db.json")}
    if engine == "postgres":
        config["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    return config


@pytest.fixture
def app(config):
    return create_app(config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return made(app.test_cli_runner())


@pytest.fixture
def key(runner):
    return issue_key(runner)


@pytest.fixture
def api(client, key):
    return Api(client, key)


@pytest.fixture
def other(client, runner):
    """A second tenant's API."""
    return Api(client, issue_key(runner))


@pytest.fixture
def current(client, key):
    """The current API, with the same key as `api`."""
    return Current(client, key)


@pytest.fixture
def rag(app, key):
    """A ragflow-sdk client of the app, served on a free loopback port by a thread."""
    try:
        from ragflow_sdk import RAGFlow
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("ragflow-sdk is not installed (make installs it)")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RAGFlow(api_key=key, base_url=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture(params=["json", "postgres"])
def served(request, tmp_path):
    """(server, key): gunicorn with 4 workers on a new store of each engine, and a key."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    db_path = tmp_path / "db.json"
    key = live.issue_key(db_path, database_url=url)
    server = live.Server(db_path, tmp_path, database_url=url).start()
    try:
        yield server.ready(), key
    finally:
        server.kill()
