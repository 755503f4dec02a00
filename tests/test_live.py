"""The store under a real gunicorn with several workers: races, crashes and damage."""

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

import pytest
import requests

from app import create_app
from harness.live import TIMEOUT, WORKERS, Server, cli, issue_key, key_id

pytestmark = pytest.mark.live  # subprocesses: make test-fast skips these

ACCESS_LOG = ("--access-logformat", "%(p)s %(m)s %(U)s %(s)s")  # <worker pid> method path status


@pytest.fixture
def db_path(tmp_path):
    (tmp_path / "store").mkdir()
    return tmp_path / "store" / "db.json"


@pytest.fixture
def serve(tmp_path, db_path):
    """Start gunicorn on the test's store; every server started is killed at teardown."""
    servers = []

    def start(*args, ready=True):
        server = Server(db_path, tmp_path, *args).start()
        servers.append(server)
        return server.ready() if ready else server

    yield start
    for server in servers:
        server.kill()


def create(server, key, name):
    return server.request("POST", "/api/v1/dataset", key, json={"name": name})


def delete(server, key, dataset_id):
    return server.request("DELETE", f"/api/v1/dataset/{dataset_id}", key)


def made(response):
    """(id, name) of the dataset a create answered with; the create must have succeeded."""
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return data["id"], data["dataset_name"]


def list_all(server, key, params=None):
    return server.request("GET", "/api/v1/dataset", key, params={"count": -1, **(params or {})})


def listing(server, key):
    """{id: name} of every dataset of the key's tenant."""
    response = list_all(server, key)
    assert response.status_code == 200, response.text
    return {record["id"]: record["name"] for record in response.json()["data"]}


def in_parallel(function, items, threads=24):
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(function, items))


def perform(server, key, jobs, threads=24):
    """Run each (action, argument) job, such as (create, name), in parallel; the answers."""
    return in_parallel(lambda job: job[0](server, key, job[1]), jobs, threads)


@pytest.mark.parametrize("preload", [[], ["--preload"]], ids=["", "preload"])
def test_racing_creates_of_one_name_each_get_a_name_of_their_own(serve, db_path, preload):
    """300 creates of `x` from 24 threads: x, x(1) ... x(299) once each, and all listed."""
    key = issue_key(db_path)
    server = serve(*preload)
    created = dict(map(made, in_parallel(lambda _: create(server, key, "x"), range(300))))
    assert sorted(created.values()) == sorted(["x"] + [f"x({n})" for n in range(1, 300)])
    assert listing(server, key) == created


def test_racing_deletes_and_creates_leave_what_was_acknowledged(serve, db_path):
    """Deletes, each sent twice, racing creates: one delete of each wins; the list adds up."""
    key = issue_key(db_path)
    server = serve()
    before = dict(map(made, in_parallel(lambda n: create(server, key, f"d{n}"), range(60))))
    victims = list(before)[:40]
    jobs = [(delete, i) for i in victims] * 2 + [(create, f"d{n}") for n in range(40)]
    jobs += [(create, f"e{n}") for n in range(40)]
    random.Random(0).shuffle(jobs)
    answers = perform(server, key, jobs)
    deletes = {}
    for (action, arg), response in zip(jobs, answers):
        if action is delete:
            deletes.setdefault(arg, []).append(response.status_code)
    assert [sorted(codes) for codes in deletes.values()] == [[200, 404]] * 40
    created = dict(made(r) for (action, _), r in zip(jobs, answers) if action is create)
    survivors = {i: name for i, name in before.items() if i not in victims}
    listed = listing(server, key)
    assert listed == survivors | created
    assert len({name.casefold() for name in listed.values()}) == len(listed)


def workers(server):
    """The pids of the master's worker processes."""
    pid = server.process.pid
    with open(f"/proc/{pid}/task/{pid}/children") as file:
        return [int(child) for child in file.read().split()]


