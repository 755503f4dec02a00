"""Group commit: the changes of processes waiting for the store's lock, queued in files and
committed by the process holding it, in one write. Each Store here stands for a process
(flocks on separate descriptors exclude each other even within one process)."""

import errno
import fcntl
import functools
import json
import os
import threading
import time
import uuid

import orjson
import pytest

from app import store as app_store
from app.store import Store, check_shape
from tests.test_store_faults import FailingOs

TENANT = "a" * 32


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "db.json")


def hold_lock(path):
    """The store's lock, taken as another process would; closing the descriptor frees it."""
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def queue_folder(path):
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.queue")


def queued_files(path):
    try:
        return sorted(os.listdir(queue_folder(path)))
    except FileNotFoundError:
        return []


def start_waiting(path, calls, stores=None):
    """Run each call on a Store of its own, in a thread, while the test holds the lock;
    return once each has queued its change, with the threads and their results."""
    stores = stores or [Store(path) for _ in calls]
    results = [None] * len(calls)

    def run(n):
        results[n] = calls[n](stores[n])

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while sum(name.endswith(".req") for name in queued_files(path)) < len(calls):
        assert time.monotonic() < deadline, queued_files(path)
        time.sleep(0.01)
    return threads, results


def finish(threads):
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


def stored(path):
    with open(path, "rb") as file:
        return json.loads(file.read())


def names(path):
    return sorted(record["name"] for record in stored(path).get(f"tenant:{TENANT}", {}).values())


def version(path):
    return max(map(int, stored(path)["changes"]))


def test_changes_queued_while_the_lock_is_held_are_committed_in_one_version(path, monkeypatch):
    kept = Store(path).create_dataset(TENANT, "kept", 1)
    before = version(path)
    syncs = []
    sync = Store._sync_folder
    monkeypatch.setattr(Store, "_sync_folder", lambda self, folder: syncs.append(folder) or
                        sync(self, folder))
    lock = hold_lock(path)
    threads, results = start_waiting(path, [
        lambda store: store.create_dataset(TENANT, "x", 2),
        lambda store: store.create_dataset(TENANT, "X", 3),
        lambda store: store.delete_dataset(TENANT, kept["id"]),
        lambda store: store.delete_dataset(TENANT, "f" * 32),
    ])
    assert names(path) == ["kept"]  # nothing is committed while the lock is held
    os.close(lock)
    finish(threads)

    assert version(path) == before + 1
    assert len(syncs) == 1  # the committing process synced the folder; the others trust it
    created = {record["id"]: record["name"] for record in results[:2]}
    assert sorted(created.values()) == ["X(1)", "x"] or sorted(created.values()) == ["X", "x(1)"]
    assert results[2:] == [True, False]
    data = stored(path)
    assert {r["id"]: r["name"] for r in data[f"tenant:{TENANT}"].values()} == created
    assert len(data["applied"]) == 3  # the results, until the queued files are gone
    assert queued_files(path) == []

    Store(path).create_dataset(TENANT, "later", 4)
    assert "applied" not in stored(path)  # gone with the last result, as before any queueing


def test_a_change_the_holder_did_not_take_up_is_committed_by_its_own_process(path):
    lock = hold_lock(path)
    threads, results = start_waiting(path, [lambda store: store.create_dataset(TENANT, "x", 1)])
    os.close(lock)  # as a holder whose commit failed, or that began before the change queued
    finish(threads)
    assert results[0]["name"] == "x"
    assert names(path) == ["x"]
    assert "applied" not in stored(path)
    assert queued_files(path) == []


def test_the_queued_change_of_a_process_that_died_is_dropped(path):
    store = Store(path)
    store.create_dataset(TENANT, "a", 1)
    os.makedirs(queue_folder(path), exist_ok=True)
    for name, content in [(f"{uuid.uuid4().hex}.req", ["create", TENANT, "ghost", 2]),
                          (f"{uuid.uuid4().hex}.tmp", ["create", TENANT, "torn", 2])]:
        with open(os.path.join(queue_folder(path), name), "wb") as file:  # and no flock
            file.write(orjson.dumps(content))
    store.create_dataset(TENANT, "b", 3)
    assert names(path) == ["a", "b"]
    assert queued_files(path) == []


