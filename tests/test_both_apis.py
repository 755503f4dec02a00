"""One dataset, two APIs: what one creates, renames or deletes, the other sees at once; the
Idempotency-Key of both creates; the current API's configuration."""

import orjson
import pytest

from app import create_app
from app.cached import Made
from app.schemas import current as current_schemas
from app.schemas import legacy as legacy_schemas
from app.store import rules
from tests.conftest import Api, Current, issue_key

LEGACY_ONLY = {"chunk_num": "chunk_count", "doc_num": "document_count",
               "embd_id": "embedding_model", "parser_id": "chunk_method"}


def as_legacy(record):
    """A current record under the legacy API's names, as the legacy list shows it."""
    shown = {k: v for k, v in record.items() if k not in LEGACY_ONLY.values() and k != "pagerank"}
    return {**shown, **{legacy: record[field] for legacy, field in LEGACY_ONLY.items()}}


def test_made_here_listed_there(api, current):
    record = current.made("Made Here", chunk_method="qa", permission="team", description="d")
    assert api.list().json["data"] == [as_legacy(record)]


def test_made_there_got_here_with_the_legacy_fields(api, current):
    made = api.create("kb").json["data"]
    record = current.get(made["id"]).json["data"]
    assert (record.pop("size"), record.pop("connectors")) == (0, [])  # a get's alone
    assert (record["name"], record["embedding_model"], record["language"],
            record["parser_config"], record["chunk_method"]) == \
        ("kb", "BAAI/bge-large-zh-v1.5", "English", {"pages": [[1, 1000000]]}, "naive")
    assert api.list().json["data"] == [as_legacy(record)]
    assert current.list().json["data"] == [record]


def test_renamed_here_seen_there(api, current):
    made = api.create("kb").json["data"]
    current.update(made["id"], name="renamed", pagerank=7)
    assert [d["name"] for d in api.list().json["data"]] == ["renamed"]
    assert api.create("kb").json["data"]["dataset_name"] == "kb"  # the old name is free


def test_names_are_unique_across_both(api, current):
    current.made("KB")
    assert api.create("kb").json["data"]["dataset_name"] == "kb(1)"
    assert current.made("Kb")["name"] == "Kb(2)"
    made = current.made("other")
    assert current.update(made["id"], name="KB(1)").json["message"] == \
        "Dataset name 'KB(1)' already exists"


def test_a_name_the_legacy_rules_refuse_lists_as_it_is(api, current):
    current.made("My Dataset!")  # the strict legacy rule refuses both the space and the "!"
    assert [d["name"] for d in api.list().json["data"]] == ["My Dataset!"]
    assert api.create("My Dataset!").status_code == 400


@pytest.mark.parametrize("deleter", ["legacy", "current"])
def test_deleted_from_either(api, current, deleter):
    ids = [api.create("one").json["data"]["id"], current.made("two")["id"]]
    for dataset_id in ids:
        if deleter == "legacy":
            assert api.delete(dataset_id).json["success"] is True
        else:
            assert current.delete(ids=[dataset_id]).json["data"] == {"success_count": 1}
        assert current.get(dataset_id).json["code"] == 102
        assert api.delete(dataset_id).status_code == 404
    assert api.list().json["data"] == current.list().json["data"] == []


def test_orders_agree(api, current):
    for n in range(4):
        (api.create(f"kb{n}") if n % 2 else current.create(f"kb{n}"))
    legacy = [d["id"] for d in api.list(desc="false").json["data"]]
    assert legacy == [d["id"] for d in current.list(desc="false").json["data"]]


def retry(send, body, key="retry-1"):
    return send(body, {"Idempotency-Key": key})


def test_a_retried_create_answers_the_first_answer(current):
    send = lambda body, headers: current.create(headers=headers, **body)  # noqa: E731
    first = retry(send, {"name": "kb", "description": "d"})
    again = retry(send, {"name": "kb", "description": "d"})
    assert first.json["code"] == 0 and again.json == first.json
    assert current.list().json["total_datasets"] == 1
    other = retry(send, {"name": "kb", "description": "e"})
    assert (other.status_code, other.json["code"], other.json["data"]) == (200, 101, None)
    assert other.json["message"] == \
        "Idempotency-Key 'retry-1' was used before with another request body."
    assert retry(send, {"name": "kb"}, key="retry-2").json["data"]["name"] == "kb(1)"


def test_a_retried_legacy_create_answers_the_first_answer(api, current):
    send = lambda body, headers: api.client.post(  # noqa: E731
        "/api/v1/dataset", json=body, headers={**api.headers, **headers})
    first = retry(send, {"name": "kb"})
    assert retry(send, {"dataset_name": "kb"}).json == first.json  # the same parsed body
    assert [d["name"] for d in api.list().json["data"]] == ["kb"]
    other = retry(send, {"name": "kb2"})
    assert (other.status_code, other.json["code"]) == (400, 101)
    # The same key sent to the other API is another request.
    assert current.create("kb", headers={"Idempotency-Key": "retry-1"}).json["code"] == 101


def test_a_retry_answers_the_dataset_as_it_is_now_or_says_it_was_deleted(api, current):
    send = lambda body, headers: current.create(headers=headers, **body)  # noqa: E731
    first = retry(send, {"name": "kb"}).json["data"]
    current.update(first["id"], description="later")
    again = retry(send, {"name": "kb"}).json["data"]
    assert again["id"] == first["id"] and again["description"] == "later"
    current.delete(ids=[first["id"]])
    gone = retry(send, {"name": "kb"}).json
    assert (gone["code"], gone["data"]) == (102, None)
    assert gone["message"] == (f"Idempotency-Key 'retry-1' made dataset '{first['id']}', "
                               f"which has been deleted since.")
    legacy = lambda body, headers: api.client.post(  # noqa: E731
        "/api/v1/dataset", json=body, headers={**api.headers, **headers})
    made = retry(legacy, {"name": "old"}, key="retry-2").json["data"]
    api.delete(made["id"])
    response = retry(legacy, {"name": "old"}, key="retry-2")
    assert (response.status_code, response.json["code"]) == (400, 102)
    assert current.list().json["data"] == []


