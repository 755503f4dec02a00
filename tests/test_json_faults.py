"""The JSON engine's faults: a checkpoint cut short, a lost journal, a full disk."""

import errno
import multiprocessing
import os
import subprocess

import pytest

from app import create_app
from app.store.jsonfile import files
from harness import live
from tests.conftest import Api, issue_key

JOURNAL_TEMP = ".db.json.wal.tmp"  # where a checkpoint writes the journal that replaces it


def json_app(db_path, **settings):
    return create_app({"TESTING": True, "DB_PATH": str(db_path), **settings})


def sorted_names(api):
    return sorted(api.names())


class FailingOs:
    """`os` as the engine's file module sees it, with `fail(name, *args)` deciding faults."""

    def __init__(self, fail):
        self.fail = fail

    def __getattr__(self, name):
        call = getattr(os, name)

        def checked(*args, **kwargs):
            self.fail(name, *args)
            return call(*args, **kwargs)

        return checked if callable(call) else call


def raise_on(names, code=errno.ENOSPC):
    def fail(name, *args):
        if name in names:
            raise OSError(code, os.strerror(code))
    return fail


# A checkpoint cut short

def test_a_checkpoint_that_cannot_write_the_journal_loses_nothing(tmp_path, caplog):
    """Many commits follow the point the file was last written at: the journal is folded in
    only once it outgrows the file, which is large."""
    db = tmp_path / "db.json"
    apps = [json_app(db, JOURNAL_LIMIT=1500) for _ in range(2)]
    key = issue_key(apps[0].test_cli_runner())
    apis = [Api(app.test_client(), key) for app in apps]
    made = [f"before{n}" for n in range(20)]
    for name in made:
        assert apis[0].create(name).status_code == 200
    apps[0].extensions["store"].compact()
    (tmp_path / JOURNAL_TEMP).mkdir()  # as a full disk would, at that one step
    for n in range(60):
        assert apis[n % 2].create(f"kb{n}").status_code == 200
        made.append(f"kb{n}")
    assert "Could not fold the journal" in caplog.text
    assert sorted_names(Api(json_app(db).test_client(), key)) == sorted(made)
    result = live.cli(db, "tenants", "list")  # a process of its own
    assert result.returncode == 0 and result.stdout.split()[-1] == str(len(made)), result
    (tmp_path / JOURNAL_TEMP).rmdir()
    assert live.cli(db, "store", "check").returncode == 0
    assert apis[1].create("after").status_code == 200  # and the journal is folded in
    assert sorted_names(Api(json_app(db).test_client(), key)) == sorted(made + ["after"])
    assert (tmp_path / "db.json.wal").stat().st_size < 1500


def crash_between_renames(db_path, name):
    """Create `name` in a store whose checkpoint dies after renaming the file."""
    api = Api(json_app(db_path, JOURNAL_LIMIT=1).test_client(), os.environ["KEY"])

    def fail(call, *args):
        if call == "rename" and str(args[1]).endswith(".wal"):
            os._exit(3)  # a crash, or a power cut, between the two renames

    files.os = FailingOs(fail)
    api.create(name)


def test_a_crash_between_the_two_renames_of_a_checkpoint_loses_nothing(tmp_path, monkeypatch):
    db = tmp_path / "db.json"
    app = json_app(db, JOURNAL_LIMIT=1 << 20)
    key = issue_key(app.test_cli_runner())
    api = Api(app.test_client(), key)
    assert api.create("before").status_code == 200
    file = (tmp_path / "db.json").read_bytes()
    monkeypatch.setenv("KEY", key)
    child = multiprocessing.get_context("fork").Process(target=crash_between_renames,
                                                        args=(db, "kept"))
    child.start()
    child.join(30)
    assert child.exitcode == 3
    assert (tmp_path / "db.json").read_bytes() != file  # the file was replaced
    assert sorted_names(api) == ["before", "kept"]  # the old journal is still the file's
    with monkeypatch.context() as patch:
        patch.setattr(files, "os", FailingOs(raise_on({"rename"})))
        assert api.create("after").status_code == 200  # appended to it, not folded in
    assert sorted_names(Api(json_app(db).test_client(), key)) == ["after", "before", "kept"]
    result = live.cli(db, "store", "check")
    assert result.returncode == 0 and "3 datasets" in result.stdout, result.stderr
    json_app(db).extensions["store"].compact()
    assert sorted_names(Api(json_app(db).test_client(), key)) == ["after", "before", "kept"]


