"""The store's document, chunk and bytes operations, on both engines, through its interface."""

import uuid

import pytest

from app.store import LimitReached, NameTaken, NotFound, rules
from app.store import documents as docs

T0 = 1_700_000_000_000


@pytest.fixture
def store(app):
    return app.extensions["store"]


@pytest.fixture
def tenant():
    return uuid.uuid4().hex


@pytest.fixture
def dataset(store, tenant):
    return store.create_dataset(tenant, {"name": "kb"}, T0)["id"]


def add(store, tenant, dataset, name, data=b"some text", now=T0, **fields):
    location, size = store.save_bytes(tenant, [data[:3], data[3:]])
    assert size == len(data)
    [record] = store.add_documents(tenant, dataset, [
        {"name": name, "location": location, "size": size, "suffix": name.rsplit(".")[-1],
         **fields}], now)
    return record


def read(store, tenant, location):
    """The bytes at `location`, read as a file, which is closed."""
    with store.read_bytes(tenant, location) as stream:
        return stream.read()


def counts(store, tenant, dataset):
    record = store.get_dataset(tenant, dataset)
    return record["document_count"], record["chunk_count"], record["token_num"]


def parsed(store, tenant, dataset, record, chunks=(("one", 1), ("two two", 2))):
    store.queue_parse(tenant, dataset, [record["id"]], T0 + 1)
    claimed = store.claim_parse("c1", T0 + 60_000, T0 + 2)
    assert claimed[1]["id"] == record["id"]
    assert store.finish_parse(tenant, record["id"], "c1", list(chunks), None, T0 + 3)
    return store.get_document(tenant, dataset, record["id"])


def test_bytes_round_trip_names_and_counts(store, tenant, dataset):
    data = bytes(range(256)) * 5000  # more than one piece
    first = add(store, tenant, dataset, "a.txt", data)
    second = add(store, tenant, dataset, "a.txt")
    assert (first["name"], second["name"]) == ("a.txt", "a(1).txt")
    assert add(store, tenant, dataset, "a(1).txt")["name"] == "a(2).txt"  # RAGFlow counts on
    assert add(store, tenant, dataset, "a.txt")["name"] == "a(3).txt"
    assert first["dataset_id"] == dataset and first["run"] == docs.UNSTART
    assert "claim" not in first and first["create_time"] == T0
    assert read(store, tenant, first["location"]) == data
    assert store.read_bytes(uuid.uuid4().hex, first["location"]) is None  # another tenant's
    assert store.get_document(tenant, dataset, first["id"]) == first
    assert counts(store, tenant, dataset) == (4, 0, 0)


def test_documents_of_unknown_or_other_datasets(store, tenant, dataset):
    location, size = store.save_bytes(tenant, [b"x"])
    for who, where in ((tenant, uuid.uuid4().hex), (uuid.uuid4().hex, dataset)):
        with pytest.raises(NotFound):
            store.add_documents(who, where, [{"name": "a", "location": location}], T0)
        assert store.list_documents(who, where, {}) is None
    assert store.get_document(uuid.uuid4().hex, dataset, "x") is None


def test_limits_refuse_the_whole_upload(store, tenant, dataset):
    add(store, tenant, dataset, "a.txt", b"12345")
    batch = [{"name": n, "location": location, "size": size}
             for n in ("b", "c") for location, size in [store.save_bytes(tenant, [b"678"])]]
    with pytest.raises(LimitReached) as err:
        store.add_documents(tenant, dataset, batch, T0, {"documents": 2, "bytes": None})
    assert (err.value.limit, err.value.what) == (2, "documents")
    with pytest.raises(LimitReached) as err:
        store.add_documents(tenant, dataset, batch, T0, {"documents": None, "bytes": 10})
    assert err.value.what == "bytes"
    assert store.add_documents(tenant, dataset, batch, T0, {"documents": 3, "bytes": 11})
    assert counts(store, tenant, dataset) == (3, 0, 0)


def test_list_filters_order_and_pages(store, tenant, dataset):
    made = [add(store, tenant, dataset, name, b"x" * size, now=T0 + i)
            for i, (name, size) in enumerate([("b.txt", 3), ("A.md", 1), ("c.txt", 2)])]
    ids = [r["id"] for r in made]

    def names(query=None, **kw):
        records, total = store.list_documents(tenant, dataset, query or {}, **kw)
        return [r["name"] for r in records], total

    assert names() == (["c.txt", "A.md", "b.txt"], 3)
    assert names(desc=False, offset=1, limit=1) == (["A.md"], 3)
    assert names(orderby="name", desc=False) == (["A.md", "b.txt", "c.txt"], 3)
    assert names(orderby="size") == (["b.txt", "c.txt", "A.md"], 3)
    assert names({"keywords": "a"}) == (["A.md"], 1)
    assert names({"name": "c.txt"}) == (["c.txt"], 1)
    assert names({"suffixes": ["txt"]}) == (["c.txt", "b.txt"], 2)
    assert names({"ids": ids[:2]}) == (["A.md", "b.txt"], 2)
    assert names({"created_from": T0 + 1, "created_to": T0 + 1}) == (["A.md"], 1)
    parsed(store, tenant, dataset, made[0])
    assert names({"runs": [docs.DONE]}) == (["b.txt"], 1)
    assert names({"runs": [docs.UNSTART, docs.FAIL]}) == (["c.txt", "A.md"], 2)


