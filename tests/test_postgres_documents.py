"""PostgreSQL's documents under load from two servers at once, and its bytes in pieces."""

import hashlib
import time
import tracemalloc

import psycopg
import pytest

from app import create_app
from app.store import LimitReached, StoreError
from app.store import documents as docs
from tests.conftest import racing

TENANT = "ab" * 16
MB = 1 << 20


def add(store, dataset, name, data=b"text"):
    location, size = store.save_bytes(TENANT, [data])
    return store.add_documents(TENANT, dataset, [{"name": name, "location": location,
                                                  "size": size}], 0)[0]


def sums(store, dataset):
    """The dataset's counts, and the same summed from its documents and chunks."""
    record = store.get_dataset(TENANT, dataset)
    records, total = store.list_documents(TENANT, dataset, {})
    chunks = sum(store.list_chunks(TENANT, dataset, r["id"])[1] for r in records)
    return ((record["document_count"], record["chunk_count"], record["token_num"]),
            (total, sum(r["chunk_count"] for r in records),
             sum(r["token_count"] for r in records)), chunks)


def test_racing_uploads_parses_and_deletes_keep_names_and_counts_exact(postgres_config):
    """Threads of two servers upload one name, parse, and delete a third: names unique and
    counts exact after."""
    store = create_app(postgres_config).extensions["store"]
    dataset = store.create_dataset(TENANT, {"name": "kb"}, 0)["id"]

    def work(store, n):
        record = add(store, dataset, "a.txt", b"x" * n)
        store.queue_parse(TENANT, dataset, [record["id"]], n)
        claimed = store.claim_parse(f"c{n}", 10**13, n)
        if claimed is not None:  # another's, maybe
            store.finish_parse(TENANT, claimed[1]["id"], f"c{n}",
                               [("chunk", k) for k in range(n % 4)], None, n)
        if n % 3 == 0:
            store.delete_documents(TENANT, dataset, [record["id"]])
        return record["name"]

    results, store = racing(postgres_config, work, 60)
    assert not [r for r in results if isinstance(r, Exception)], results
    names = [r["name"] for r in store.list_documents(TENANT, dataset, {})[0]]
    assert len(set(names)) == len(names) == 40 and "a.txt" in names
    (counted, summed, chunks) = sums(store, dataset)
    assert counted == summed and counted[0] == 40 and chunks == counted[1] > 0
    assert store.check()["datasets"] == 1  # which counts them all again


def test_two_servers_never_claim_one_document(postgres_config):
    store = create_app(postgres_config).extensions["store"]
    dataset = store.create_dataset(TENANT, {"name": "kb"}, 0)["id"]
    ids = [add(store, dataset, f"{n}.txt")["id"] for n in range(40)]
    store.queue_parse(TENANT, dataset, ids, 1)

    def work(store, n):
        taken = []
        while (claimed := store.claim_parse(f"c{n}", 10**13, 2)) is not None:
            taken.append(claimed[1]["id"])
        return taken

    results, store = racing(postgres_config, work, 8)
    claimed = [i for taken in results for i in taken]
    assert sorted(claimed) == sorted(ids)


def test_racing_uploads_near_the_limit_make_exactly_the_limit(postgres_config):
    """The limit is the tenant's: uploads into two of its datasets count together."""
    store = create_app(postgres_config).extensions["store"]
    datasets = [store.create_dataset(TENANT, {"name": f"kb{n}"}, 0)["id"] for n in range(2)]

    def work(store, n):
        location, size = store.save_bytes(TENANT, [b"abc"])
        return store.add_documents(TENANT, datasets[n % 2], [
            {"name": "a", "location": location, "size": size}], n,
            {"documents": 25, "bytes": None})

    results, store = racing(postgres_config, work, 40)
    assert sum(isinstance(r, list) for r in results) == 25
    assert all(isinstance(r, (list, LimitReached)) for r in results), results
    assert sum(store.get_dataset(TENANT, d)["document_count"] for d in datasets) == 25


def test_bytes_go_in_and_out_a_piece_at_a_time(postgres_config):
    """24 MiB in and out with a few MiB of memory, the same bytes; a statement per piece."""
    store = create_app({**postgres_config, "LOCK_TIMEOUT": 0.5}).extensions["store"]
    chunk = bytes(range(256)) * 256  # 64 KiB
    tracemalloc.start()
    try:
        location, size = store.save_bytes(TENANT, (chunk for _ in range(24 * 16)))
        written = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        with store.read_bytes(TENANT, location) as stream:
            while piece := stream.read(docs.PIECE):
                digest.update(piece)
        read = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size == 24 * MB and written < 4 * MB and read < 4 * MB
    assert digest.hexdigest() == hashlib.sha256(chunk * 24 * 16).hexdigest()


def test_an_upload_cut_short_leaves_nothing(postgres_config):
    store = create_app(postgres_config).extensions["store"]

    def cut():
        yield b"x" * (3 * MB)
        raise OSError("the client went")

    try:
        store.save_bytes(TENANT, cut())
    except OSError:
        pass
    assert store.collect(grace=0) == 0


def test_collect_spares_a_file_still_coming_in(postgres_config):
    """A file is as old as its last piece: its first pieces, older than the grace, stay."""
    store = create_app(postgres_config).extensions["store"]
    collected = []

    def slow():
        yield b"x" * docs.PIECE
        time.sleep(0.5)
        yield b"y" * docs.PIECE
        yield b"z"  # the second piece is written when this comes
        collected.append(store.collect(grace=300))

    location, size = store.save_bytes(TENANT, slow())
    assert collected == [0] and size == 2 * docs.PIECE + 1
    with store.read_bytes(TENANT, location) as stream:
        assert stream.read() == b"x" * docs.PIECE + b"y" * docs.PIECE + b"z"
    assert store.collect(grace=0) == 1  # named by no document


def test_a_parse_of_a_deleted_dataset_ends_quietly(postgres_config):
    store = create_app(postgres_config).extensions["store"]
    dataset = store.create_dataset(TENANT, {"name": "kb"}, 0)["id"]
    record = add(store, dataset, "a.txt")
    store.queue_parse(TENANT, dataset, [record["id"]], 1)
    assert store.claim_parse("c1", 10**13, 2)[1]["id"] == record["id"]
    store.delete_datasets(TENANT, [dataset])
    assert not store.finish_parse(TENANT, record["id"], "c1", [("x", 1)], None, 3)
    assert store.read_bytes(TENANT, record["location"]) is None
    assert store.collect(grace=0) == 0


def test_check_finds_counts_that_do_not_add_up(postgres_config):
    store = create_app(postgres_config).extensions["store"]
    dataset = store.create_dataset(TENANT, {"name": "kb"}, 0)["id"]
    record = add(store, dataset, "a.txt")
    store.queue_parse(TENANT, dataset, [record["id"]], 1)
    store.claim_parse("c1", 10**13, 2)
    store.finish_parse(TENANT, record["id"], "c1", [("a", 1), ("b", 2)], None, 3)
    assert store.check()["datasets"] == 1
    for wrong, right in (("UPDATE datasets SET fields = fields || '{\"token_num\": 4}'",
                          "UPDATE datasets SET fields = fields || '{\"token_num\": 3}'"),
                         ("DELETE FROM chunks WHERE position = 1", None)):
        with psycopg.connect(postgres_config["DATABASE_URL"], autocommit=True) as conn:
            conn.execute(wrong)
            with pytest.raises(StoreError, match="counts of documents, chunks or tokens"):
                store.check()
            if right:
                conn.execute(right)
                assert store.check()["datasets"] == 1
