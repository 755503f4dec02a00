"""Changes racing each other under a real gunicorn with 4 workers, on each engine: both of
two updates of one dataset hold, and a name goes to one dataset however it is asked for."""

import threading

import pytest

pytestmark = pytest.mark.live  # subprocesses: make test-fast skips these

DATASETS = "/api/v1/datasets"


def at_once(*calls):
    """The answers of `calls`, each run in a thread of its own, let go together."""
    start, answers = threading.Barrier(len(calls)), [None] * len(calls)

    def run(n):
        start.wait()
        answers[n] = calls[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_two_updates_of_other_fields_of_one_dataset_both_hold(served):
    server, key = served
    made = server.request("POST", DATASETS, key, json={"name": "kb"}).json()["data"]
    url = f"{DATASETS}/{made['id']}"

    def put(parser_config):
        return lambda: server.request("PUT", url, key, json={"parser_config": parser_config})

    for n in range(40):
        answers = at_once(put({"chunk_token_num": 100 + n}), put({"delimiter": f"x{n}"}))
        assert [a.json()["code"] for a in answers] == [0, 0], [a.text for a in answers]
        config = server.request("GET", url, key).json()["data"]["parser_config"]
        assert (config["chunk_token_num"], config["delimiter"]) == (100 + n, f"x{n}"), n


def test_renames_and_creates_of_one_name_never_share_it(served):
    """Each round, both APIs create `nN` while another dataset is renamed to it: every name
    of the tenant is its own (compared case-insensitively)."""
    server, key = served
    moving = server.request("POST", DATASETS, key, json={"name": "moving"}).json()["data"]["id"]
    for n in range(30):
        name = f"n{n}"
        answers = at_once(
            lambda: server.request("POST", DATASETS, key, json={"name": name}),
            lambda: server.request("POST", "/api/v1/dataset", key, json={"name": name.upper()}),
            lambda: server.request("PUT", f"{DATASETS}/{moving}", key, json={"name": name}))
        created, legacy, renamed = (a.json() for a in answers)
        assert created["code"] == 0 and legacy["code"] == 0, (created, legacy)
        assert renamed["code"] == 0 or renamed["message"].endswith("already exists"), renamed
        listed = server.request("GET", DATASETS, key, params={"page_size": 100}).json()["data"]
        names = [d["name"].casefold() for d in listed]
        assert len(names) == len(set(names)) == 2 * (n + 1) + 1, sorted(names)
        taken = [d for d in listed if d["name"].casefold() == name]
        assert len(taken) == 1
