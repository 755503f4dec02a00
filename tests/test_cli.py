"""`flask keys ...` and `flask store ...` through the CLI runner."""

import json
import re

import psycopg
import pytest

from app import create_app
from app.auth import digest
from harness import pgserver
from tests.conftest import Api, issue_key


def run(runner, *args):
    return runner.invoke(args=list(args))


def key_ids(runner):
    lines = run(runner, "keys", "list").stdout.splitlines()[1:]
    return [line.split()[0] for line in lines]


def test_create_makes_a_new_tenant_each_time(runner, client):
    first, second = issue_key(runner), issue_key(runner)
    Api(client, first).create("kb")
    assert Api(client, second).names() == []
    tenants = {line.split()[1] for line in run(runner, "keys", "list").stdout.splitlines()[1:]}
    assert len(tenants) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", t) for t in tenants)


def test_create_prints_the_key_last_and_stores_only_its_digest(runner, app):
    result = run(runner, "keys", "create", "--name", "ci")
    assert result.exit_code == 0
    key = result.stdout.splitlines()[-1]
    assert re.fullmatch(r"ragflow-[A-Za-z0-9_-]{43}", key)
    stored = json.dumps(app.extensions["store"].export())
    assert key not in stored and key[len("ragflow-"):] not in stored
    assert digest(key) in stored


def test_create_for_an_existing_tenant_shares_its_datasets(runner, client):
    first = issue_key(runner)
    Api(client, first).create("kb")
    tenant = run(runner, "keys", "list").stdout.splitlines()[1].split()[1]
    second = issue_key(runner, "--tenant", tenant.upper())
    assert Api(client, second).names() == ["kb"]


@pytest.mark.parametrize("tenant, message", [
    ("abc", "32 hexadecimal"), ("g" * 32, "32 hexadecimal"), ("0" * 32, "no tenant"),
])
def test_create_with_a_bad_tenant(runner, tenant, message):
    result = run(runner, "keys", "create", "--tenant", tenant)
    assert result.exit_code != 0
    assert message in result.output
    assert key_ids(runner) == []


def test_list_shows_everything_but_the_key(runner, client):
    key = issue_key(runner, "--name", "laptop")
    output = run(runner, "keys", "list").stdout
    header, row = output.splitlines()
    assert header.split() == ["KEY", "ID", "TENANT", "LABEL", "CREATED", "LAST", "USED"]
    assert row.split()[2] == "laptop" and row.endswith("never")
    assert key not in output
    Api(client, key).list()
    row = run(runner, "keys", "list").stdout.splitlines()[1]
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", row)


def test_list_without_keys(runner):
    result = run(runner, "keys", "list")
    assert result.exit_code == 0 and result.stdout.split() == ["KEY", "ID", "TENANT", "LABEL",
                                                              "CREATED", "LAST", "USED"]


def test_revoke(runner, client):
    keep, gone = issue_key(runner), issue_key(runner)
    gone_id = key_ids(runner)[1]
    result = run(runner, "keys", "revoke", gone_id)
    assert result.exit_code == 0 and gone_id in result.output
    assert key_ids(runner) == [key_ids(runner)[0]] and gone_id not in key_ids(runner)
    assert Api(client, gone).list().status_code == 401
    assert Api(client, keep).list().status_code == 200


def test_revoke_an_unknown_key(runner):
    issue_key(runner)
    result = run(runner, "keys", "revoke", "nope")
    assert result.exit_code == 1
    assert "No key with id nope" in result.output
    assert len(key_ids(runner)) == 1


def test_store_check(runner, api, app):
    api.create("kb")
    result = run(runner, "store", "check")
    assert result.exit_code == 0
    location = app.extensions["store"].location
    assert result.stdout.strip() == f"{location}: sound (1 keys, 1 tenants, 1 datasets)"


TABLE = '{"tenant:' + "a" * 32 + '": {"%s": {"id": "x", "name": "kb", %s}}}'
TIMES = '"create_time": 1, "update_time": 1'


