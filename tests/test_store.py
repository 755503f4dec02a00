"""The store file's layout, and every process seeing every committed change."""

import json
import os
import random

import pytest

from app import create_app, store
from tests.conftest import Api, issue_key


@pytest.mark.parametrize("name, taken, expected", [
    ("kb", set(), "kb"),
    ("kb", {"kb"}, "kb(1)"),
    ("KB", {"kb", "kb(1)", "kb(3)"}, "KB(2)"),
    ("a.b", {"a.b"}, "a.b(1)"),
])
def test_free_name(name, taken, expected):
    assert store.free_name(name, taken) == expected


def test_layout_is_by_tenant_and_keeps_only_what_varies(api, other, key, config):
    api.create("mine")
    other.create("theirs")
    with open(config["DB_PATH"]) as file:
        data = json.load(file)
    tenants = {k["tenant"] for k in data["keys"].values()}
    assert set(data) == {"changes", "keys"} | {f"tenant:{t}" for t in tenants}
    records = [r for name, table in data.items() if name.startswith("tenant:")
               for r in table.values()]
    assert sorted(r["name"] for r in records) == ["mine", "theirs"]
    assert all(set(r) == {"id", "name", "create_time", "update_time"} for r in records)
    assert all(set(k) == {"id", "tenant", "name", "digest", "created", "last_used"}
               for k in data["keys"].values())
    assert key not in json.dumps(data)


def two_processes(config):
    """Two apps on one store, as two gunicorn workers would be, sharing one key."""
    first, second = create_app(config), create_app(config)
    key = issue_key(first.test_cli_runner())
    return Api(first.test_client(), key), Api(second.test_client(), key)


def test_every_app_on_the_file_sees_every_change(config):
    one, two = two_processes(config)
    one.create("kb")
    assert two.names() == ["kb"]
    assert two.create("KB").json["data"]["dataset_name"] == "KB(1)"
    assert one.names() == ["KB(1)", "kb"]
    one.delete(one.list().json["data"][1]["id"])
    assert two.names() == ["KB(1)"]
    first = one.client.application
    [key_id] = [k["id"] for k in first.extensions["store"].keys()]
    first.test_cli_runner().invoke(args=["keys", "revoke", key_id])
    assert two.list().status_code == 401


def test_an_unchanged_file_is_not_parsed_again(api, monkeypatch):
    api.create("kb")
    api.list()
    reads = []
    read = store.Store._read
    monkeypatch.setattr(store.Store, "_read", lambda self, known: reads.append(1) or read(self, known))
    for _ in range(3):
        assert api.names() == ["kb"]
    assert reads == []
    api.create("other")
    assert api.names() == ["other", "kb"]
    assert reads == []  # the writer keeps what it wrote
    with open(api.client.application.config["DB_PATH"], "r+") as file:
        edited = file.read().replace('"kb"', '"kb2"')
        file.seek(0)
        file.write(edited)
    assert api.names() == ["other", "kb2"]
    assert reads == [1]


def test_a_missing_file_is_an_empty_store(client, config, tmp_path):
    assert client.get("/healthz").status_code == 200
    assert not (tmp_path / "db.json").exists()


def test_a_deleted_dataset_leaves_nothing_in_the_file(api, config):
    api.create("keep")
    gone = api.create("secret-name").json["data"]["id"]
    api.delete(gone)
    with open(config["DB_PATH"]) as file:
        text = file.read()
    assert "secret-name" not in text and gone not in text and "keep" in text


def test_other_processes_replay_changes_instead_of_parsing_the_file(config, monkeypatch):
    one, two = two_processes(config)
    for n in range(200):  # more than the file keeps changes of: `two` reads it in full
        one.create(f"kb{n}")
    assert two.names() == one.names()
    parsed = []
    loads = store.orjson.loads
    monkeypatch.setattr(store.orjson, "loads", lambda raw: parsed.append(len(raw)) or loads(raw))
    for n in range(3):
        one.create(f"new{n}")
    assert two.names() == one.names()
    assert parsed and max(parsed) < os.path.getsize(config["DB_PATH"]) / 4


def test_processes_taking_turns_agree_with_a_fresh_read(config):
    apps = [create_app(config) for _ in range(3)]
    key = issue_key(apps[0].test_cli_runner())
    apis = [Api(app.test_client(), key) for app in apps]
    turns = random.Random(7)
    for _ in range(150):
        api = turns.choice(apis)
        listed = api.list().json["data"]
        if listed and turns.random() < 0.3:
            assert api.delete(turns.choice(listed)["id"]).status_code == 200
        else:
            assert api.create(turns.choice("abcdef")).status_code == 200
    fresh = Api(create_app(config).test_client(), key)
    for api in apis:
        assert api.list().json == fresh.list().json
    with open(config["DB_PATH"], "rb") as file:  # written from JSON kept across versions
        assert file.read() == b"".join(store._serialise(json.loads(json.dumps(
            fresh.client.application.extensions["store"]._latest().tables))))


RECORD = {"id": "f" * 32, "name": "new", "create_time": 1, "update_time": 1}


@pytest.mark.parametrize("skip, changes, status", [
    (1, [["put", "TENANT", "9", RECORD]], 200),  # a version missing: read in full
    (0, [["put"]], 500),  # damaged: the full read refuses the file
    (0, [["put", "TENANT", "x", RECORD]], 500),
    (0, [["put", "TENANT", "9", {"name": "x"}]], 500),
    (0, [["drop", "keys", "1"]], 500),
    (0, {"not": "a list"}, 500),
])
def test_changes_that_cannot_be_replayed_mean_a_full_read(config, skip, changes, status):
    one, two = two_processes(config)
    one.create("kb")
    assert two.names() == ["kb"]
    with open(config["DB_PATH"], "rb") as file:
        data = json.loads(file.read())
    tenant = next(name for name in data if name.startswith("tenant:"))
    data[tenant]["1"]["name"] = "edited"
    changes = json.loads(json.dumps(changes).replace("TENANT", tenant))
    data["changes"] = {str(max(map(int, data["changes"])) + 1 + skip): changes}
    with open(config["DB_PATH"], "wb") as file:
        file.write(b"".join(store._serialise(data)))
    response = two.list()
    assert response.status_code == status
    if status == 200:
        assert [record["name"] for record in response.json["data"]] == ["edited"]