def test_update_renames_and_a_new_method_clears_the_parse(store, tenant, dataset):
    a, b = add(store, tenant, dataset, "a.txt"), add(store, tenant, dataset, "b.txt")
    a = parsed(store, tenant, dataset, a)
    assert (a["run"], a["chunk_count"], a["token_count"]) == (docs.DONE, 2, 3)
    assert counts(store, tenant, dataset) == (2, 2, 3)
    with pytest.raises(NameTaken):
        store.update_document(tenant, dataset, a["id"], rules.Patch({"name": "b.txt"}), T0 + 9)
    renamed = store.update_document(tenant, dataset, a["id"],
                                    rules.Patch({"name": "c.txt", "meta_fields": {"k": 1}}), T0 + 9)
    assert (renamed["name"], renamed["meta_fields"], renamed["run"]) == ("c.txt", {"k": 1},
                                                                         docs.DONE)
    assert renamed["update_time"] == T0 + 9
    merged = store.update_document(tenant, dataset, a["id"], rules.Patch(
        {}, parser_config={"chunk_token_num": 64}), T0 + 9)
    assert merged["parser_config"]["chunk_token_num"] == 64 and merged["chunk_count"] == 2
    reset = store.update_document(tenant, dataset, a["id"], rules.Patch(
        {"chunk_method": "qa"}, method_config={"raptor": {"use_raptor": False}}), T0 + 10)
    assert (reset["run"], reset["chunk_count"], reset["token_count"]) == (docs.UNSTART, 0, 0)
    assert reset["parser_config"] == {"raptor": {"use_raptor": False}}
    assert store.list_chunks(tenant, dataset, a["id"]) == ([], 0)
    assert counts(store, tenant, dataset) == (2, 0, 0)
    assert store.update_document(tenant, dataset, "nope", rules.Patch({"name": "x"}), T0) is None
    assert store.update_document(tenant, dataset, b["id"], rules.Patch({"name": "B.txt"}), T0)


def test_parse_claims_are_exclusive_and_leases_expire(store, tenant, dataset):
    a = add(store, tenant, dataset, "a.txt")
    assert store.claim_parse("c0", T0 + 10, T0) is None  # nothing queued
    store.queue_parse(tenant, dataset, [a["id"]], T0)
    claimed_tenant, claimed = store.claim_parse("c1", T0 + 1000, T0)
    assert claimed_tenant == tenant and claimed["location"] == a["location"]
    assert claimed["parser_config"] == a["parser_config"]
    assert store.claim_parse("c2", T0 + 2000, T0 + 999) is None  # held
    assert store.renew_parse(tenant, a["id"], "c1", T0 + 1000) is True
    assert store.renew_parse(tenant, a["id"], "c9", T0 + 9000) is False  # not its claim
    assert store.claim_parse("c2", T0 + 3000, T0 + 1000)[1]["id"] == a["id"]  # expired
    assert not store.finish_parse(tenant, a["id"], "c1", [("late", 1)], None, T0 + 1001)
    assert store.get_document(tenant, dataset, a["id"])["run"] == docs.RUNNING
    assert store.claim_parse("c3", T0 + 5000, T0 + 3000)[1]["id"] == a["id"]  # third try
    assert store.claim_parse("c4", T0 + 9000, T0 + 5000) is None  # given up instead
    failed = store.get_document(tenant, dataset, a["id"])
    assert failed["run"] == docs.FAIL and "3 times" in failed["progress_msg"]
    assert not store.finish_parse(tenant, a["id"], "c3", [("late", 1)], None, T0 + 5001)
    assert counts(store, tenant, dataset) == (1, 0, 0)