@pytest.mark.live
def test_a_checkpoint_cut_short_on_a_live_server_loses_nothing(tmp_path):
    """gunicorn's workers go on through a checkpoint that cannot replace the journal, a clean
    stop, and a start; every create that was answered is there."""
    db = tmp_path / "db.json"
    key = live.issue_key(db)
    limit = {"JOURNAL_LIMIT": 2000}  # a checkpoint every few creates
    server = live.Server(db, tmp_path, settings=limit).start().ready()
    made = []
    try:
        for n in range(100):
            if n == 20:
                (tmp_path / JOURNAL_TEMP).mkdir()
            response = server.request("POST", "/api/v1/datasets", key, json={"name": f"kb{n}"})
            assert response.json()["code"] == 0, response.text
            made.append(response.json()["data"]["name"])
        server.stop()  # a clean stop, which cannot fold the journal in either
        (tmp_path / JOURNAL_TEMP).rmdir()
        server = live.Server(db, tmp_path, settings=limit).start().ready()
        listed = server.request("GET", "/api/v1/datasets", key, params={"page_size": 100})
        assert sorted(d["name"] for d in listed.json()["data"]) == sorted(made)
    finally:
        server.stop()
    assert "Could not fold the journal" in server.stdout() + server.stderr()
    result = live.cli(db, "store", "check")
    assert result.returncode == 0 and "100 datasets" in result.stdout, result.stderr


# A lost journal

@pytest.mark.live
def test_a_store_without_its_journal_refuses_to_open_until_it_is_reset(tmp_path):
    db = tmp_path / "db.json"
    app = json_app(db)
    key = issue_key(app.test_cli_runner())
    api = Api(app.test_client(), key)
    assert api.create("filed").status_code == 200
    app.extensions["store"].compact()
    assert api.create("journalled").status_code == 200
    os.remove(tmp_path / "db.json.wal")
    result = live.cli(db, "store", "check")
    assert result.returncode == 1
    named, line = result.stderr.splitlines()  # the store, then why it cannot be used
    assert named == f"Store: JSON file {db}"
    assert "db.json.wal is missing" in line and "store reset-journal" in line, result.stderr
    assert not (tmp_path / "db.json.wal").exists()
    server = live.Server(db, tmp_path).start()
    try:
        assert server.exit_code() != 0
    finally:
        server.kill()
    refusals = [line for line in server.stderr().splitlines() if "Refusing to start" in line]
    assert len(refusals) == 1 and "store reset-journal" in refusals[0], server.stderr()
    result = live.cli(db, "store", "reset-journal")
    assert result.returncode == 0 and "1 datasets" in result.stdout, result.stderr
    assert sorted_names(Api(json_app(db).test_client(), key)) == ["filed"]
    assert live.cli(db, "store", "check").returncode == 0
    result = live.cli(db, "store", "reset-journal")  # the journal is there now
    assert result.returncode == 1 and "move it aside" in result.stderr


def test_an_export_put_in_place_is_given_a_journal(tmp_path):
    db = tmp_path / "db.json"
    api = Api(json_app(db).test_client(), issue_key(json_app(db).test_cli_runner()))
    assert api.create("a").status_code == 200
    assert live.cli(db, "store", "export", str(tmp_path / "export.json")).returncode == 0
    for name in ("db.json", "db.json.wal"):
        os.remove(tmp_path / name)
    os.rename(tmp_path / "export.json", db)
    result = live.cli(db, "store", "check")
    assert result.returncode == 0 and "1 datasets" in result.stdout, result.stderr
    # From then on it is a store like any other: losing its journal is refused.
    assert Api(json_app(db).test_client(), api.headers["Authorization"][7:]).create(
        "b").status_code == 200
    os.remove(tmp_path / "db.json.wal")
    result = live.cli(db, "store", "check")
    assert result.returncode == 1 and "db.json.wal is missing" in result.stderr