def test_a_result_whose_folder_sync_is_not_noted_is_synced_by_its_process(path, monkeypatch):
    """The committing process died between its rename and its folder sync: the process
    whose change it committed reads its result, and syncs the folder itself."""
    Store(path).create_dataset(TENANT, "a", 1)
    follower, leader = Store(path), Store(path)
    syncs = []
    monkeypatch.setattr(follower, "_sync_folder", syncs.append)

    def dies(folder):
        raise SystemExit("killed")

    monkeypatch.setattr(leader, "_sync_folder", dies)
    lock = hold_lock(path)
    threads, results = start_waiting(
        path, [lambda store: store.create_dataset(TENANT, "b", 2)], [follower])
    with pytest.raises(SystemExit):
        leader._lead(lambda snapshot: (None, []), None, lock)
    os.close(lock)
    finish(threads)
    assert results[0]["name"] == "b"
    assert names(path) == ["a", "b"]
    assert syncs == [os.path.dirname(path)]


@pytest.mark.parametrize("applied", [
    {"1": {"result": True}},  # ids of queued changes are 32 hex digits
    {"f" * 32: {"result": "yes"}},
    {"f" * 32: {"result": {"id": "x"}}},
    {"f" * 32: {"result": True, "more": 1}},
])
def test_a_malformed_result_of_a_queued_change_is_refused(applied):
    check_shape({"applied": {"f" * 32: {"result": False}}})
    with pytest.raises(ValueError, match="of table 'applied' is malformed"):
        check_shape({"applied": applied})


def test_a_queue_that_cannot_be_read_costs_only_the_batching(path, monkeypatch):
    """The committing process cannot list the queue: it commits its own change, and the
    waiting process, finding its change not taken up, commits it itself."""
    lock = hold_lock(path)
    threads, results = start_waiting(path, [lambda store: store.create_dataset(TENANT, "b", 2)])
    with monkeypatch.context() as patch:
        patch.setattr(app_store, "os", FailingOs("scandir", errno.EACCES))
        Store(path)._lead(functools.partial(app_store._create, TENANT, "a", 1), None, lock)
    assert names(path) == ["a"]
    os.close(lock)
    finish(threads)
    assert results[0]["name"] == "b"
    assert names(path) == ["a", "b"]
    assert queued_files(path) == []


def test_a_result_still_waited_for_is_kept_when_the_queue_cannot_be_read(path, monkeypatch):
    """A committer that cannot list the queue cannot tell whose result was read: it keeps
    them all, so no waiting process commits its change a second time."""
    os.makedirs(queue_folder(path), exist_ok=True)
    queued = uuid.uuid4().hex
    waiter = os.open(os.path.join(queue_folder(path), queued + ".req"),
                     os.O_RDWR | os.O_CREAT, 0o600)  # as a waiting process holds it
    fcntl.flock(waiter, fcntl.LOCK_EX)
    os.write(waiter, orjson.dumps(["create", TENANT, "b", 1]))
    lock = hold_lock(path)
    lead = functools.partial(app_store._create, TENANT)
    Store(path)._lead(functools.partial(lead, "a", 1), None, lock)
    assert stored(path)["applied"][queued]["result"]["name"] == "b"
    with monkeypatch.context() as patch:
        patch.setattr(app_store, "os", FailingOs("scandir", errno.EACCES))
        Store(path)._lead(functools.partial(lead, "c", 2), None, lock)
    assert queued in stored(path)["applied"]
    os.remove(os.path.join(queue_folder(path), queued + ".req"))  # its process read it
    os.close(waiter)
    Store(path)._lead(functools.partial(lead, "d", 3), None, lock)
    assert "applied" not in stored(path)
    assert names(path) == ["a", "b", "c", "d"]
    os.close(lock)