def test_a_parse_ends_done_or_fail_and_cancel_keeps_nothing(store, tenant, dataset):
    a, b, c = (add(store, tenant, dataset, n) for n in ("a.txt", "b.txt", "c.txt"))
    store.queue_parse(tenant, dataset, [a["id"], b["id"], c["id"]], T0)
    order = [store.claim_parse(f"c{i}", T0 + 60_000, T0 + 1)[1]["id"] for i in range(3)]
    assert order == [a["id"], b["id"], c["id"]]  # the longest waiting first
    assert store.finish_parse(tenant, b["id"], "c1", None, "cannot read it", T0 + 2)
    failed = store.get_document(tenant, dataset, b["id"])
    assert failed["run"] == docs.FAIL and "cannot read it" in failed["progress_msg"]
    [cancelled] = store.cancel_parse(tenant, dataset, [c["id"]], T0 + 3)
    assert cancelled["run"] == docs.CANCEL
    assert store.renew_parse(tenant, c["id"], "c2", T0 + 9000) is False  # stopped
    assert not store.finish_parse(tenant, c["id"], "c2", [("x", 1)], None, T0 + 4)
    assert store.list_chunks(tenant, dataset, c["id"]) == ([], 0)
    assert store.finish_parse(tenant, a["id"], "c0", [("x", 1)], None, T0 + 4)
    assert counts(store, tenant, dataset) == (3, 1, 1)
    with pytest.raises(NotFound):
        store.queue_parse(tenant, dataset, [a["id"], "nope"], T0 + 5)
    assert store.get_document(tenant, dataset, a["id"])["run"] == docs.DONE  # unchanged
    store.queue_parse(tenant, dataset, [a["id"]], T0 + 5)  # a parse again drops the chunks
    assert store.list_chunks(tenant, dataset, a["id"]) == ([], 0)
    assert counts(store, tenant, dataset) == (3, 0, 0)


def test_chunks_list_delete_and_availability(store, tenant, dataset):
    a = parsed(store, tenant, dataset, add(store, tenant, dataset, "a.txt"),
               [("alpha", 1), ("Beta gamma", 2), ("delta", 3)])
    chunks, total = store.list_chunks(tenant, dataset, a["id"])
    assert total == 3 and [c["content"] for c in chunks] == ["alpha", "Beta gamma", "delta"]
    assert all(c["available"] and c["document_id"] == a["id"] for c in chunks)
    assert store.list_chunks(tenant, dataset, a["id"], keywords="beta")[1] == 1
    assert store.list_chunks(tenant, dataset, a["id"], offset=1, limit=1)[0] == chunks[1:2]
    assert store.list_chunks(tenant, dataset, a["id"], chunk_id=chunks[2]["id"])[0] == chunks[2:]
    assert store.list_chunks(tenant, dataset, "nope") is None
    ids = [c["id"] for c in chunks]
    with pytest.raises(NotFound) as err:
        store.set_chunks_available(tenant, dataset, a["id"], [ids[0], "nope"], False)
    assert err.value.ids == ["nope"]
    store.set_chunks_available(tenant, dataset, a["id"], [ids[0]], False)
    assert not store.list_chunks(tenant, dataset, a["id"])[0][0]["available"]
    with pytest.raises(NotFound):
        store.delete_chunks(tenant, dataset, a["id"], [ids[1], "nope"])
    assert store.delete_chunks(tenant, dataset, a["id"], [ids[1]]) == 1
    document = store.get_document(tenant, dataset, a["id"])
    assert (document["chunk_count"], document["token_count"]) == (2, 4)
    assert counts(store, tenant, dataset) == (1, 2, 4)
    assert store.delete_chunks(tenant, dataset, a["id"]) == 2
    assert counts(store, tenant, dataset) == (1, 0, 0)


def test_deletes_take_chunks_and_bytes_and_collect_takes_orphans(store, tenant, dataset):
    a, b = add(store, tenant, dataset, "a.txt"), add(store, tenant, dataset, "b.txt")
    parsed(store, tenant, dataset, a)
    with pytest.raises(NotFound):
        store.delete_documents(tenant, dataset, [a["id"], "nope"])
    assert [r["id"] for r in store.delete_documents(tenant, dataset, [a["id"]])] == [a["id"]]
    assert store.read_bytes(tenant, a["location"]) is None
    assert store.list_chunks(tenant, dataset, a["id"]) is None
    assert counts(store, tenant, dataset) == (1, 0, 0)
    orphan, _ = store.save_bytes(tenant, [b"left behind"])
    assert store.collect(grace=60_000) == 0  # too young: an upload may be naming it now
    assert store.collect(grace=0) == 1
    assert store.read_bytes(tenant, orphan) is None
    assert read(store, tenant, b["location"]) == b"some text"
    store.delete_datasets(tenant, [dataset])
    assert store.read_bytes(tenant, b["location"]) is None
    assert store.collect(grace=0) == 0


def test_export_and_import_carry_documents_chunks_and_bytes(app, store, tenant, dataset,
                                                            tmp_path):
    a = parsed(store, tenant, dataset, add(store, tenant, dataset, "a.txt", b"\x00\xffbytes"))
    add(store, tenant, dataset, "b.txt")
    data = store.export()
    assert [d["name"] for d in data["documents"]] == ["a.txt", "b.txt"]
    from app import create_app
    again = create_app({"TESTING": True, "DB_PATH": str(tmp_path / "again.json")})
    copy = again.extensions["store"]
    copy.import_(data)
    assert copy.get_document(tenant, dataset, a["id"]) == a
    assert read(copy, tenant, a["location"]) == b"\x00\xffbytes"
    assert copy.list_chunks(tenant, dataset, a["id"]) == store.list_chunks(tenant, dataset,
                                                                           a["id"])
    assert counts(copy, tenant, dataset) == (2, 2, 3)
