"""PostgreSQL under real gunicorn servers: two "hosts" on one database, and outages."""

import time

import pytest

from harness import pgserver
from harness.live import TIMEOUT, Server, cli, issue_key
from tests.test_live import bursts, check_bursts, create, in_parallel, listing, made

pytestmark = pytest.mark.live  # subprocesses: make test-fast skips these


@pytest.fixture
def database(postgres, request):
    return pgserver.create_database(postgres.url(), request.node.name[:60].lower())


@pytest.fixture
def hosts(tmp_path, database):
    """Start gunicorn servers on the one database, each with logs of its own."""
    servers = []

    def start(*args):
        log_dir = tmp_path / f"host{len(servers)}"
        log_dir.mkdir()
        server = Server(tmp_path / "unused.json", log_dir, *args, database_url=database)
        servers.append(server.start())
        return server.ready()

    yield start
    for server in servers:
        server.kill()


def test_racing_creates_of_one_name_across_two_hosts(hosts, database, tmp_path):
    """300 creates of `x` spread over two servers of 4 workers: x, x(1) ... x(299) once each.
    One loads the app before forking (--preload): each worker still has a pool of its own."""
    key = issue_key(tmp_path / "unused.json", database_url=database)
    one, two = hosts(), hosts("--preload")
    made_names = in_parallel(lambda n: made(create((one, two)[n % 2], key, "x")), range(300))
    created = dict(made_names)
    assert sorted(created.values()) == sorted(["x"] + [f"x({n})" for n in range(1, 300)])
    assert listing(one, key) == listing(two, key) == created


def statuses(server, key):
    """The statuses of 16 lists with `key` sent at once to `server`."""
    return set(in_parallel(
        lambda _: server.request("GET", "/api/v1/dataset", key).status_code, range(16)))


def test_a_key_from_the_cli_acts_on_both_hosts_at_once(hosts, database, tmp_path):
    path = tmp_path / "unused.json"
    old = issue_key(path, database_url=database)
    one, two = hosts(), hosts()
    new = issue_key(path, "--name", "fresh", database_url=database)
    for server in (one, two):
        assert statuses(server, new) == {200}
    listed = cli(path, "keys", "list", database_url=database).stdout
    [key_id] = [line.split()[0] for line in listed.splitlines() if "fresh" in line.split()]
    assert cli(path, "keys", "revoke", key_id, database_url=database).returncode == 0
    for server in (one, two):
        assert statuses(server, new) == {401}
        assert server.request("GET", "/api/v1/dataset", old).status_code == 200


def crash_mid_burst(server, key, crash, retry=False):
    """Bursts of creates and deletes on `server`, `crash()` once 40 creates are answered;
    the bursts' log."""
    threads, log, stop = bursts(server, key, 0, retry=retry)
    deadline = time.monotonic() + TIMEOUT
    while len(log["created"]) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    crash()
    stop.set()
    for thread in threads:
        thread.join(TIMEOUT)
    assert len(log["created"]) >= 40
    return log


def test_a_host_killed_mid_burst_loses_no_acknowledged_write(hosts, database, tmp_path):
    key = issue_key(tmp_path / "unused.json", database_url=database)
    one, two = hosts(), hosts()
    log = crash_mid_burst(one, key, one.kill)
    check_bursts(listing(two, key), {}, log)


def test_postgresql_killed_mid_burst_answers_json_and_recovers(hosts, database, postgres,
                                                              tmp_path):
    """kill -9 of PostgreSQL amid creates and deletes: answers stay JSON (503, code 100)
    and quick; /healthz says 503; once it is back the service recovers by itself, with
    every acknowledged create and none of the acknowledged deletes."""
    key = issue_key(tmp_path / "unused.json", database_url=database)
    server = hosts()
    log = crash_mid_burst(server, key, postgres.kill, retry=True)
    outage = []
    for _ in range(6):
        started = time.monotonic()
        response = create(server, key, "during")
        outage.append((response.status_code, response.json()["code"],
                       response.headers.get("Retry-After"), time.monotonic() - started))
    assert all(status == 503 and code == 100 and retry == "1" and took < 8
               for status, code, retry, took in outage), outage
    assert server.request("GET", "/healthz").status_code == 503
    postgres.start()
    deadline = time.monotonic() + TIMEOUT
    while server.request("GET", "/healthz").status_code != 200:
        assert time.monotonic() < deadline, "the service did not recover"
        time.sleep(0.2)
    assert made(create(server, key, "after"))
    errors = [e for e in log["errors"] if '"code":100' not in e.replace(" ", "")]
    assert errors == []  # what failed in the outage failed in the JSON envelope
    log["errors"] = []
    listed = listing(server, key)
    check_bursts({i: n for i, n in listed.items() if n != "after"}, {}, log)


def test_updates_of_different_parser_config_fields_at_once_both_stay(hosts, database, tmp_path):
    """Two PUTs at once on one dataset, each changing another field of its parser_config,
    through 4 workers: each merges into the dataset as it is then, so both changes stay."""
    key = issue_key(tmp_path / "unused.json", database_url=database)
    server = hosts()
    dataset_id, _ = made(create(server, key, "kb"))
    url = f"/api/v1/datasets/{dataset_id}"
    for n in range(40):
        answers = in_parallel(lambda body: server.request("PUT", url, key, json=body), [
            {"parser_config": {"chunk_token_num": 100 + n}},
            {"parser_config": {"delimiter": f"x{n}"}}], threads=2)
        assert all(a.status_code == 200 and a.json()["code"] == 0 for a in answers), answers
        config = server.request("GET", url, key).json()["data"]["parser_config"]
        assert (config["chunk_token_num"], config["delimiter"]) == (100 + n, f"x{n}"), n
