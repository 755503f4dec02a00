"""The JSON engine on disk: its journal, checkpoints, faults, and the file's format."""

import errno
import fcntl
import json
import multiprocessing
import os
import threading
import time

import pytest
from tinydb import TinyDB

from app import create_app
from app.store import NameTaken, ReplayGone, rules
from app.store.jsonfile import files
from tests.conftest import Api, issue_key


@pytest.fixture
def config(tmp_path):
    """These tests are about the JSON engine's files, whatever engine the suite runs on."""
    return {"TESTING": True, "DB_PATH": str(tmp_path / "db.json")}


def json_app(tmp_path, **settings):
    """The app on the JSON store in `tmp_path`, with `settings` over the test ones."""
    return create_app({"TESTING": True, "DB_PATH": str(tmp_path / "db.json"), **settings})


def names(api):
    return api.names(orderby="name", desc="false")


def contents(tmp_path):
    """{file name: bytes} of the store's folder, the lock file aside."""
    return {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "db.json.lock"}


def test_a_write_appends_to_the_journal_and_leaves_the_file(api, tmp_path):
    assert api.create("a").status_code == 200
    file = (tmp_path / "db.json").read_bytes()
    journal = (tmp_path / "db.json.wal").read_bytes()
    assert api.create("b").status_code == 200
    assert (tmp_path / "db.json").read_bytes() == file
    added = (tmp_path / "db.json.wal").read_bytes()
    assert added.startswith(journal) and added.count(b"\n") == journal.count(b"\n") + 1


def test_tinydb_reads_every_record_after_a_compaction(api, other, app, tmp_path):
    made = {api.create(n).json["data"]["id"] for n in ("a", "b", "c")}
    other.create("d")
    api.delete(sorted(made)[0])
    app.extensions["store"].compact()
    assert (tmp_path / "db.json.wal").read_bytes().count(b"\n") == 1  # its header alone
    db = TinyDB(str(tmp_path / "db.json"))
    tenants = [t for t in db.tables() if t.startswith("tenant:")]
    records = [r for t in tenants for r in db.table(t).all()]
    assert sorted(r["name"] for r in records) == sorted(
        {"a": "a", "b": "b", "c": "c"}[n] for n in names(api)) + ["d"]
    assert len(db.table("keys")) == 2 and len(db.table("tenants")) == 2
    db.close()


def test_the_journal_is_folded_in_once_it_outgrows_the_file(tmp_path):
    app = json_app(tmp_path, JOURNAL_LIMIT=2000)
    api = Api(app.test_client(), issue_key(app.test_cli_runner()))
    for n in range(30):
        assert api.create(f"kb{n}").status_code == 200
    assert (tmp_path / "db.json.wal").stat().st_size < 4000  # folded, and begun again
    fresh = Api(json_app(tmp_path).test_client(), api.headers["Authorization"].split()[1])
    assert sorted(fresh.names()) == sorted(f"kb{n}" for n in range(30))


def test_processes_follow_each_others_commits_and_checkpoints(tmp_path):
    apps = [json_app(tmp_path, JOURNAL_LIMIT=1500) for _ in range(3)]
    key = issue_key(apps[0].test_cli_runner())
    apis = [Api(app.test_client(), key) for app in apps]
    alive = set()
    for n in range(40):
        response = apis[n % 3].create("x")
        expected = rules.free_name("x", alive)  # deletes free names: the first free is taken
        assert response.json["data"]["dataset_name"] == expected
        alive.add(rules.same_name(expected))
        if n % 7 == 0:
            assert apis[(n + 1) % 3].delete(response.json["data"]["id"]).status_code == 200
            alive.remove(rules.same_name(expected))
    listed = [sorted(api.names()) for api in apis]
    assert listed[0] == listed[1] == listed[2] and len(listed[0]) == 40 - 6


class FailingOs:
    """`os` as the engine's file module sees it, but `name` raises OSError(`code`)."""

    def __init__(self, name, code):
        self.name, self.code = name, code

    def __getattr__(self, name):
        if name == self.name:
            return self.fail
        return getattr(os, name)

    def fail(self, *args):
        raise OSError(self.code, os.strerror(self.code))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO], ids=errno.errorcode.get)
