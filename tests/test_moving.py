"""`store export` and `store import`: moving everything between engines, nothing lost."""

import json
import multiprocessing

import pytest
import psycopg

from app import create_app
from app.store import rules
from app.store.postgres.schema import MIGRATIONS, migrate
from harness import pgserver
from tests.conftest import Api, issue_key


@pytest.fixture
def json_config(tmp_path):
    return {"TESTING": True, "DB_PATH": str(tmp_path / "moved" / "db.json")}


@pytest.fixture
def postgres_config(postgres_url, tmp_path):
    return {"TESTING": True, "DB_PATH": str(tmp_path / "unused.json"),
            "DATABASE_URL": postgres_url}


def fill(app):
    """Two tenants, keys (one used), datasets made, renamed and deleted, an Idempotency-Key."""
    runner, client = app.test_cli_runner(), app.test_client()
    first, second = Api(client, issue_key(runner, "--name", "a")), Api(client, issue_key(runner))
    issue_key(runner, "--name", "b")  # a tenant whose datasets are none
    for name in ("kb", "KB", "other", "x.y"):
        assert first.create(name).status_code == 200
    first.delete(first.list().json["data"][1]["id"])
    assert second.create("kb").status_code == 200
    store = app.extensions["store"]
    tenant = store.list_keys()[0]["tenant"]
    [kb], _ = store.list_datasets(tenant, name="kb")
    store.update_dataset(tenant, kb["id"], rules.Patch({
        "name": "renamed", "description": "d",
        "parser_config": {"raptor": {"use_raptor": True}}}), kb["create_time"] + 5)
    store.create_dataset(tenant, {"name": "idem"}, kb["create_time"] + 6,
                         idempotency=("retry-1", "f" * 64))
    now = kb["create_time"] + 7  # documents, one parsed, and their bytes
    documents = [{"name": name, "location": location, "size": size}
                 for name, data in (("a.txt", b"\x00\xff bytes"), ("b.md", b"# b"))
                 for location, size in [store.save_bytes(tenant, [data])]]
    a, _ = store.add_documents(tenant, kb["id"], documents, now)
    store.queue_parse(tenant, kb["id"], [a["id"]], now)
    store.claim_parse("claim", now + 60_000, now)
    store.finish_parse(tenant, a["id"], "claim", [("one", 1), ("two", 2)], None, now + 1)


@pytest.mark.parametrize("source, target", [("json_config", "postgres_config"),
                                            ("postgres_config", "json_config")])
def test_everything_moves_between_engines_and_back(request, tmp_path, source, target):
    source, target = request.getfixturevalue(source), request.getfixturevalue(target)
    old = create_app(source)
    fill(old)
    exported = tmp_path / "export.json"
    result = old.test_cli_runner().invoke(args=["store", "export", str(exported)])
    assert result.exit_code == 0, result.output
    new = create_app(target)
    result = new.test_cli_runner().invoke(args=["store", "import", str(exported)])
    assert result.exit_code == 0, result.output
    assert "Imported 3 keys, 3 tenants and 5 datasets" in result.output
    before, after = old.extensions["store"].export(), new.extensions["store"].export()
    after, before = json.loads(json.dumps(after)), json.loads(json.dumps(before))
    for part in before:
        assert after[part] == before[part], part
    tenant = before["keys"][0]["tenant"]
    moved = new.extensions["store"]
    assert moved.create_dataset(tenant, {"name": "kb(1)"}, 1)["name"] == "kb(1)(1)"
    assert moved.create_dataset(tenant, {"name": "idem"}, 2,
                                idempotency=("retry-1", "f" * 64))["name"] == "idem"
    result = new.test_cli_runner().invoke(args=["store", "import", str(exported)])
    assert result.exit_code == 1 and "not empty" in result.output


def test_export_refuses_to_overwrite_and_names_its_target(app, runner, tmp_path):
    issue_key(runner)
    target = tmp_path / "taken.json"
    target.write_text("mine")
    result = runner.invoke(args=["store", "export", str(target)])
    assert result.exit_code == 1 and str(target) in result.output and "--force" in result.output
    assert target.read_text() == "mine"
    assert runner.invoke(args=["store", "export", "--force", str(target)]).exit_code == 0
    missing = tmp_path / "no" / "folder" / "x.json"
    result = runner.invoke(args=["store", "export", str(missing)])
    assert result.exit_code == 1 and str(missing) in result.output


def migrate_in(url, ready):
    ready.wait(10)
    with psycopg.connect(url) as conn:
        migrate(conn)


def test_servers_starting_at_once_upgrade_the_schema_once(postgres_url):
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        pgserver.drop_store(conn)
    fork = multiprocessing.get_context("fork")
    ready = fork.Event()
    starts = [fork.Process(target=migrate_in, args=(postgres_url, ready)) for _ in range(6)]
    for start in starts:
        start.start()
    ready.set()
    for start in starts:
        start.join(30)
    assert [start.exitcode for start in starts] == [0] * 6
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [
            (len(MIGRATIONS),)]


def test_an_export_names_each_record_it_cannot_write_and_writes_the_rest(postgres_config,
                                                                         tmp_path):
    """A dataset stored before the API refused integers past 64 bits: `store export` writes
    everything else, names that dataset on stderr, and fails."""
    app = create_app(postgres_config)
    issue_key(app.test_cli_runner())
    store = app.extensions["store"]
    tenant = store.list_keys()[0]["tenant"]
    kept, big = (store.create_dataset(tenant, {"name": name}, 1) for name in ("kept", "big"))
    with psycopg.connect(postgres_config["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("UPDATE datasets SET fields = jsonb_set(fields, '{parser_config}',"
                     " '{\"pages\": [[1, 123456789012345678901234567890]]}') WHERE id = %s",
                     (big["id"],))
    pages = store.export()["datasets"][1]["parser_config"]["pages"]  # read, exactly
    assert pages == [[1, 123456789012345678901234567890]]
    target = tmp_path / "export.json"
    result = app.test_cli_runner().invoke(args=["store", "export", str(target)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Store: PostgreSQL {store.location}",
        f"Not exported: dataset {big['id']} of tenant {tenant}: parser_config.pages.0.1 is"
        f" 123456789012345678901234567890, out of range"]
    new = create_app({"TESTING": True, "DB_PATH": str(tmp_path / "moved.json")})
    assert new.test_cli_runner().invoke(args=["store", "import", str(target)]).exit_code == 0
    assert [d["id"] for d in new.extensions["store"].export()["datasets"]] == [kept["id"]]