def test_a_worker_killed_for_timing_out_leaves_the_lock_working(serve, db_path):
    """A worker frozen in a write burst is killed by gunicorn; the lock is free again after."""
    key = issue_key(db_path)
    server = serve("--timeout", "2")
    frozen = workers(server)[0]

    def attempt(n):
        try:
            return create(server, key, f"t{n}")
        except requests.RequestException:  # a request the killed worker had taken
            return None

    with ThreadPoolExecutor(16) as pool:
        answers = [pool.submit(attempt, n) for n in range(200)]
        time.sleep(0.2)
        os.kill(frozen, signal.SIGSTOP)
        answers = [answer.result() for answer in answers]
    # Workers left waiting for the frozen one's lock past --timeout are killed too.
    acknowledged = [answer for answer in answers if answer is not None and answer.ok]
    assert all(answer is None or answer.status_code == 500 for answer in answers
               if answer not in acknowledged)
    assert acknowledged
    deadline = time.monotonic() + TIMEOUT
    while (frozen in workers(server) or len(workers(server)) < WORKERS) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert frozen not in workers(server) and len(workers(server)) == WORKERS
    after = dict(in_parallel(lambda n: made(create(server, key, f"a{n}")), range(40), threads=8))
    assert set(dict(map(made, acknowledged)).items()) | set(after.items()) \
        <= set(listing(server, key).items())


def served(server, status, sent):
    """Worker pids the access log shows answering GET /api/v1/dataset with `status`."""
    line = re.compile(rf" <(\d+)> GET /api/v1/dataset {status}$", re.M)
    deadline = time.monotonic() + TIMEOUT
    while len(pids := line.findall(server.stdout())) < sent and time.monotonic() < deadline:
        time.sleep(0.02)  # a worker logs the request just after answering it
    assert len(pids) == sent
    return set(pids)


def every_worker_answers(server, key, status):
    """GET with `key`, 8 at a time, until all workers have answered: every answer `status`."""
    for rounds in range(1, 31):
        codes = in_parallel(lambda _: server.request("GET", "/api/v1/dataset", key).status_code,
                            range(8), threads=8)
        assert codes == [status] * 8
        if len(served(server, status, 8 * rounds)) == WORKERS:
            return
    raise AssertionError(f"not every worker answered:\n{server.stdout()}")


def test_keys_from_the_cli_take_effect_in_every_worker_at_once(serve, db_path):
    """A key issued while the server runs works in every worker; revoked, it fails in all."""
    old = issue_key(db_path)
    server = serve(*ACCESS_LOG)
    in_parallel(lambda n: made(create(server, old, f"w{n}")), range(40), threads=8)
    new = issue_key(db_path, "--name", "fresh")
    every_worker_answers(server, new, 200)
    revoked = cli(db_path, "keys", "revoke", key_id(db_path, "fresh"))
    assert revoked.returncode == 0, revoked.stderr
    every_worker_answers(server, new, 401)
    assert server.request("GET", "/api/v1/dataset", old).status_code == 200


def burst(server, key, stop, log, prefix, retry):
    """Create datasets of unique names, deleting every other one, until stopped, or until
    the server is gone unless `retry`. A create applied twice would show renamed `(1)`."""
    for n in range(1000):
        if stop.is_set():
            return
        try:
            name = f"{prefix}-{n}"
            log["attempts"].add(name)
            response = create(server, key, name)
            if response.status_code != 200:
                log["errors"].append(response.text)
                return
            dataset_id, made_name = made(response)
            log["created"][dataset_id] = made_name
            if n % 2:
                log["deleting"].add(dataset_id)
                response = delete(server, key, dataset_id)
                if response.status_code != 200:
                    log["errors"].append(response.text)
                    return
                log["deleted"].add(dataset_id)
        except requests.RequestException:  # its worker was killed: this one is unanswered
            if not retry:
                return


def bursts(server, key, round_, retry=False):
    """Eight bursts in threads, with the log they fill and the event that stops them."""
    log = {"attempts": set(), "errors": [], "created": {}, "deleting": set(), "deleted": set()}
    stop = threading.Event()
    threads = [threading.Thread(target=burst,
                                args=(server, key, stop, log, f"r{round_}t{n}", retry))
               for n in range(8)]
    for thread in threads:
        thread.start()
    return threads, log, stop


def check_bursts(listed, known, log):
    """Every acknowledged create is listed under its name, no acknowledged delete is, and
    nothing else is: no create applied twice, none made up."""
    created = {i: name for i, name in log["created"].items() if i not in log["deleting"]}
    assert log["errors"] == []
    assert set(log["created"].values()) <= log["attempts"]  # none answered renamed
    assert created.items() <= listed.items()
    assert not listed.keys() & log["deleted"]
    assert set(listed.values()) - set(known.values()) <= log["attempts"]
    assert len(set(listed.values())) == len(listed)