@pytest.mark.parametrize("step", ["write", "fdatasync"])
def test_a_failed_commit_answers_500_and_leaves_no_trace(api, tmp_path, monkeypatch, caplog,
                                                         step, code):
    assert api.create("before").status_code == 200
    found = contents(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(files, "os", FailingOs(step, code))
        response = api.create("during")
        assert (response.status_code, response.json["code"]) == (500, 100)
    assert os.strerror(code) in caplog.text
    assert contents(tmp_path) == found
    assert names(api) == ["before"]
    assert api.create("after").status_code == 200
    assert names(api) == ["after", "before"]


@pytest.mark.parametrize("step", ["fsync", "rename"])  # a commit needs neither: a checkpoint does
def test_a_failed_checkpoint_keeps_the_commit_and_the_file(tmp_path, monkeypatch, caplog, step):
    app = json_app(tmp_path, JOURNAL_LIMIT=1)
    api = Api(app.test_client(), issue_key(app.test_cli_runner()))
    file = (tmp_path / "db.json").read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(files, "os", FailingOs(step, errno.ENOSPC))
        assert api.create("kept").status_code == 200
    assert "Could not fold the journal" in caplog.text
    assert (tmp_path / "db.json").read_bytes() == file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.json", "db.json.lock",
                                                         "db.json.wal"]
    assert names(api) == ["kept"]
    assert api.create("next").status_code == 200  # and this one folds it in
    assert b"kept" in (tmp_path / "db.json").read_bytes()


def test_a_line_torn_by_a_crash_is_never_read_and_is_cut_off(api, tmp_path, runner):
    assert api.create("a").status_code == 200
    with open(tmp_path / "db.json.wal", "ab") as journal:
        journal.write(b'[3,"0123456789abcdef","')
    assert names(api) == ["a"]
    assert api.create("b").status_code == 200
    result = runner.invoke(args=["store", "check"])
    assert result.exit_code == 0, result.output
    assert names(api) == ["a", "b"]


def test_a_damaged_line_is_refused_and_left_alone(api, tmp_path, runner):
    assert api.create("a").status_code == 200
    with open(tmp_path / "db.json.wal", "ab") as journal:
        journal.write(b"not a line\n")
    found = contents(tmp_path)
    assert api.create("b").status_code == 500
    assert api.list().status_code == 500
    result = runner.invoke(args=["store", "check"])
    assert result.exit_code == 1 and "damaged" in result.output
    assert contents(tmp_path) == found


@pytest.mark.parametrize("damage", [(b'"name":"a"', b'"name":"\\ud800"'),
                                    (b'"pagerank":0', b'"pagerank":NaN'),
                                    (b'"pagerank":0', b'"pagerank":36893488147419103232'),
                                    (b'1000000]]', b'36893488147419103232]]')])
def test_a_file_that_could_not_be_written_back_is_refused(api, app, tmp_path, runner, damage):
    """JSON that Python reads but the file's writer refuses: a lone surrogate, NaN, an
    integer past 64 bits."""
    assert api.create("a").status_code == 200
    app.extensions["store"].compact()
    file = (tmp_path / "db.json").read_bytes()
    assert damage[0] in file
    (tmp_path / "db.json").write_bytes(file.replace(*damage))
    found = contents(tmp_path)
    fresh = json_app(tmp_path)
    result = fresh.test_cli_runner().invoke(args=["store", "check"])
    assert result.exit_code == 1 and "not valid JSON" in result.output, result.output
    assert contents(tmp_path) == found


def test_a_journal_of_another_file_is_refused(api, tmp_path, runner):
    """A store file restored from a backup beside the journal it had moved past."""
    assert api.create("a").status_code == 200
    export = tmp_path / "backup.json"
    assert runner.invoke(args=["store", "export", str(export)]).exit_code == 0
    assert api.create("b").status_code == 200
    os.replace(export, tmp_path / "db.json")
    fresh = json_app(tmp_path)
    result = fresh.test_cli_runner().invoke(args=["store", "check"])
    assert result.exit_code == 1 and "move the journal aside" in result.output
    os.remove(tmp_path / "db.json.wal")
    result = fresh.test_cli_runner().invoke(args=["store", "check"])
    assert result.exit_code == 0 and "1 datasets" in result.output


def test_a_store_of_the_first_format_is_upgraded(tmp_path):
    tenant, key = "ab" * 16, {"id": "k" * 32, "tenant": "ab" * 16, "name": "old",
                              "digest": "d" * 64, "created": 1, "last_used": None}
    old = {"changes": {"3": []}, "keys": {"1": key},
           f"tenant:{tenant}": {"1": {"id": "1" * 32, "name": "kb", "create_time": 5,
                                      "update_time": 6}}}
    (tmp_path / "db.json").write_text(json.dumps(old))
    store = json_app(tmp_path, EMBD_ID="BAAI/bge-m3").extensions["store"]
    assert store.list_keys() == [key]
    [dataset], total = store.list_datasets(tenant)
    assert total == 1 and dataset == {
        **rules.DATASET_FIELDS, "name": "kb", "embedding_model": "BAAI/bge-m3",
        "parser_config": {"pages": [[1, 1000000]]}, "id": "1" * 32, "create_time": 5,
        "update_time": 6, "tenant_id": tenant, "created_by": tenant}
    assert [t["id"] for t in store.list_tenants()] == [tenant]
    assert "changes" not in json.loads((tmp_path / "db.json").read_bytes())


