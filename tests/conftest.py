import pytest

from app import create_app


def issue_key(runner, *args):
    """Issue a key with the CLI and return it (the last line of its output)."""
    result = runner.invoke(args=["keys", "create", *args])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()[-1]


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


@pytest.fixture
def config(tmp_path):
    return {"TESTING": True, "DB_PATH": str(tmp_path / "db.json")}


@pytest.fixture
def app(config):
    return create_app(config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


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
