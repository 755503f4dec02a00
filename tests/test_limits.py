"""Limits a small deployment never meets and an abuser does: datasets per tenant, list size."""

import pytest

from app import create_app
from app.store import LimitReached
from tests.conftest import Api, issue_key


@pytest.fixture
def config(config):
    return {**config, "TENANT_DATASET_LIMIT": 3, "LIST_LIMIT": 5}


def test_a_tenant_at_its_limit_is_refused_and_others_are_not(api, other):
    for n in range(3):
        assert api.create(f"kb{n}").status_code == 200
    response = api.create("one-more")
    assert response.status_code == 400
    assert response.json == {"code": 102, "message": "This tenant has reached its limit of 3 "
                                                     "datasets; delete some to make more."}
    assert other.create("kb0").status_code == 200
    api.delete(api.list().json["data"][0]["id"])
    assert api.create("one-more").status_code == 200


def test_a_list_larger_than_the_limit_says_how_to_page(config):
    app = create_app({**config, "TENANT_DATASET_LIMIT": 100})
    api = Api(app.test_client(), issue_key(app.test_cli_runner()))
    for n in range(6):
        assert api.create(f"kb{n}").status_code == 200
    for params in ({}, {"count": -1}, {"count": 6}, {"count": 1000}):
        response = api.list(**params)
        assert response.status_code == 400 and response.json["code"] == 101
        assert "at most 5 datasets" in response.json["message"]
        assert "page with offset and count" in response.json["message"]
    assert len(api.names(count=5)) == 5
    assert len(api.names(offset=1, count=-1)) == 5
    assert len(api.names(offset=4, count=1000)) == 2


def test_the_count_holds_far_from_the_limit_and_at_it(config):
    """40 datasets made one by one (on PostgreSQL, the first counted side by side, the last
    15 taking all of the tenant's counts), the 41st refused; deletes make room again."""
    store = create_app({**config, "TENANT_DATASET_LIMIT": 40}).extensions["store"]
    tenant = "d" * 32
    store.create_key(tenant, "k", "e" * 64, 0)
    made = [store.create_dataset(tenant, {"name": f"kb{n}"}, n)["id"] for n in range(40)]
    with pytest.raises(LimitReached):
        store.create_dataset(tenant, {"name": "one-more"}, 41)
    store.delete_datasets(tenant, made[:5])
    for n in range(5):
        store.create_dataset(tenant, {"name": f"again{n}"}, 50 + n)
    with pytest.raises(LimitReached):
        store.create_dataset(tenant, {"name": "one-more"}, 60)
    assert store.list_datasets(tenant)[1] == 40 == store.list_tenants()[0]["datasets"]
    assert store.check()["datasets"] == 40