def rename_onto(path, tenant, ids, results):
    """Rename each dataset to "x"; the name each has after (its own where "x" is taken)."""
    store = create_app({"TESTING": True, "DB_PATH": path}).extensions["store"]
    for dataset_id in ids:
        try:
            results.put(store.update_dataset(tenant, dataset_id, rules.Patch({"name": "x"}),
                                             1)["name"])
        except NameTaken:
            results.put(store.get_dataset(tenant, dataset_id)["name"])


def create_as(path, tenant, count, results):
    store = create_app({"TESTING": True, "DB_PATH": path}).extensions["store"]
    for _ in range(count):
        results.put(store.create_dataset(tenant, {"name": "X"}, 1)["name"])


def test_renames_racing_creates_across_processes_never_share_a_name(app, tmp_path):
    store, path, tenant = app.extensions["store"], str(tmp_path / "db.json"), "cd" * 16
    ids = [store.create_dataset(tenant, {"name": f"d{n}"}, 1)["id"] for n in range(40)]
    store.close()
    fork = multiprocessing.get_context("fork")
    results = fork.Queue()
    workers = [fork.Process(target=rename_onto, args=(path, tenant, ids[n::2], results))
               for n in range(2)]
    workers += [fork.Process(target=create_as, args=(path, tenant, 20, results))
                for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    given = [results.get(timeout=5) for _ in range(80)]
    assert len({rules.same_name(name) for name in given}) == 80
    listed, total = create_app({"TESTING": True, "DB_PATH": path}).extensions[
        "store"].list_datasets(tenant)
    assert total == 80 and sorted(d["name"] for d in listed) == sorted(given)


def test_a_store_of_another_user_is_refused_naming_its_owner(api, tmp_path):
    assert api.create("a").status_code == 200
    for path in tmp_path.iterdir():
        os.chown(path, 65534, 65534)  # nobody's, as a service account's would be
    found = contents(tmp_path)
    fresh = json_app(tmp_path)
    result = fresh.test_cli_runner().invoke(args=["keys", "create"])
    assert result.exit_code == 1 and "belongs to user nobody" in result.output
    assert contents(tmp_path) == found
    assert {path.stat().st_uid for path in tmp_path.iterdir()} == {65534}


@pytest.mark.parametrize("planted", ["fifo", "symlink"])
def test_a_pipe_or_a_link_in_place_of_the_journal_is_refused_without_waiting(
        api, tmp_path, planted):
    assert api.create("a").status_code == 200
    journal = tmp_path / "db.json.wal"
    os.rename(journal, tmp_path / "elsewhere")
    if planted == "fifo":
        os.mkfifo(journal)
    else:
        journal.symlink_to(tmp_path / "elsewhere")
    fresh = Api(json_app(tmp_path).test_client(), api.headers["Authorization"].split()[1])
    assert fresh.list().status_code == 500
    assert api.create("b").status_code == 500


def test_a_store_removed_while_serving_is_an_error_not_a_new_store(api, tmp_path):
    assert api.create("a").status_code == 200
    for name in ("db.json", "db.json.wal"):
        os.remove(tmp_path / name)
    assert api.list().status_code == 500
    assert api.client.get("/healthz").status_code == 503
    assert not (tmp_path / "db.json").exists()


def test_the_folder_made_for_the_store_is_its_owners_alone(tmp_path):
    app = create_app({"TESTING": True, "DB_PATH": str(tmp_path / "new" / "db.json")})
    issue_key(app.test_cli_runner())
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "new").iterdir()} == {0o600}


def test_idempotency_keys_are_forgotten_after_a_day_at_a_checkpoint(tmp_path):
    app = json_app(tmp_path, JOURNAL_LIMIT=1)  # a checkpoint after every commit
    store, tenant = app.extensions["store"], "ef" * 16
    now = time.time_ns() // 1_000_000
    fresh = store.create_dataset(tenant, {"name": "a"}, now, idempotency=("k1", "f"))
    stale = store.create_dataset(tenant, {"name": "b"}, now - rules.IDEMPOTENCY_TTL - 1,
                                 idempotency=("k2", "f"))
    store.create_dataset(tenant, {"name": "c"}, now)
    assert store.create_dataset(tenant, {"name": "a"}, now, idempotency=("k1", "f")) == fresh
    again = store.create_dataset(tenant, {"name": "b"}, now, idempotency=("k2", "f"))
    assert again["name"] == "b(1)" and again["id"] != stale["id"]


