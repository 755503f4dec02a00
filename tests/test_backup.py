"""Backups: deploy/backup.sh as its unit runs it, the store destroyed, then the README's
restore steps, on each engine: every key, tenant and dataset comes back."""

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import quote

import orjson
import psycopg
import pytest

from app import create_app
from harness import pgserver
from harness.live import BIN, ROOT, TIMEOUT
from tests import steps

pytestmark = pytest.mark.live  # subprocesses: make test-fast skips these

SCRIPT = ROOT / "deploy/backup.sh"
STORE, BACKUPS = "var/lib/ragflow-dataset-api", "var/lib/ragflow-dataset-api-backups"
PATH = f"{BIN}:{pgserver.BIN}:/usr/bin:/bin"  # the unit's, with this checkout's command
# `dataset_api` as the README has it, but run as this user with this checkout's command.
DATASET_API = f'dataset_api() {{ "{BIN}/ragflow-dataset-api" "$@"; }}\n'
ROLE, PASSWORD = "ragflow_datasets", "p@ss:/word"  # the README's role; a password to encode


def fill(config):
    """Two tenants, three keys, datasets through both APIs and a keyed create; the keys and
    everything the store holds."""
    app = create_app(config)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["store", "init"]).exit_code == 0

    def issue(*args):
        output = runner.invoke(args=["keys", "create", *args]).output
        return output.splitlines()[-1], re.search(r"tenant: (\w+)", output)[1]

    first, tenant = issue("--name", "first")
    keys = {"first": first, "second": issue("--tenant", tenant, "--name", "second")[0],
            "other": issue("--name", "other")[0]}
    client = app.test_client()
    for key, path, body, headers in [
        ("first", "/api/v1/dataset", {"name": "kb"}, {}),
        ("second", "/api/v1/datasets", {"name": "kb2", "chunk_method": "qa", "permission": "team"},
         {"Idempotency-Key": "order-42"}),
        ("other", "/api/v1/datasets", {"name": "kb"}, {}),
    ]:
        made = client.post(path, json=body, headers={"Authorization": f"Bearer {keys[key]}",
                                                     **headers})
        assert made.json["code"] == 0, made.json
    return keys, held(app)


def held(app):
    """Everything the app's store holds, each table in one order; the store closed."""
    store = app.extensions["store"]
    try:
        data = store.export()
    finally:
        store.close()
    return {table: sorted(records, key=lambda r: orjson.dumps(r, option=orjson.OPT_SORT_KEYS))
            for table, records in data.items()}


def served_names(config, keys):
    """The names each key's list answers."""
    client = create_app(config).test_client()
    return {label: sorted(d["name"] for d in client.get(
        "/api/v1/datasets", headers={"Authorization": f"Bearer {key}"}).json["data"])
        for label, key in keys.items()}


def back_up(folder, keep, cwd, **settings):
    """Run the backup script as its unit does; the file it made."""
    result = subprocess.run([SCRIPT, folder, str(keep)], cwd=cwd, env={"PATH": PATH, **settings},
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    return Path(re.search(r"^Backed up to (.+)$", result.stdout, re.MULTILINE)[1])


def test_the_unit_runs_the_script_which_checks_its_count(tmp_path):
    unit = steps.settings(ROOT / "deploy/ragflow-dataset-api-backup.service")
    assert unit["ExecStart"] == [f"/opt/ragflow-dataset-api/backup.sh /{BACKUPS} 14"]
    assert "PATH=/opt/ragflow-dataset-api/.venv/bin:/usr/bin:/bin" in unit["Environment"]
    result = subprocess.run([SCRIPT, tmp_path, "none"], capture_output=True, text=True,
                            timeout=TIMEOUT)
    assert (result.returncode, result.stderr) == (
        2, "backup.sh: KEEP must be a whole number above 0, not 'none'\n")


def test_json_store_backed_up_destroyed_and_restored(tmp_path):
    root = steps.machine(tmp_path / "root")
    (root / STORE).mkdir(mode=0o700)
    db_path = root / STORE / "db.json"
    config = {"DB_PATH": str(db_path)}
    keys, before = fill(config)
    backups = root / BACKUPS
    backups.mkdir(mode=0o700)
    older = [backups / f"ragflow-dataset-api-2020-01-0{day}T030000Z.json" for day in (1, 2, 3)]
    for path in older + [backups / "notes.txt"]:
        path.write_text("{}")

    made = back_up(backups, 2, root / STORE, DATASET_API_DB_PATH=str(db_path))
    assert {path.name for path in backups.iterdir()} == {made.name, older[2].name, "notes.txt"}
    db_path.write_text("{")  # destroyed: the file torn, the journal gone
    Path(f"{db_path}.wal").unlink()
    restore = steps.blocks("Backups")[0]
    steps.run(restore, root, env={**os.environ, "DATASET_API_DB_PATH": str(db_path)},
              before=DATASET_API)

    assert held(create_app(config)) == before
    assert served_names(config, keys) == {"first": ["kb", "kb2"], "second": ["kb", "kb2"],
                                          "other": ["kb"]}
    (aside,) = (root / STORE).glob("aside-*")  # what was there, kept
    assert (aside / "db.json").read_text() == "{"


def require_password(server):
    """The README's role and database on `server`, the role let in by its password only."""
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        conn.execute(f"CREATE DATABASE {ROLE} OWNER {ROLE} ENCODING 'UTF8' LOCALE 'C.UTF-8' "
                     "TEMPLATE template0")
    hba = Path(server.data) / "pg_hba.conf"
    hba.write_text(f"host all {ROLE} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    server.run(f"{pgserver.BIN}/pg_ctl", "-D", server.data, "reload")
    return f"postgresql://{ROLE}:{quote(PASSWORD, safe='')}@127.0.0.1:{server.port}/{ROLE}"


def test_postgres_store_backed_up_destroyed_and_restored(tmp_path, postgres):
    root = steps.machine(tmp_path / "root")
    url = require_password(postgres)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(url.replace(quote(PASSWORD, safe=""), "wrong")).close()
    config = {"DATABASE_URL": url}
    keys, before = fill(config)
    (root / BACKUPS).mkdir(mode=0o700)

    made = back_up(root / BACKUPS, 14, tmp_path, DATASET_API_DATABASE_URL=url)
    assert made.suffix == ".dump" and made.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom
    with psycopg.connect(postgres.url(ROLE), autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {ROLE}")  # destroyed: every table and function gone
    (root / "etc/ragflow-dataset-api.env").write_text(f"DATASET_API_DATABASE_URL={url}\n")
    restore = steps.blocks("Backups")[1]
    # As the postgres user, on this server: what `sudo -u postgres psql` reaches in the README.
    env = {**os.environ, "PATH": PATH, "PGHOST": "127.0.0.1", "PGPORT": str(postgres.port),
           "PGUSER": "postgres"}
    steps.run(restore, root, env=env)

    assert held(create_app(config)) == before
    assert served_names(config, keys) == {"first": ["kb", "kb2"], "second": ["kb", "kb2"],
                                          "other": ["kb"]}
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        kept = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                            [f"{ROLE}_aside_%"]).fetchall()
    assert len(kept) == 1  # the database as it was, under another name
