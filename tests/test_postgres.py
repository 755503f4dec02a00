"""The PostgreSQL engine through the interface: races, bounded waits, broken connections."""

import json
import time

import psycopg
import pytest
from psycopg.types.json import Jsonb

from app import create_app
from app.store import LimitReached, NameTaken, NotFound, ReplayGone, StoreBusy, rules
from app.store.postgres import connections
from app.store.postgres.schema import MIGRATIONS
from tests.conftest import Api, issue_key, racing
from harness import pgserver
from harness.pgserver import free_port

TENANT = "ab" * 16


def test_racing_creates_of_one_name_from_threads_of_two_apps(postgres_config):
    """Threads of two apps (two servers) creating `x` at once: x, x(1)... x(39) once each."""
    results, store = racing(postgres_config, lambda store, n: store.create_dataset(
        TENANT, {"name": "x"}, n)["name"], 40)
    assert sorted(results) == sorted(["x"] + [f"x({n})" for n in range(1, 40)])
    assert store.list_datasets(TENANT)[1] == 40


def test_racing_creates_near_the_limit_make_exactly_the_limit(postgres_config):
    """40 made, the other 30 refused, the count right, whatever their order."""
    config = {**postgres_config, "TENANT_DATASET_LIMIT": 40}
    results, store = racing(config, lambda store, n: store.create_dataset(
        TENANT, {"name": f"kb{n}"}, n), 70)
    assert sum(isinstance(r, dict) for r in results) == 40
    assert all(isinstance(r, (dict, LimitReached)) for r in results), results
    assert store.list_datasets(TENANT)[1] == 40 and store.check()["datasets"] == 40


def test_racing_creates_with_one_idempotency_key_make_one_dataset(postgres_config):
    """Of a tenant that has datasets already (a new tenant's first creates wait for the one
    that makes its rows)."""
    create_app(postgres_config).extensions["store"].create_dataset(TENANT, {"name": "a"}, 0)
    results, store = racing(postgres_config, lambda store, n: store.create_dataset(
        TENANT, {"name": "kb"}, 1, idempotency=("k1", "f")), 40)
    assert all(r == results[0] for r in results) and results[0]["name"] == "kb", results
    assert store.list_datasets(TENANT)[1] == 2