def test_replaced_journals_are_let_go_of(tmp_path):
    """Processes keep no deleted journal open past their next request: no disk held."""
    apps = [json_app(tmp_path, JOURNAL_LIMIT=1) for _ in range(3)]
    key = issue_key(apps[0].test_cli_runner())
    apis = [Api(app.test_client(), key) for app in apps]
    for n in range(60):
        assert apis[n % 3].create(f"kb{n}").status_code == 200
    for api in apis:
        assert len(api.names()) == 60
    held = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{fd}")]
    assert [path for path in held if path.startswith(str(tmp_path)) and "deleted" in path] == []


@pytest.mark.parametrize("where", ["main thread", "other thread"])
def test_a_write_gets_the_lock_once_it_is_free_or_is_busy_in_time(tmp_path, where):
    """A write waits for the lock held by another process: in the main thread the kernel
    hands it over (an alarm ends the wait), in another thread it is tried again and again;
    either way it is taken soon after it is free, and given up at LOCK_TIMEOUT."""
    app = json_app(tmp_path, LOCK_TIMEOUT=1)
    api = Api(app.test_client(), issue_key(app.test_cli_runner()))
    holder = multiprocessing.get_context("fork").Process(
        target=hold_lock, args=(str(tmp_path / "db.json.lock"), 0.3))

    def timed_create(name):
        started = time.monotonic()
        if where == "main thread":
            return api.create(name), time.monotonic() - started
        answers = []
        thread = threading.Thread(target=lambda: answers.append(api.create(name)))
        thread.start()
        thread.join()
        return answers[0], time.monotonic() - started

    holder.start()
    time.sleep(0.1)  # it holds the lock
    response, waited = timed_create("freed")
    assert response.status_code == 200 and 0.1 < waited < 0.6
    holder.join()
    holder = multiprocessing.get_context("fork").Process(
        target=hold_lock, args=(str(tmp_path / "db.json.lock"), 3))
    holder.start()
    time.sleep(0.1)
    response, waited = timed_create("busy")
    holder.join()
    assert response.status_code == 503 and 0.9 < waited < 1.5
    assert names(api) == ["freed"]


def hold_lock(path, seconds):
    fd = os.open(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    time.sleep(seconds)


def test_idempotency_entries_of_the_earlier_shape_replay_and_export_in_this_one(tmp_path):
    store, tenant = json_app(tmp_path).extensions["store"], "ab" * 16
    made = store.create_dataset(tenant, {"name": "kb"}, 5, idempotency=("k", "f"))
    store.update_dataset(tenant, made["id"], rules.Patch({"description": "now"}), 6)
    store.compact()
    tables = json.loads((tmp_path / "db.json").read_bytes())
    [entry] = tables["idempotency"].values()
    del entry["dataset_id"]
    entry["dataset"] = {k: v for k, v in made.items() if k not in ("tenant_id", "created_by")}
    (tmp_path / "db.json").write_text(json.dumps(tables))
    os.remove(tmp_path / "db.json.wal")
    store = json_app(tmp_path).extensions["store"]
    store.reset_journal()
    replayed = store.create_dataset(tenant, {"name": "kb"}, 7, idempotency=("k", "f"))
    assert replayed["id"] == made["id"] and replayed["description"] == "now"
    assert store.export()["idempotency"] == [{"tenant": tenant, "key": "k", "fingerprint": "f",
                                              "created": 5, "dataset_id": made["id"]}]


def test_a_tenant_remembers_its_latest_idempotency_keys_only(tmp_path, monkeypatch):
    monkeypatch.setattr(rules, "IDEMPOTENCY_MOST", 3)
    store, tenant = json_app(tmp_path).extensions["store"], "ab" * 16
    now = time.time_ns() // 1_000_000
    first = [store.create_dataset(tenant, {"name": f"kb{n}"}, now + n, idempotency=(f"k{n}", "f"))
             for n in range(5)]
    assert [e["key"] for e in store.export()["idempotency"]] == ["k2", "k3", "k4"]
    assert store.create_dataset(tenant, {"name": "kb4"}, now, idempotency=("k4", "f")) == first[4]
    again = store.create_dataset(tenant, {"name": "kb0"}, now, idempotency=("k0", "f"))
    assert again["id"] != first[0]["id"]
    store.delete_datasets(tenant, [first[3]["id"]])
    with pytest.raises(ReplayGone):
        store.create_dataset(tenant, {"name": "kb3"}, now, idempotency=("k3", "f"))