@pytest.mark.parametrize("engine", ["json"])  # damage to the file
@pytest.mark.parametrize("damage", [
    b"", b"{", b"[]", b'{"keys": {"1": {"id": "x"}}}', b'{"datasets": {}}',
    (TABLE % ("one", TIMES)).encode(), (TABLE % ("1", TIMES + ', "extra": 1')).encode(),
    (TABLE % ("1", '"create_time": "1", "update_time": 1')).encode(),
])
def test_damaged_store_is_reported_and_left_alone(runner, config, damage):
    with open(config["DB_PATH"], "wb") as file:
        file.write(damage)
    for args in (["store", "check"], ["keys", "list"], ["keys", "create"]):
        result = run(runner, *args)
        assert result.exit_code == 1
        assert f"Error: {config['DB_PATH']}: " in result.output
    with open(config["DB_PATH"], "rb") as file:
        assert file.read() == damage


def test_store_backup(runner, api, tmp_path):
    api.create("kb")
    target = tmp_path / "backup" / "copy.json"
    target.parent.mkdir()
    result = run(runner, "store", "backup", str(target))
    assert result.exit_code == 0
    copy = json.loads(target.read_text())
    assert [d["name"] for name, t in copy.items() if name.startswith("tenant:")
            for d in t.values()] == ["kb"]


@pytest.fixture
def unmade(engine, tmp_path, request):
    """An app whose store has not been made: a JSON file in a folder that does not exist,
    or a new database, named with a password in the URL."""
    config = {"TESTING": True, "DB_PATH": str(tmp_path / "new" / "db.json")}
    if engine == "postgres":
        database = pgserver.create_database(request.getfixturevalue("postgres_server"), "unmade")
        params = psycopg.conninfo.conninfo_to_dict(database)
        config["DATABASE_URL"] = (f"postgresql://{params['user']}:pw-s3cret@{params['host']}:"
                                  f"{params['port']}/{params['dbname']}")
    return create_app(config)


def named(app):
    """The line every command on the app's store begins its stderr with."""
    store = app.extensions["store"]
    if not app.config["DATABASE_URL"]:
        return f"Store: JSON file {store.location}"
    return f"Store: PostgreSQL {app.config['DATABASE_URL'].replace(':pw-s3cret', '')}"


COMMANDS = [("keys", "create"), ("keys", "list"), ("keys", "revoke", "x"), ("tenants", "list"),
            ("store", "check"), ("store", "export", "{tmp}/out.json"),
            ("store", "backup", "{tmp}/out.json"), ("store", "reset-journal")]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_no_command_makes_a_store_unless_told(unmade, command, tmp_path):
    """Each command but `store init` and `store import` refuses a store not made yet, naming
    it, and leaves nothing behind, not even the JSON file's folder."""
    result = run(unmade.test_cli_runner(), *(arg.format(tmp=tmp_path) for arg in command))
    store = unmade.extensions["store"]
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [named(unmade), (
        f"Error: No store at {store.location}. Run this with the server's settings "
        f"(DATASET_API_DB_PATH, DATASET_API_DATABASE_URL), or make a new store there with "
        f"`store init`.")]
    assert not store.exists() and not (tmp_path / "new").exists()
    assert not (tmp_path / "out.json").exists()


def test_store_init_makes_the_store_and_every_command_names_it(unmade, tmp_path):
    runner, location = unmade.test_cli_runner(), unmade.extensions["store"].location
    made = run(runner, "store", "init")
    assert made.exit_code == 0 and made.stdout == f"{location}: a new, empty store\n"
    again = run(runner, "store", "init")
    assert again.stdout == (f"{location}: a store is there already (0 keys, 0 tenants, "
                            f"0 datasets); left as it is\n")
    issue_key(runner)
    for command in COMMANDS + [("store", "init"), ("store", "import", "{tmp}/out.json")]:
        result = run(runner, *(arg.format(tmp=tmp_path) for arg in command))
        assert result.stderr.splitlines()[0] == named(unmade), result.output
        assert "pw-s3cret" not in result.output
    assert made.stderr == named(unmade) + "\n"


def test_store_import_makes_a_new_store(unmade, runner, api, tmp_path):
    """An export goes into a store not made yet (a new folder, or a new database)."""
    api.create("kb")
    assert run(runner, "store", "export", str(tmp_path / "export.json")).exit_code == 0
    result = run(unmade.test_cli_runner(), "store", "import", str(tmp_path / "export.json"))
    assert result.exit_code == 0 and "Imported 1 keys, 1 tenants and 1 datasets" in result.stdout
    assert result.stderr == named(unmade) + "\n"
    assert unmade.extensions["store"].check() == {"keys": 1, "tenants": 1, "datasets": 1}
