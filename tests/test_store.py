"""The store file's layout, and every process seeing every committed change."""

import json

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
    assert set(data) == {"keys"} | {f"tenant:{t}" for t in tenants}
    records = [r for name, table in data.items() if name != "keys" for r in table.values()]
    assert sorted(r["name"] for r in records) == ["mine", "theirs"]
    assert all(set(r) == {"id", "name", "create_time", "update_time"} for r in records)
    assert all(set(k) == {"id", "tenant", "name", "digest", "created", "last_used"}
               for k in data["keys"].values())
    assert key not in json.dumps(data)


def test_every_app_on_the_file_sees_every_change(config):
    first, second = create_app(config), create_app(config)
    key = issue_key(first.test_cli_runner())
    one, two = Api(first.test_client(), key), Api(second.test_client(), key)
    one.create("kb")
    assert two.names() == ["kb"]
    assert two.create("KB").json["data"]["dataset_name"] == "KB(1)"
    assert one.names() == ["KB(1)", "kb"]
    one.delete(one.list().json["data"][1]["id"])
    assert two.names() == ["KB(1)"]
    [key_id] = [k["id"] for k in first.extensions["store"].keys()]
    first.test_cli_runner().invoke(args=["keys", "revoke", key_id])
    assert two.list().status_code == 401


def test_an_unchanged_file_is_not_parsed_again(api, monkeypatch):
    api.create("kb")
    api.list()
    reads = []
    read = store.Store._read
    monkeypatch.setattr(store.Store, "_read", lambda self: reads.append(1) or read(self))
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