def test_sigkill_mid_burst_loses_no_acknowledged_write(serve, db_path):
    """Rounds of SIGKILL to the whole server mid-burst: every acknowledged write survives."""
    key = issue_key(db_path)
    known = {}
    for round_ in range(5):
        server = serve()
        threads, log, stop = bursts(server, key, round_)
        deadline = time.monotonic() + TIMEOUT
        while len(log["created"]) < 20 + 15 * round_ and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(TIMEOUT)
        assert not any(thread.is_alive() for thread in threads)
        assert len(log["created"]) >= 20 + 15 * round_
        json.loads(db_path.read_bytes())
        listed = listing(serve(), key)
        check_bursts(listed, known, log)
        assert not (db_path.parent / f".{db_path.name}.tmp").exists()
        known = listed


def test_workers_killed_one_by_one_mid_burst_lose_nothing_and_repeat_nothing(serve, db_path):
    """SIGKILL to one worker at a time amid creates and deletes: the killed worker may have
    been writing its journal line, or waiting for the lock."""
    key = issue_key(db_path)
    server = serve()
    threads, log, stop = bursts(server, key, 0, retry=True)
    kills = 0
    deadline = time.monotonic() + 3 * TIMEOUT
    while kills < 30 and time.monotonic() < deadline:
        time.sleep(random.uniform(0.02, 0.1))
        with suppress(IndexError, ProcessLookupError):  # all being respawned; one just gone
            os.kill(random.choice(workers(server)), signal.SIGKILL)
            kills += 1
    while len(log["created"]) < 100 and time.monotonic() < deadline:  # a loaded machine
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    assert kills == 30 and len(log["created"]) >= 100
    check_bursts(listing(server, key), {}, log)
    assert made(create(server, key, "after"))  # a line a killed worker tore is cut off
    checked = cli(db_path, "store", "check")
    assert checked.returncode == 0, checked.stderr


