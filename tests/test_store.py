"""The storage interface's shared rules, and every app on one store seeing every change."""

import pytest

from app import create_app
from app.store import NameTaken, NotFound, rules
from tests.conftest import Api, Current, issue_key


@pytest.mark.parametrize("name, taken, expected", [
    ("kb", set(), "kb"),
    ("kb", {"kb"}, "kb(1)"),
    ("KB", {"kb", "kb(1)", "kb(3)"}, "KB(2)"),
    ("a.b", {"a.b"}, "a.b(1)"),
    ("Straße", {"strasse"}, "Straße(1)"),  # casefold: what Python calls the same name
])
def test_free_name(name, taken, expected):
    assert rules.free_name(name, taken) == expected


def two_processes(config):
    """Two apps on one store, as two gunicorn workers (or two hosts) would be, one key."""
    first, second = create_app(config), create_app(config)
    key = issue_key(first.test_cli_runner())
    return Api(first.test_client(), key), Api(second.test_client(), key)


def test_every_app_on_the_store_sees_every_change(config):
    one, two = two_processes(config)
    one.create("kb")
    assert two.names() == ["kb"]
    assert two.create("KB").json["data"]["dataset_name"] == "KB(1)"
    assert one.names() == ["KB(1)", "kb"]
    one.delete(one.list().json["data"][1]["id"])
    assert two.names() == ["KB(1)"]
    first = one.client.application
    [key_id] = [k["id"] for k in first.extensions["store"].list_keys()]
    first.test_cli_runner().invoke(args=["keys", "revoke", key_id])
    assert two.list().status_code == 401


def test_a_rename_frees_the_old_name_in_every_app(config):
    """The bug of a store that cannot change records: the renamed name stayed taken."""
    one, two = two_processes(config)
    [store_one, store_two] = [api.client.application.extensions["store"] for api in (one, two)]
    tenant = store_one.list_keys()[0]["tenant"]
    dataset = store_one.create_dataset(tenant, {"name": "a"}, 1)
    store_one.update_dataset(tenant, dataset["id"], rules.Patch({"name": "b"}), 2)
    assert store_one.create_dataset(tenant, {"name": "a"}, 3)["name"] == "a"
    assert store_two.create_dataset(tenant, {"name": "A"}, 4)["name"] == "A(1)"
    assert store_two.create_dataset(tenant, {"name": "B"}, 5)["name"] == "B(1)"
    with pytest.raises(NameTaken):
        store_two.update_dataset(tenant, dataset["id"], rules.Patch({"name": "a"}), 6)
    renamed = store_two.update_dataset(tenant, dataset["id"], rules.Patch({"name": "a(2)"}), 6)
    assert renamed["name"] == "a(2)" and renamed["update_time"] == 6
    assert store_one.get_dataset(tenant, dataset["id"]) == renamed


def test_a_list_read_before_shows_each_change_another_app_made_since(config):
    """Lists read again and again by one app, while another changes the datasets: after
    each kind of change, every list is what a new app reads (none kept from before)."""
    ours, theirs = (create_app(config).extensions["store"] for _ in range(2))
    tenant = "c" * 32
    made = [theirs.create_dataset(tenant, {"name": f"kb{n}"}, n) for n in range(3)]
    queries = [{}, {"limit": 2, "offset": 1}, {"orderby": "name", "desc": False},
               {"orderby": "update_time"}, {"name": "KB1"}, {"dataset_id": made[0]["id"]}]
    changes = [
        lambda: theirs.create_dataset(tenant, {"name": "kb3"}, 10),
        lambda: theirs.update_dataset(tenant, made[0]["id"],
                                      rules.Patch({"description": "new"}), 11),
        lambda: theirs.update_dataset(tenant, made[1]["id"], rules.Patch({"name": "kb9"}), 12),
        lambda: theirs.delete_datasets(tenant, [made[2]["id"]]),
        lambda: theirs.delete_datasets(tenant),
    ]

    def lists(store):
        return [store.list_datasets(tenant, **query) for query in queries]

    for change in changes:
        before = lists(ours)
        assert lists(ours) == before
        change()
        after = lists(ours)
        assert after == lists(create_app(config).extensions["store"]) and after != before
        assert after[0] != before[0]


def test_bulk_delete_is_all_or_none(config):
    store = create_app(config).extensions["store"]
    tenant, other = "a" * 32, "b" * 32
    mine = [store.create_dataset(tenant, {"name": f"d{n}"}, n)["id"] for n in range(3)]
    theirs = store.create_dataset(other, {"name": "x"}, 9)["id"]
    with pytest.raises(NotFound) as missing:
        store.delete_datasets(tenant, [mine[0], theirs, "0" * 32])
    assert missing.value.ids == [theirs, "0" * 32]
    assert store.list_datasets(tenant)[1] == 3
    assert [d["id"] for d in store.delete_datasets(tenant, mine[:2])] == mine[:2]
    assert [d["id"] for d in store.delete_datasets(tenant)] == mine[2:]
    assert store.list_datasets(tenant) == ([], 0)
    assert store.list_datasets(other)[1] == 1


def test_list_filters_orders_and_pages_with_a_total(config):
    store = create_app(config).extensions["store"]
    tenant = "c" * 32
    for n, name in enumerate(["b", "D", "a", "e", "C"]):
        store.create_dataset(tenant, {"name": name}, 100 + n % 2)  # ties in create_time
    def names(**kwargs):
        records, total = store.list_datasets(tenant, **kwargs)
        return [r["name"] for r in records], total
    assert names(orderby="name", desc=False) == (["a", "b", "C", "D", "e"], 5)
    assert names(desc=False) == (["b", "a", "C", "D", "e"], 5)  # ties in creation order
    assert names(desc=True, offset=1, limit=2) == (["D", "C"], 5)
    assert names(name="c") == (["C"], 1)
    [record], _ = store.list_datasets(tenant, name="e")
    assert names(dataset_id=record["id"]) == (["e"], 1)
    assert names(dataset_id=record["id"], name="a") == ([], 0)
    assert names(name="zz") == ([], 0)


def test_a_page_an_app_kept_shows_each_change_another_app_made_since(config):
    """Lists kept for speed (app.cached.Pages) by one app, while another changes the
    datasets: after each change, each list is the one an app keeping nothing answers."""
    one, two = two_processes(config)
    current_one, current_two = (Current(api.client, api.headers["Authorization"][7:])
                                for api in (one, two))
    made = [current_two.made(f"kb{n}") for n in range(3)]
    queries = [{}, {"page_size": 2, "page": 2}, {"orderby": "update_time", "desc": "false"},
               {"name": "KB1"}]
    changes = [lambda: current_two.made("kb3"),
               lambda: current_two.update(made[0]["id"], description="new"),
               lambda: current_two.update(made[1]["id"], name="kb9"),
               lambda: two.create("legacy"),
               lambda: current_two.delete(ids=[made[2]["id"]])]

    def lists(current, api):
        return ([current.list(**query).json for query in queries],
                api.list(count=2).json, api.list(orderby="name").json)

    for change in changes:
        assert lists(current_one, one) == lists(current_one, one)  # the second time, kept
        change()
        fresh = Api(create_app({**config, "CACHE": "off"}).test_client(),
                    one.headers["Authorization"][7:])
        assert lists(current_one, one) == lists(Current(fresh.client, fresh.headers[
            "Authorization"][7:]), fresh)