def test_renames_and_deletes_amid_creates_keep_names_and_counts(postgres_config):
    """Names stay unique and the count right while creates run beside them."""
    store = create_app(postgres_config).extensions["store"]
    made = [store.create_dataset(TENANT, {"name": f"old{n}"}, n)["id"] for n in range(10)]

    def work(store, n):
        if n % 3 == 1:
            try:
                return store.update_dataset(TENANT, made[n // 3],
                                            rules.Patch({"name": f"x({n})"}), n)
            except NameTaken:  # a create took it first
                return None
        if n % 3 == 2:
            return store.delete_datasets(TENANT, [made[n // 3]])
        return store.create_dataset(TENANT, {"name": "x"}, n)

    results, store = racing(postgres_config, work, 30)
    assert not [r for r in results if isinstance(r, Exception)], results
    names = [r["name"] for r in store.list_datasets(TENANT)[0]]
    assert len(names) == len(set(names)) == store.check()["datasets"] == 10
    assert store.list_tenants()[0]["datasets"] == 10


def test_a_server_that_cannot_be_reached_answers_busy_quickly(tmp_path):
    """Nothing listens on the port: 503s in the JSON envelope, each in a few seconds."""
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    app = create_app({"TESTING": True, "DB_PATH": str(tmp_path / "unused.json"),
                      "DATABASE_URL": url})
    for path in ("/healthz", "/api/v1/dataset"):
        started = time.monotonic()
        response = app.test_client().get(path, headers={"Authorization": "Bearer k"})
        assert time.monotonic() - started < 8
        assert response.status_code == 503 and response.is_json
    assert response.json["code"] == 100 and response.headers["Retry-After"] == "1"
    app.extensions["store"].note_use({"id": "k", "last_used": None}, 10**13)  # skipped


@pytest.mark.parametrize("form, shown", [
    ("postgresql://nobody:{secret}@127.0.0.1:{port}/none",
     "postgresql://nobody@127.0.0.1:{port}/none"),
    ("postgresql://nobody@127.0.0.1:{port}/none?password={secret}&sslmode=disable",
     "postgresql://nobody@127.0.0.1:{port}/none?sslmode=disable"),
    ("host=127.0.0.1 port={port} user=nobody password={secret} dbname=none",
     "user=nobody dbname=none host=127.0.0.1 port={port}"),
])
def test_the_password_is_never_shown(form, shown, tmp_path, caplog):
    """The log says which server is down, as the setting names it, never with its password."""
    port = free_port()
    app = create_app({"TESTING": True, "DB_PATH": str(tmp_path / "unused.json"),
                      "DATABASE_URL": form.format(secret="pw-s3cret", port=port)})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and shown.format(port=port) + ": " in caplog.text
    assert "pw-s3cret" not in response.get_data(as_text=True) + caplog.text


def test_connections_broken_by_a_restart_are_replaced(postgres_config):
    """Backends ended under the pool (as a PostgreSQL restart does): the next calls work,
    the first of them a write once the key is known."""
    app = create_app(postgres_config)
    store, key = app.extensions["store"], issue_key(app.test_cli_runner())
    for _ in range(3):
        end_connections(postgres_config["DATABASE_URL"])
        response = app.test_client().post(
            "/api/v1/dataset", json={"name": "kb"}, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.json
    assert len(store.list_datasets(store.list_keys()[0]["tenant"])[0]) == 3


def end_connections(url):
    """End the store's connections to the database of `url`, as a restart does, and wait
    until they are gone; again for any that a pool opened meanwhile, to replace one it
    found ended before."""
    with psycopg.connect(url, autocommit=True) as admin:
        others = ("FROM pg_stat_activity WHERE datname = current_database()"
                  " AND pid <> pg_backend_pid()")
        assert admin.execute(f"SELECT count(*) {others}").fetchone()[0]
        deadline = time.monotonic() + 20
        while admin.execute(f"SELECT count(pg_terminate_backend(pid)) {others}").fetchone()[0]:
            assert time.monotonic() < deadline, "connections keep coming back"
            time.sleep(0.05)


def test_a_write_is_not_sent_on_a_connection_its_server_ended(postgres_config):
    """The pool hands out no connection that its server has ended: a write goes through."""
    store = create_app(postgres_config).extensions["store"]
    store.create_dataset(TENANT, {"name": "a"}, 1)
    end_connections(postgres_config["DATABASE_URL"])
    assert store.create_dataset(TENANT, {"name": "b"}, 2)["name"] == "b"


def test_a_read_on_a_cut_connection_is_repeated_a_write_is_not(postgres_config, monkeypatch):
    """A connection cut after the pool checked it: a read runs again on a new connection;
    a write fails busy, since it might have been done."""
    monkeypatch.setattr(connections, "cut", lambda conn: False)
    store = create_app(postgres_config).extensions["store"]
    store.create_dataset(TENANT, {"name": "a"}, 1)
    end_connections(postgres_config["DATABASE_URL"])
    assert store.list_datasets(TENANT)[1] == 1
    end_connections(postgres_config["DATABASE_URL"])
    with pytest.raises(StoreBusy):
        store.create_dataset(TENANT, {"name": "b"}, 2)
    assert [r["name"] for r in store.list_datasets(TENANT)[0]] == ["a"]


def test_a_write_kept_waiting_by_a_lock_answers_busy_in_time(postgres_config):
    """A tenant's rows held by another session: the write waits LOCK_TIMEOUT, then is busy."""
    store = create_app(postgres_config).extensions["store"]
    store.create_dataset(TENANT, {"name": "a"}, 1)
    with psycopg.connect(postgres_config["DATABASE_URL"]) as holder:
        holder.execute("SELECT FROM tenants WHERE id = %s FOR UPDATE", (TENANT,))
        started = time.monotonic()
        with pytest.raises(StoreBusy):
            store.create_dataset(TENANT, {"name": "b"}, 2)
        assert time.monotonic() - started < 4
        assert store.list_datasets(TENANT)[1] == 1  # reads are not kept waiting
    assert store.create_dataset(TENANT, {"name": "b"}, 3)["name"] == "b"


def test_idempotency_keys_replay_the_dataset_as_it_is_now_for_a_day(postgres_config):
    """A replay answers the dataset as it is now, ReplayGone once it is deleted; a key past
    rules.IDEMPOTENCY_TTL makes a new dataset, and the old entries are pruned."""
    store = create_app(postgres_config).extensions["store"]
    first = store.create_dataset(TENANT, {"name": "a"}, 1, idempotency=("k1", "f"))
    store.create_dataset(TENANT, {"name": "b"}, 2, idempotency=("k2", "f"))
    changed = store.update_dataset(TENANT, first["id"], rules.Patch({"description": "d"}), 3)
    assert store.create_dataset(TENANT, {"name": "a"}, 4, idempotency=("k1", "f")) == changed
    store.delete_datasets(TENANT, [first["id"]])
    with pytest.raises(ReplayGone) as gone:
        store.create_dataset(TENANT, {"name": "a"}, 5, idempotency=("k1", "f"))
    assert gone.value.dataset_id == first["id"] and store.list_datasets(TENANT)[1] == 1
    later = 3 + rules.IDEMPOTENCY_TTL
    again = store.create_dataset(TENANT, {"name": "b"}, later, idempotency=("k2", "f"))
    assert again["name"] == "b(1)"
    assert store.export()["idempotency"] == [{"tenant": TENANT, "key": "k2", "fingerprint": "f",
                                              "created": later, "dataset_id": again["id"]}]


def test_a_tenant_keeps_its_newest_idempotency_keys_only(postgres_config, monkeypatch):
    """Past rules.IDEMPOTENCY_MOST, a create's entry drops the tenant's oldest; other
    tenants' entries stay."""
    monkeypatch.setattr(rules, "IDEMPOTENCY_MOST", 3)
    store = create_app(postgres_config).extensions["store"]
    store.create_dataset("cd" * 16, {"name": "theirs"}, 0, idempotency=("k0", "f"))
    made = [store.create_dataset(TENANT, {"name": f"kb{n}"}, n, idempotency=(f"k{n}", "f"))
            for n in range(5)]
    assert [(e["tenant"], e["key"]) for e in store.export()["idempotency"]] == [
        ("cd" * 16, "k0"), (TENANT, "k2"), (TENANT, "k3"), (TENANT, "k4")]
    assert store.create_dataset(TENANT, {"name": "kb4"}, 9, idempotency=("k4", "f")) == made[4]
    assert store.create_dataset(TENANT, {"name": "kb0"}, 9,
                                idempotency=("k0", "f"))["name"] == "kb0(1)"
    assert len(store.export()["idempotency"]) == 4


def test_numbers_in_fields_come_back_as_they_went_in(postgres_config):
    """jsonb is read by a faster parser where it gives the same values: integers past 64
    bits stay integers, exactly, and floats stay floats."""
    numbers = {"big": 2**70 + 1, "low": -2**63 - 1, "top": 2**64 - 1, "tenth": 0.1,
               "tiny": 5e-324, "one": 1.0, "text": "1" * 30, "pages": [[1, 1000000]]}
    store = create_app(postgres_config).extensions["store"]
    # Each alone too: one value read by json (5e-324 comes back as 0.000...) reads the rest.
    for n, config in enumerate([numbers, *({k: v} for k, v in numbers.items())]):
        made = store.create_dataset(TENANT, {"name": f"a{n}", "parser_config": config}, n)
        listed = store.list_datasets(TENANT, dataset_id=made["id"])[0][0]
        for got in (made, store.get_dataset(TENANT, made["id"]), listed):
            assert json.dumps(got["parser_config"], sort_keys=True) == json.dumps(
                config, sort_keys=True)


def test_names_of_any_script_whatever_the_client_encoding(postgres_config, monkeypatch):
    monkeypatch.setenv("PGCLIENTENCODING", "LATIN1")  # a client default that cannot say 漢字
    store = create_app(postgres_config).extensions["store"]
    for name in ("😀", "漢字", "Straße"):
        made = store.create_dataset(TENANT, {"name": name, "description": name}, 1)
        assert made["name"] == made["description"] == name
    records, _ = store.list_datasets(TENANT, orderby="name", desc=False)
    assert [r["name"] for r in records] == ["Straße", "漢字", "😀"]  # code-point order


def test_a_database_not_in_utf8_is_refused_saying_how_to_make_one(postgres_server, tmp_path):
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS latin1 WITH (FORCE)")
        conn.execute("CREATE DATABASE latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'"
                     " TEMPLATE template0")
    url = psycopg.conninfo.make_conninfo(postgres_server, dbname="latin1")
    app = create_app({"TESTING": True, "DB_PATH": str(tmp_path / "unused.json"),
                      "DATABASE_URL": url})
    result = app.test_cli_runner().invoke(args=["store", "init"])
    assert result.exit_code == 1
    assert "LATIN1, not UTF8" in result.output and "--encoding=UTF8" in result.output


def test_the_urls_own_server_options_are_kept(postgres_config):
    """A search_path in the URL's options puts the tables in that schema."""
    url = postgres_config["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS own CASCADE")
        conn.execute("CREATE SCHEMA own")
    try:
        config = {**postgres_config, "DATABASE_URL": psycopg.conninfo.make_conninfo(
            url, options="-c search_path=own")}
        store = create_app(config).extensions["store"]
        store.create_dataset(TENANT, {"name": "kb"}, 1)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT name FROM own.datasets").fetchall() == [("kb",)]
        store.close()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA own CASCADE")


def test_moving_a_large_store_is_not_cut_short_by_the_requests_timeout(postgres_config):
    """`store import` and `store export` may take minutes; a request's statements may not."""
    store = create_app({**postgres_config, "LOCK_TIMEOUT": 0.02}).extensions["store"]
    datasets = [{**rules.new_dataset({"name": f"kb{n}"}), "id": f"{n:032x}", "tenant_id": TENANT,
                 "created_by": TENANT, "create_time": n, "update_time": n}
                for n in range(10_000)]
    store.import_({"keys": [], "tenants": [{"id": TENANT, "created": 0}],
                   "datasets": datasets, "idempotency": []})
    assert store.export()["datasets"] == datasets


def test_an_id_or_name_holding_nul_finds_nothing(config):
    """No record can hold a NUL (PostgreSQL text cannot): on every engine such a lookup finds
    nothing, where PostgreSQL would refuse the query."""
    app = create_app(config)
    store, api = app.extensions["store"], Api(app.test_client(), issue_key(app.test_cli_runner()))
    tenant = store.list_keys()[0]["tenant"]
    kept, bad = store.create_dataset(tenant, {"name": "kb"}, 1)["id"], "kb\x00"
    assert api.delete("kb%00").status_code == 404
    assert store.find_key("0" * 63 + "\x00") is None
    assert store.get_dataset(tenant, bad) is None
    assert store.list_datasets(tenant, name=bad) == store.list_datasets(tenant, dataset_id=bad)
    assert store.list_datasets(tenant, name=bad) == ([], 0)
    assert store.update_dataset(tenant, bad, rules.Patch({"description": "d"}), 2) is None
    with pytest.raises(NotFound) as missing:
        store.delete_datasets(tenant, [kept, bad])
    assert missing.value.ids == [bad]
    assert store.list_datasets(tenant)[1] == 1


def test_names_of_1023_characters_of_any_script(config):
    """The longest names the document allows, in scripts of 3 and 4 UTF-8 bytes: kept
    unique, ordered and found like short ones, on every engine (no index entry limit)."""
    store = create_app({**config, "NAME_RULE": "legacy"}).extensions["store"]
    cjk = "".join(chr(0x4E00 + (n * 7919) % 20000) for n in range(1023))
    emoji = "".join(chr(0x1F300 + (n * 31) % 0x150) for n in range(1023))
    for name in (emoji, cjk, cjk, "a"):
        store.create_dataset(TENANT, {"name": name}, 1)
    records, total = store.list_datasets(TENANT, orderby="name", desc=True)
    assert [r["name"] for r in records] == [emoji, f"{cjk}(1)", cjk, "a"] and total == 4
    assert [r["name"] for r in store.list_datasets(TENANT, name=cjk)[0]] == [cjk]
    assert store.list_datasets(TENANT, orderby="name", desc=False, limit=2)[0] == records[:-3:-1]


def test_a_database_of_the_first_schema_is_upgraded_with_its_datasets(postgres_config):
    with psycopg.connect(postgres_config["DATABASE_URL"]) as conn:
        pgserver.drop_store(conn)
        conn.execute(MIGRATIONS[0])
        conn.execute("CREATE TABLE schema_version AS SELECT 1 AS version")
        conn.execute("INSERT INTO tenants (id, created) VALUES (%s, 0)", (TENANT,))
        for n, name in enumerate(["kb", "kb(1)"]):
            conn.execute("INSERT INTO datasets (tenant_id, id, name, name_key, fields,"
                         " create_time, update_time) VALUES (%s, %s, %s, %s, '{}', 0, 0)",
                         (TENANT, f"{n:032x}", name, name))
    store = create_app(postgres_config).extensions["store"]
    assert store.create_dataset(TENANT, {"name": "KB"}, 1)["name"] == "KB(2)"
    assert [r["name"] for r in store.list_datasets(TENANT, orderby="name")[0]] == [
        "KB(2)", "kb(1)", "kb"]
    with psycopg.connect(postgres_config["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [
            (len(MIGRATIONS),)]


def test_a_database_of_version_5_is_upgraded_with_its_counts_and_keys(postgres_config):
    """Counts held partly in the tenant's shards become the tenant's row's; an entry's copy
    of its dataset becomes the dataset's id; everything reads and works after."""
    url, other = postgres_config["DATABASE_URL"], "cd" * 16
    with psycopg.connect(url) as conn:
        pgserver.drop_store(conn)
        for migration in MIGRATIONS[:5]:
            conn.execute(migration)
        conn.execute("CREATE TABLE schema_version AS SELECT 5 AS version")
        for tenant in (TENANT, other):
            conn.execute("SELECT make_tenant(%s, 0)", (tenant,))
        for n in range(5):
            conn.execute("INSERT INTO datasets (tenant_id, id, name, name_key, fields,"
                         " create_time, update_time) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                         (TENANT, f"{n:032x}", f"KB({n})" if n else "KB",
                          f"kb({n})" if n else "kb", Jsonb({"big": 2**70}), n, n))
        conn.execute("UPDATE tenants SET datasets = 1 WHERE id = %s", (TENANT,))
        conn.execute("UPDATE tenant_shards SET datasets = 1 WHERE tenant = %s AND shard < 3",
                     (TENANT,))
        conn.execute("UPDATE tenant_shards SET datasets = 1 WHERE tenant = %s AND shard = 9",
                     (TENANT,))
        conn.execute("INSERT INTO idempotency VALUES (%s, 'k1', 'f', 3, %s)",
                     (TENANT, Jsonb({"id": f"{3:032x}", "name": "KB(3)"})))
    store = create_app(postgres_config).extensions["store"]
    assert [(t["id"], t["datasets"]) for t in store.list_tenants()] == [(TENANT, 5), (other, 0)]
    assert store.check()["datasets"] == 5 and store.list_datasets(TENANT)[1] == 5
    assert store.get_dataset(TENANT, f"{0:032x}")["big"] == 2**70
    assert store.export()["idempotency"] == [{"tenant": TENANT, "key": "k1", "fingerprint": "f",
                                              "created": 3, "dataset_id": f"{3:032x}"}]
    replayed = store.create_dataset(TENANT, {"name": "x"}, 4, idempotency=("k1", "f"))
    assert replayed["id"] == f"{3:032x}" and replayed["name"] == "KB(3)"
    assert store.create_dataset(TENANT, {"name": "kb"}, 5)["name"] == "kb(5)"
    assert store.delete_datasets(TENANT, [f"{1:032x}"])[0]["name"] == "KB(1)"
    assert store.create_dataset(TENANT, {"name": "Kb"}, 6)["name"] == "Kb(1)"
    assert store.list_tenants()[0]["datasets"] == 6 == store.check()["datasets"]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('tenant_shards')").fetchone() == (None,)