DAMAGES = {
    "truncated": lambda sound: sound[:len(sound) // 2],
    "empty": lambda sound: b"",
    "not JSON": lambda sound: b"not JSON\n",
    "not UTF-8": lambda sound: b'{"keys": {}, "\xff": {}}',
    "nested too deep": lambda sound: b"[" * 100_000 + b"]" * 100_000,
    "a list": lambda sound: b"[]",
    "keys not a table": lambda sound: b'{"keys": []}',
    "a malformed key": lambda sound: b'{"keys": {"1": {"id": 5}}}',
}


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_a_damaged_store_is_refused_and_left_alone(serve, db_path, damage):
    """gunicorn and the CLI refuse a damaged store, name it, and leave it as it was."""
    issue_key(db_path)
    issue_key(db_path)
    db_path.write_bytes(damage(db_path.read_bytes()))
    found = db_path.read_bytes()
    server = serve(ready=False)
    assert server.exit_code() != 0
    assert str(db_path) in server.stderr()
    for args, codes in ((["keys", "list"], range(1, 256)), (["store", "check"], [1])):
        result = cli(db_path, *args)
        assert result.returncode in codes
        assert str(db_path) in result.stderr and "Traceback" not in result.stderr
    assert db_path.read_bytes() == found


def test_check_and_backup_work_on_a_running_store(serve, db_path, tmp_path):
    """`store check` passes on a sound store; `store backup` copies it while it serves."""
    key = issue_key(db_path)
    server = serve()
    created = dict(map(made, in_parallel(lambda n: create(server, key, f"b{n}"), range(10))))
    for args in (["store", "check"], ["store", "backup", str(tmp_path / "copy.json")]):
        result = cli(db_path, *args)
        assert result.returncode == 0, result.stderr
    made(create(server, key, "after"))
    copy = create_app({"TESTING": True, "DB_PATH": str(tmp_path / "copy.json")}).test_client()
    response = copy.get("/api/v1/dataset", headers={"Authorization": f"Bearer {key}"})
    assert {record["id"]: record["name"] for record in response.json["data"]} == created


def overwrite(path):
    """Damage the store in place, as an editor or a failing disk would."""
    path.write_bytes(b"not JSON at all")


def replace(path):
    """Replace the store with JSON that is not a store, as a careless restore would."""
    temp = path.with_name("restored")
    temp.write_bytes(b"[]")
    os.replace(temp, path)


@pytest.mark.parametrize("damage", [overwrite, replace])
def test_a_store_damaged_while_serving_gets_500s_and_is_left_alone(serve, db_path, damage):
    """Requests on a store damaged mid-run: 500 envelopes, the reason logged, file untouched."""
    key = issue_key(db_path)
    server = serve()
    created = dict(map(made, in_parallel(lambda n: create(server, key, f"s{n}"), range(16))))
    logged = len(server.stderr())
    damage(db_path)
    found = db_path.read_bytes()
    jobs = [(create, "late"), (delete, next(iter(created))), (list_all, {"desc": "false"})] * 6
    for response in perform(server, key, jobs, threads=8):
        assert response.status_code == 500
        assert response.json()["code"] == 100
    assert server.request("GET", "/healthz").status_code == 503
    reasons = [line for line in server.stderr()[logged:].splitlines() if str(db_path) in line]
    assert reasons and all("JSON" in line for line in reasons)
    server.stop()
    assert db_path.read_bytes() == found
    assert not (db_path.parent / f".{db_path.name}.tmp").exists()


def test_no_key_is_written_to_the_store_or_the_logs(serve, db_path):
    """After a run that used, revoked and mistyped keys, none is in the store or the logs."""
    keys = [issue_key(db_path, "--name", f"k{n}") for n in range(3)]
    server = serve("--log-level", "debug")
    for key in keys:
        made(create(server, key, "k"))
        bare = requests.get(server.url + "/api/v1/dataset", headers={"Authorization": key},
                            timeout=TIMEOUT)
        assert bare.status_code == 200
        assert server.request("GET", "/api/v1/dataset", key[:-1]).status_code == 401
    revoked = cli(db_path, "keys", "revoke", key_id(db_path, "k2"))
    assert revoked.returncode == 0, revoked.stderr
    assert server.request("GET", "/api/v1/dataset", keys[2]).status_code == 401
    listed = cli(db_path, "keys", "list")
    server.stop()
    logs = server.stdout() + server.stderr() + listed.stdout + listed.stderr + revoked.stdout
    stored = db_path.read_text()
    for key in keys:
        secret = key.removeprefix("ragflow-")[:16]
        assert secret not in stored and secret not in logs
        assert hashlib.sha256(key.encode()).hexdigest() not in logs


def test_a_lock_held_by_a_stopped_process_delays_no_read_and_fails_writes_in_time(
        serve, db_path):
    """Another process takes the store's lock and is stopped: reads and health go on at
    once; a write answers a JSON 503 with Retry-After well before gunicorn's timeout."""
    key = issue_key(db_path)
    server = serve()
    assert made(create(server, key, "before"))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; "
         "fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX); "
         "print('held', flush=True); time.sleep(120)", f"{db_path}.lock"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        os.kill(holder.pid, signal.SIGSTOP)
        started = time.monotonic()
        assert list(listing(server, key).values()) == ["before"]
        assert server.request("GET", "/healthz").status_code == 200
        assert time.monotonic() - started < 2
        response = create(server, key, "during")
        waited = time.monotonic() - started
        assert response.status_code == 503 and response.json()["code"] == 100
        assert response.headers["Retry-After"] == "1"
        assert 5 < waited < 20  # DATASET_API_LOCK_TIMEOUT (10 s), below gunicorn's 30 s
        command = cli(db_path, "keys", "create")
        assert command.returncode == 1 and "busy" in command.stderr
        assert "10 s" in command.stderr
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert made(create(server, key, "after"))
    assert sorted(listing(server, key).values()) == ["after", "before"]


def test_after_a_clean_stop_tinydb_reads_every_record(serve, db_path):
    """A clean stop folds the journal into the file, which plain TinyDB then reads whole."""
    from tinydb import TinyDB

    key = issue_key(db_path)
    server = serve()
    created = dict(map(made, in_parallel(lambda n: create(server, key, f"t{n}"), range(40))))
    for dataset_id in list(created)[:10]:
        assert delete(server, key, dataset_id).status_code == 200
        del created[dataset_id]
    server.stop()
    db = TinyDB(str(db_path), access_mode="r")
    [table] = [name for name in db.tables() if name.startswith("tenant:")]
    assert {r["id"]: r["name"] for r in db.table(table).all()} == created
    db.close()