def test_a_store_removed_under_a_process_is_not_made_anew_by_it(tmp_path, caplog):
    app = json_app(tmp_path / "db.json")
    runner = app.test_cli_runner()
    api = Api(app.test_client(), issue_key(runner))
    assert api.create("a").status_code == 200
    for name in ("db.json", "db.json.wal"):
        os.remove(tmp_path / name)
    assert api.create("b").status_code == 500
    assert "is missing: was the store removed?" in caplog.text
    result = runner.invoke(args=["store", "check"])  # and the CLI makes none either
    assert result.exit_code == 1 and "No store at" in result.output, result.output
    assert not (tmp_path / "db.json").exists() and not (tmp_path / "db.json.wal").exists()


# A full disk

@pytest.mark.parametrize("step", ["write", "fdatasync"])
def test_a_store_that_cannot_be_written_is_unhealthy_until_a_write_succeeds(tmp_path,
                                                                             monkeypatch, step):
    db = tmp_path / "db.json"
    app = json_app(db)
    api = Api(app.test_client(), issue_key(app.test_cli_runner()))
    assert api.client.get("/healthz").status_code == 200
    with monkeypatch.context() as patch:
        patch.setattr(files, "os", FailingOs(raise_on({step})))
        assert api.create("full").status_code == 500
        assert api.client.get("/healthz").status_code == 503
    assert api.client.get("/healthz").status_code == 503  # until a write succeeds
    assert api.create("freed").status_code == 200
    assert api.client.get("/healthz").status_code == 200


def test_a_process_that_has_not_written_probes_the_disk(tmp_path, monkeypatch):
    db = tmp_path / "db.json"
    issue_key(json_app(db).test_cli_runner())
    client = json_app(db).test_client()  # another process: no write of its own yet
    with monkeypatch.context() as patch:
        patch.setattr(files, "os", FailingOs(raise_on({"write"})))
        assert client.get("/healthz").status_code == 503
    assert client.get("/healthz").status_code == 200
    assert sorted(os.listdir(tmp_path)) == ["db.json", "db.json.lock", "db.json.wal"]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs, mounted for the test (root only)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(path):
    """Write to `path` until the disk is full."""
    with open(path, "wb", buffering=0) as file:
        try:
            while True:
                file.write(b"\0" * 4096)
        except OSError as err:
            assert err.errno == errno.ENOSPC


@pytest.mark.live
def test_a_full_disk_makes_healthz_fail_on_a_live_server(tiny_disk, tmp_path):
    """One worker: each worker knows of its own writes, and which one answers is chance."""
    db = tiny_disk / "db.json"
    key = live.issue_key(db)
    server = live.Server(db, tmp_path, "-w", "1").start().ready()
    try:
        made = server.request("POST", "/api/v1/datasets", key, json={"name": "before"})
        assert made.json()["code"] == 0
        fill(tiny_disk / "filler")
        answers = [server.request("POST", "/api/v1/datasets", key, json={"name": f"kb{n}"})
                   for n in range(20)]  # the journal's last page may take a few
        assert 500 in [answer.status_code for answer in answers]
        health = server.request("GET", "/healthz")
        assert health.status_code == 503 and str(tiny_disk) not in health.text
        os.remove(tiny_disk / "filler")
        assert server.request("GET", "/healthz").status_code == 503  # no write since
        made = server.request("POST", "/api/v1/datasets", key, json={"name": "after"})
        assert made.json()["code"] == 0
        assert server.request("GET", "/healthz").status_code == 200
        acknowledged = {"before", "after"} | {a.json()["data"]["name"] for a in answers
                                              if a.status_code == 200}
        listed = server.request("GET", "/api/v1/datasets", key, params={"page_size": 100})
        assert {d["name"] for d in listed.json()["data"]} == acknowledged
    finally:
        server.stop()
    assert "Health check failed" in server.stdout() + server.stderr()
