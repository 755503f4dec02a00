"""The current API under a real gunicorn with 4 workers, on each engine: races for one name
through both APIs, and retries of one create."""

from collections import Counter

import pytest

from tests.test_live import in_parallel

pytestmark = pytest.mark.live  # subprocesses: make test-fast skips these

DATASETS = "/api/v1/datasets"


def create(server, key, name, api="current", headers=None, status=200):
    path = DATASETS if api == "current" else "/api/v1/dataset"
    response = server.request("POST", path, key, json={"name": name}, headers=headers)
    assert response.status_code == status, response.text
    return response.json()


def names(server, key):
    """Every name of the tenant, as the current API lists them."""
    listed, page = [], 1
    while True:
        data = server.request("GET", DATASETS, key, params={"page": page, "page_size": 100})
        batch = data.json()["data"]
        listed += [record["name"] for record in batch]
        if len(batch) < 100:
            return listed
        page += 1


def test_racing_creates_of_one_name_through_both_apis(served):
    """200 creates of `x`, half through each API: x, x(1) ... x(199), once each."""
    server, key = served
    answers = in_parallel(lambda n: create(server, key, "x", ("current", "legacy")[n % 2]),
                          range(200))
    made = [a["data"]["name" if "name" in a["data"] else "dataset_name"] for a in answers]
    assert sorted(made) == sorted(["x"] + [f"x({n})" for n in range(1, 200)])
    assert sorted(names(server, key)) == sorted(made)


def test_racing_renames_onto_one_name_give_it_once(served):
    """40 datasets renamed at once onto `target` (in several cases), while creates of
    `TARGET` race them: the name goes to one dataset only."""
    server, key = served
    ids = [create(server, key, f"d{n}")["data"]["id"] for n in range(40)]

    def rename(n):
        if n >= 40:
            return create(server, key, "TARGET")
        return server.request("PUT", f"{DATASETS}/{ids[n]}", key,
                              json={"name": ["target", "Target", "TARGET"][n % 3]}).json()

    answers = in_parallel(rename, range(60))
    renamed = [a for a in answers[:40] if a["code"] == 0]
    assert all(a["code"] == 102 and a["message"].endswith("already exists")
               for a in answers[:40] if a["code"] != 0)
    listed = [name.casefold() for name in names(server, key)]
    assert len(listed) == len(set(listed)) == 60
    assert Counter(listed)["target"] == 1
    assert len(renamed) <= 1 and all(a["code"] == 0 for a in answers[40:])


@pytest.mark.parametrize("api", ["current", "legacy"])
def test_retries_with_one_key_make_one_dataset(served, api):
    server, key = served
    retry = {"Idempotency-Key": "order-42"}
    answers = in_parallel(lambda _: create(server, key, "kb", api, retry), range(40))
    assert all(answer == answers[0] for answer in answers) and answers[0]["code"] == 0
    assert names(server, key) == ["kb"]
    # The same key with another body: refused, in each API's envelope.
    other = create(server, key, "kb2", api, retry, status=200 if api == "current" else 400)
    assert other["code"] == 101 and names(server, key) == ["kb"]