def test_remembered_keys_are_bounded_per_tenant_and_hold_no_copy(app, current, monkeypatch):
    monkeypatch.setattr(rules, "IDEMPOTENCY_MOST", 5)
    for n in range(12):
        made = current.create("kb", headers={"Idempotency-Key": f"k{n}"},
                              description="x" * 1000).json["data"]
        current.delete(ids=[made["id"]])
    entries = app.extensions["store"].export()["idempotency"]
    assert [entry["key"] for entry in entries] == [f"k{n}" for n in range(7, 12)]
    assert all(set(entry) == {"tenant", "key", "fingerprint", "created", "dataset_id"}
               for entry in entries)
    # The oldest key is forgotten: it makes a new dataset.
    assert current.create("kb", headers={"Idempotency-Key": "k0"},
                          description="x" * 1000).json["code"] == 0


def test_keys_are_per_tenant(current, other):
    theirs = Current(other.client, other.headers["Authorization"].split()[1])
    mine = current.create("kb", headers={"Idempotency-Key": "k"}).json["data"]
    them = theirs.create("kb", headers={"Idempotency-Key": "k"}).json["data"]
    assert mine["id"] != them["id"] and mine["tenant_id"] != them["tenant_id"]


@pytest.mark.parametrize("bad", ["", "k" * 256])
def test_a_key_of_the_wrong_size(api, current, bad):
    message = "Idempotency-Key must have 1 to 255 characters."
    assert current.create("kb", headers={"Idempotency-Key": bad}).json["message"] == message
    response = api.client.post("/api/v1/dataset", json={"name": "kb"},
                               headers={**api.headers, "Idempotency-Key": bad})
    assert (response.status_code, response.json["message"]) == (400, message)


def test_models_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DATASET_API_EMBEDDING_MODELS", "m1@P,m2@inst@Q")
    monkeypatch.setenv("DATASET_API_LLM_ID", "chat@P")
    app = create_app({"TESTING": True, "DB_PATH": str(tmp_path / "db.json")})
    current = Current(app.test_client(), issue_key(app.test_cli_runner()))
    data = current.made("kb")
    assert (data["embedding_model"], data["parser_config"]["llm_id"]) == ("m1@P", "chat@P")
    assert current.made("kb", embedding_model="m2@Q")["embedding_model"] == "m2@Q"
    # The legacy API keeps its own model setting.
    api = Api(app.test_client(), issue_key(app.test_cli_runner()))
    api.create("kb")
    assert api.list().json["data"][0]["embd_id"] == "BAAI/bge-large-zh-v1.5"


@pytest.mark.parametrize("variables, message", [
    ({"EMBEDDING_MODELS": "bge"}, "DATASET_API_EMBEDDING_MODELS must be comma-separated ids"),
    ({"EMBEDDING_MODELS": "a@P,"}, "DATASET_API_EMBEDDING_MODELS must be"),
    ({"EMBEDDING_MODELS": "a@@P"}, "DATASET_API_EMBEDDING_MODELS must be"),
    ({"EMBEDDING_MODEL": "other@P"}, "DATASET_API_EMBEDDING_MODEL must be one of "
                                     "DATASET_API_EMBEDDING_MODELS"),
    ({"LLM_ID": " "}, "DATASET_API_LLM_ID must be a model id or unset"),
    ({"CURRENT_MAX_CONTENT_LENGTH": "0"}, "DATASET_API_CURRENT_MAX_CONTENT_LENGTH must be"),
])
def test_bad_settings_refuse_to_start(tmp_path, monkeypatch, variables, message):
    for name, value in variables.items():
        monkeypatch.setenv(f"DATASET_API_{name}", value)
    with pytest.raises(ValueError, match=message) as raised:
        create_app({"DB_PATH": str(tmp_path / "db.json")})
    assert "\n" not in str(raised.value)


def test_every_record_renders_as_its_schema_dumps_it(config):
    """Answers kept for speed (app.cached) are each the schema's whole dump, with the cache on
    and off."""
    for cache in ("on", "off"):
        app = create_app({**config, "CACHE": cache})
        store = app.extensions["store"]
        tenant = ("d" if cache == "on" else "e") * 32
        for n in range(4):
            store.create_dataset(tenant, {"name": f"kb{n}"}, 1718640005000 + n * 86_400_123)
        store.create_dataset(tenant, {"name": "other", "description": "d", "chunk_method": "qa",
                                      "parser_config": {"raptor": {"use_raptor": True}}}, 7)
        records, _ = store.list_datasets(tenant)
        with app.app_context():
            for api in (current_schemas, legacy_schemas):
                schema = type(api.CurrentDataset() if api is current_schemas
                              else api.dataset_schema)()
                for record in records * 2:
                    assert value(api.rendered(record)) == schema.dump(record)
                assert list(map(value, api.rendered.each(records))) == \
                    [schema.dump(record) for record in records]
                changed = {**records[0], "pagerank": 3}
                assert value(api.rendered(changed)) == schema.dump(changed)


def value(answer):
    """A rendered answer's value, whether it was kept as JSON (app.cached.Made) or not."""
    return orjson.loads(answer.json) if isinstance(answer, Made) else answer
