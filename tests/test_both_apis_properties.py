"""Any sequence of creates, renames and deletes through either API, by two tenants, keeps
names unique per tenant and matches a model; on every engine."""

import tempfile

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from app import create_app
from harness import pgserver
from tests.conftest import Api, Current, issue_key
from tests.test_properties import CLASHING, Model

SETTINGS = settings(max_examples=25, stateful_step_count=25, deadline=None, derandomize=True,
                    database=None)
TENANTS = st.sampled_from([0, 1])


def test_two_tenants_on_both_apis(config):
    class BothApis(RuleBasedStateMachine):
        """Each tenant's datasets as (id, name), oldest first, against both APIs' answers."""

        def __init__(self):
            super().__init__()
            self.folder = tempfile.TemporaryDirectory()
            if config.get("DATABASE_URL"):
                pgserver.empty(config["DATABASE_URL"])
            self.app = create_app({**config, "DB_PATH": f"{self.folder.name}/db.json",
                                   "NAME_RULE": "legacy"})
            client, runner = self.app.test_client(), self.app.test_cli_runner()
            keys = [issue_key(runner) for _ in range(2)]
            self.legacy = [Api(client, key) for key in keys]
            self.current = [Current(client, key) for key in keys]
            self.models = [Model(), Model()]

        def teardown(self):
            self.app.extensions["store"].close()
            self.folder.cleanup()

        @rule(tenant=TENANTS, name=CLASHING, legacy=st.booleans())
        def create(self, tenant, name, legacy):
            model = self.models[tenant]
            if legacy:
                response = self.legacy[tenant].create(name)
                made = response.json["data"] if response.status_code == 200 else None
                made = made and {"id": made["id"], "name": made["dataset_name"]}
            else:
                response = self.current[tenant].create(name)
                made = response.json["data"]
            if not name.strip():
                assert made is None, response.json
                return
            assert made["name"] == model.free_name(name.strip())
            model.datasets.append((made["id"], made["name"]))

        @rule(tenant=TENANTS, owner=TENANTS, pick=st.integers(0, 99),
              name=CLASHING | st.integers(0, 99))
        def rename(self, tenant, owner, pick, name):
            """Rename to a new name, or (an integer) onto one of the owner's names, swapcased."""
            datasets = self.models[owner].datasets
            if not datasets:
                return
            if isinstance(name, int):
                name = datasets[name % len(datasets)][1].swapcase()
            index = pick % len(datasets)
            dataset_id, old = datasets[index]
            response = self.current[tenant].update(dataset_id, name=name)
            others = {n.casefold() for i, n in datasets if i != dataset_id}
            if tenant != owner or not name.strip() or name.strip().casefold() in others:
                assert response.json["code"] in (101, 102), response.json
                return
            assert response.json["data"]["name"] == name.strip()
            datasets[index] = (dataset_id, name.strip())

        @rule(tenant=TENANTS, owner=TENANTS, picks=st.lists(st.integers(0, 99), max_size=3),
              legacy=st.booleans())
        def delete(self, tenant, owner, picks, legacy):
            datasets = self.models[owner].datasets
            ids = list(dict.fromkeys(datasets[p % len(datasets)][0] for p in picks)) \
                if datasets else []
            if legacy:
                ids = ids[:1]
                if not ids:
                    return
                response = self.legacy[tenant].delete(ids[0])
                done = response.status_code == 200
            else:
                response = self.current[tenant].delete(ids=ids)
                done = response.json["code"] == 0
            assert done == (tenant == owner or not ids), response.json
            if done:
                datasets[:] = [d for d in datasets if d[0] not in ids]

        @invariant()
        def both_apis_list_the_model(self):
            for tenant, model in enumerate(self.models):
                legacy = self.legacy[tenant].list(desc="false").json["data"]
                current = self.current[tenant].list(desc="false", page_size=100).json
                assert [(d["id"], d["name"]) for d in legacy] == model.datasets
                assert [(d["id"], d["name"]) for d in current["data"]] == model.datasets
                assert current["total_datasets"] == len(model.datasets)
                names = [name.casefold() for _, name in model.datasets]
                assert len(names) == len(set(names))

    run_state_machine_as_test(BothApis, settings=SETTINGS)
